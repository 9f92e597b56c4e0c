import Foundation
import PostgresNIO

/// Webhook endpoint and delivery queries for the API; every one filters by agency.
public enum WebhookEndpointRepository {
    public static func find(_ conn: PostgresConnection, agency: UUID, id: UUID, forUpdate: Bool = false) async throws -> WebhookEndpoint? {
        try await conn.run(
            """
            SELECT \(unescaped: WebhookEndpoint.columns) FROM webhook_endpoints WHERE agency_id = \(agency) AND id = \(id)
            \(unescaped: forUpdate ? "FOR UPDATE" : "")
            """
        ).collect().first.map(WebhookEndpoint.init(row:))
    }

    public static func list(_ conn: PostgresConnection, agency: UUID, cursor: PageCursor?, limit: Int) async throws -> [WebhookEndpoint] {
        try await conn.run(
            """
            SELECT \(unescaped: WebhookEndpoint.columns) FROM webhook_endpoints
            WHERE agency_id = \(agency)
              AND \(after: cursor)
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """
        ).collect().map(WebhookEndpoint.init(row:))
    }

    public static func insert(
        _ conn: PostgresConnection,
        agency: UUID,
        url: String,
        events: [String],
        description: String,
        secret: String
    ) async throws -> WebhookEndpoint {
        try await conn.run(
            """
            INSERT INTO webhook_endpoints (agency_id, url, events, description, secret)
            VALUES (\(agency), \(url), \(events), \(description), \(secret))
            RETURNING \(unescaped: WebhookEndpoint.columns)
            """
        ).collect().map(WebhookEndpoint.init(row:))[0]
    }

    public struct Change: Sendable {
        var url: String?, events: [String]?, description: String?, enabled: Bool?
    }

    public static func update(_ conn: PostgresConnection, agency: UUID, id: UUID, _ c: Change) async throws -> WebhookEndpoint? {
        try await conn.run(
            """
            UPDATE webhook_endpoints SET
                url = coalesce(\(c.url), url), events = coalesce(\(c.events)::text[], events),
                description = coalesce(\(c.description), description), enabled = coalesce(\(c.enabled), enabled),
                disabled_reason = CASE WHEN \(c.enabled) THEN NULL ELSE disabled_reason END,
                updated_at = now()
            WHERE agency_id = \(agency) AND id = \(id)
            RETURNING \(unescaped: WebhookEndpoint.columns)
            """
        ).collect().first.map(WebhookEndpoint.init(row:))
    }

    public static func delete(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> Bool {
        try await !conn.run("DELETE FROM webhook_endpoints WHERE agency_id = \(agency) AND id = \(id) RETURNING 1").collect().isEmpty
    }

    /// The new secret signs from now on; the one it replaces keeps signing for `overlap` (SPEC §13: 24 h).
    public static func rotate(
        _ conn: PostgresConnection,
        agency: UUID,
        id: UUID,
        newSecret: String,
        overlapSeconds: Int = 86_400
    ) async throws -> WebhookEndpoint? {
        try await conn.run(
            """
            UPDATE webhook_endpoints SET previous_secret = secret, secret = \(newSecret),
                previous_secret_expires_at = now() + make_interval(secs => \(overlapSeconds)), updated_at = now()
            WHERE agency_id = \(agency) AND id = \(id)
            RETURNING \(unescaped: WebhookEndpoint.columns)
            """
        ).collect().first.map(WebhookEndpoint.init(row:))
    }

    /// Ends the endpoint's queued deliveries (it was disabled): `failed` with `reason`.
    public static func failPending(_ conn: PostgresConnection, agency: UUID, endpoint: UUID, reason: String) async throws {
        try await conn.run(
            """
            UPDATE webhook_deliveries SET status = 'failed', error = \(reason), next_attempt_at = NULL, updated_at = now()
            WHERE agency_id = \(agency) AND endpoint_id = \(endpoint) AND status IN ('pending', 'retrying')
            """
        )
    }

    public static func deliveries(
        _ conn: PostgresConnection,
        agency: UUID,
        endpoint: UUID,
        status: WebhookDelivery.Status?,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> [WebhookDelivery] {
        try await conn.run(
            """
            SELECT \(unescaped: WebhookDelivery.columns)
            FROM webhook_deliveries d JOIN webhook_events e ON e.agency_id = d.agency_id AND e.id = d.event_id
            WHERE d.agency_id = \(agency) AND d.endpoint_id = \(endpoint)
              AND (\(status?.rawValue)::text IS NULL OR d.status = \(status?.rawValue))
              AND \(after: cursor, alias: "d")
            ORDER BY d.created_at DESC, d.id DESC LIMIT \(limit)
            """
        ).collect().map(WebhookDelivery.init(row:))
    }

    public static func delivery(_ conn: PostgresConnection, agency: UUID, endpoint: UUID, event: UUID) async throws -> WebhookDelivery? {
        try await conn.run(
            """
            SELECT \(unescaped: WebhookDelivery.columns)
            FROM webhook_deliveries d JOIN webhook_events e ON e.agency_id = d.agency_id AND e.id = d.event_id
            WHERE d.agency_id = \(agency) AND d.endpoint_id = \(endpoint) AND d.event_id = \(event)
            """
        ).collect().first.map(WebhookDelivery.init(row:))
    }

    /// Disables an enabled endpoint, saying why; returns its URL, or nil when it was not enabled.
    static func disable(_ conn: PostgresConnection, agency: UUID, id: UUID, reason: String) async throws -> String? {
        try await conn.run(
            """
            UPDATE webhook_endpoints SET enabled = false, disabled_reason = \(reason), updated_at = now()
            WHERE agency_id = \(agency) AND id = \(id) AND enabled RETURNING url
            """
        ).collect().first?.decode(String.self)
    }
}
