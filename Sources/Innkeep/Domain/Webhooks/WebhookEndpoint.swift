import Foundation
import PostgresNIO

/// A receiver of an agency's events (SPEC §13). The secret is stored (the worker signs with it) but
/// shown only by create and rotate-secret.
public struct WebhookEndpoint: Sendable {
    public let id: UUID, agencyId: UUID, url: String, description: String, events: [String], enabled: Bool
    public let disabledReason: String?, previousSecretExpiresAt: Date?, createdAt: Date, updatedAt: Date

    static let columns = """
        id, agency_id, url, description, events, enabled, disabled_reason,
        CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END, created_at, updated_at
        """

    init(row: PostgresRow) throws {
        (id, agencyId, url, description, events, enabled, disabledReason, previousSecretExpiresAt, createdAt, updatedAt) = try row.decode(
            (UUID, UUID, String, String, [String], Bool, String?, Date?, Date, Date).self)
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "url": .string(url), "description": .string(description),
            "events": .array(events.map(JSONValue.string)), "enabled": .bool(enabled), "disabled_reason": JSONValue(disabledReason),
            "previous_secret_expires_at": JSONValue(previousSecretExpiresAt),
            "created_at": JSONValue(createdAt), "updated_at": JSONValue(updatedAt),
        ]
    }

    /// The object with its secret: the answer of create and rotate-secret only.
    func json(secret: String) -> JSONValue {
        guard case .object(var fields) = json else { return json }
        fields["secret"] = .string(secret)
        return .object(fields)
    }
}

/// One attempt log row of `GET /api/v1/webhook-endpoints/{id}/deliveries`.
public struct WebhookDelivery: Sendable {
    public enum Status: String, CaseIterable, Sendable { case pending, succeeded, retrying, failed }

    public let id: UUID, eventId: UUID, eventType: String, attempt: Int, status: String, responseStatus: Int?
    public let error: String?, durationMs: Int?, nextAttemptAt: Date?, createdAt: Date

    static let columns = """
        d.id, d.event_id, e.type, d.attempt, d.status, d.response_status, d.error, d.duration_ms, d.next_attempt_at, d.created_at
        """

    init(row: PostgresRow) throws {
        (id, eventId, eventType, attempt, status, responseStatus, error, durationMs, nextAttemptAt, createdAt) = try row.decode(
            (UUID, UUID, String, Int, String, Int?, String?, Int?, Date?, Date).self)
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "event_id": JSONValue(eventId), "event_type": .string(eventType), "attempt": .int(Int64(attempt)),
            "status": .string(status), "response_status": JSONValue(responseStatus), "error": JSONValue(error),
            "duration_ms": JSONValue(durationMs), "next_attempt_at": JSONValue(nextAttemptAt), "created_at": JSONValue(createdAt),
        ]
    }
}

/// Webhook endpoint and delivery queries for the API; every one filters by agency.
public enum WebhookEndpointRepository {
    public static func find(_ conn: PostgresConnection, agency: UUID, id: UUID, forUpdate: Bool = false) async throws -> WebhookEndpoint? {
        try await conn.run("""
            SELECT \(unescaped: WebhookEndpoint.columns) FROM webhook_endpoints WHERE agency_id = \(agency) AND id = \(id)
            \(unescaped: forUpdate ? "FOR UPDATE" : "")
            """).collect().first.map(WebhookEndpoint.init(row:))
    }

    public static func list(_ conn: PostgresConnection, agency: UUID, cursor: PageCursor?, limit: Int) async throws -> [WebhookEndpoint] {
        try await conn.run("""
            SELECT \(unescaped: WebhookEndpoint.columns) FROM webhook_endpoints
            WHERE agency_id = \(agency)
              AND (\(cursor?.micros)::int8 IS NULL OR (created_at,
                  id) < (timestamptz 'epoch' + \(cursor?.micros)::int8 * interval '1 microsecond', \(cursor?.id)))
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """).collect().map(WebhookEndpoint.init(row:))
    }

    public static func insert(_ conn: PostgresConnection, agency: UUID, url: String, events: [String], description: String,
                              secret: String) async throws -> WebhookEndpoint {
        try await conn.run("""
            INSERT INTO webhook_endpoints (agency_id, url, events, description, secret)
            VALUES (\(agency), \(url), \(events), \(description), \(secret))
            RETURNING \(unescaped: WebhookEndpoint.columns)
            """).collect().map(WebhookEndpoint.init(row:))[0]
    }

    public struct Change: Sendable {
        var url: String?, events: [String]?, description: String?, enabled: Bool?
    }

    public static func update(_ conn: PostgresConnection, agency: UUID, id: UUID, _ c: Change) async throws -> WebhookEndpoint? {
        try await conn.run("""
            UPDATE webhook_endpoints SET
                url = coalesce(\(c.url), url), events = coalesce(\(c.events)::text[], events),
                description = coalesce(\(c.description), description), enabled = coalesce(\(c.enabled), enabled),
                disabled_reason = CASE WHEN \(c.enabled) THEN NULL ELSE disabled_reason END,
                updated_at = now()
            WHERE agency_id = \(agency) AND id = \(id)
            RETURNING \(unescaped: WebhookEndpoint.columns)
            """).collect().first.map(WebhookEndpoint.init(row:))
    }

    public static func delete(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> Bool {
        try await !conn.run("DELETE FROM webhook_endpoints WHERE agency_id = \(agency) AND id = \(id) RETURNING 1").collect().isEmpty
    }

    /// The new secret signs from now on; the one it replaces keeps signing for `overlap` (SPEC §13: 24 h).
    public static func rotate(_ conn: PostgresConnection, agency: UUID, id: UUID, newSecret: String,
                              overlapSeconds: Int = 86_400) async throws -> WebhookEndpoint? {
        try await conn.run("""
            UPDATE webhook_endpoints SET previous_secret = secret, secret = \(newSecret),
                previous_secret_expires_at = now() + make_interval(secs => \(overlapSeconds)), updated_at = now()
            WHERE agency_id = \(agency) AND id = \(id)
            RETURNING \(unescaped: WebhookEndpoint.columns)
            """).collect().first.map(WebhookEndpoint.init(row:))
    }

    /// Ends the endpoint's queued deliveries (it was disabled): `failed` with `reason`.
    public static func failPending(_ conn: PostgresConnection, agency: UUID, endpoint: UUID, reason: String) async throws {
        try await conn.run("""
            UPDATE webhook_deliveries SET status = 'failed', error = \(reason), next_attempt_at = NULL, updated_at = now()
            WHERE agency_id = \(agency) AND endpoint_id = \(endpoint) AND status IN ('pending', 'retrying')
            """)
    }

    public static func deliveries(_ conn: PostgresConnection, agency: UUID, endpoint: UUID, status: WebhookDelivery.Status?,
                                  cursor: PageCursor?, limit: Int) async throws -> [WebhookDelivery] {
        try await conn.run("""
            SELECT \(unescaped: WebhookDelivery.columns)
            FROM webhook_deliveries d JOIN webhook_events e ON e.agency_id = d.agency_id AND e.id = d.event_id
            WHERE d.agency_id = \(agency) AND d.endpoint_id = \(endpoint)
              AND (\(status?.rawValue)::text IS NULL OR d.status = \(status?.rawValue))
              AND (\(cursor?.micros)::int8 IS NULL
                   OR (d.created_at, d.id) < (timestamptz 'epoch' + \(cursor?.micros)::int8 * interval '1 microsecond', \(cursor?.id)))
            ORDER BY d.created_at DESC, d.id DESC LIMIT \(limit)
            """).collect().map(WebhookDelivery.init(row:))
    }

    public static func delivery(_ conn: PostgresConnection, agency: UUID, endpoint: UUID, event: UUID) async throws -> WebhookDelivery? {
        try await conn.run("""
            SELECT \(unescaped: WebhookDelivery.columns)
            FROM webhook_deliveries d JOIN webhook_events e ON e.agency_id = d.agency_id AND e.id = d.event_id
            WHERE d.agency_id = \(agency) AND d.endpoint_id = \(endpoint) AND d.event_id = \(event)
            """).collect().first.map(WebhookDelivery.init(row:))
    }
}
