import Crypto
import Foundation
import PostgresNIO

/// The event types an endpoint can subscribe to (SPEC §13).
public enum WebhookEventType: String, CaseIterable, Sendable {
    case bookingCreated = "booking.created"
    case bookingCancelled = "booking.cancelled"
    case blockCreated = "block.created"
    case blockDeleted = "block.deleted"
    case channelConflictDetected = "channel.conflict_detected"
    case channelConflictResolved = "channel.conflict_resolved"
    case channelConnectionSyncFailed = "channel_connection.sync_failed"
    /// Sent only by `POST /api/v1/webhook-endpoints/{id}/test`, to that endpoint.
    case webhookTest = "webhook.test"
}

/// The transactional outbox: the one way any feature publishes a webhook event.
///
/// Call `Outbox.emit` on the connection of the action's own transaction, after the action's writes:
///
/// ```swift
/// try await Outbox.emit(conn, agency: caller.agencyId, type: .bookingCreated, data: booking.json)
/// ```
///
/// The event and one `pending` delivery per enabled endpoint of the agency subscribed to the type are
/// inserted in that transaction, in one statement. So a rolled-back action emits nothing, a committed
/// one is on disk before the client hears of it (never lost across worker crashes, restarts or
/// database outages), and the worker (`WebhookDispatcher`) only claims delivery rows — the set of
/// recipients is fixed when the event happens, and `UNIQUE (agency_id, endpoint_id, event_id)` makes a
/// second delivery of one event to one endpoint impossible. An event nobody subscribes to writes nothing.
public enum Outbox {
    /// Writes the event and its deliveries; returns the event id (the `webhook-id` receivers see), or
    /// nil when no enabled endpoint subscribes to `type`. `onlyEndpoint` sends to that endpoint alone,
    /// subscribed or not (the test event).
    @discardableResult
    public static func emit(_ conn: PostgresConnection, agency: UUID, type: WebhookEventType, data: JSONValue,
                            onlyEndpoint: UUID? = nil) async throws -> UUID? {
        let rows = try await conn.run("""
            WITH targets AS (
                SELECT id FROM webhook_endpoints
                WHERE agency_id = \(agency)
                  AND (\(onlyEndpoint)::uuid IS NULL AND enabled AND \(type.rawValue) = ANY (events) OR id = \(onlyEndpoint))),
            e AS (
                INSERT INTO webhook_events (agency_id, type, payload)
                SELECT \(agency), \(type.rawValue), \(data.serialized)::jsonb WHERE EXISTS (SELECT 1 FROM targets)
                RETURNING id),
            d AS (
                INSERT INTO webhook_deliveries (agency_id, endpoint_id, event_id)
                SELECT \(agency), targets.id, e.id FROM targets, e RETURNING 1)
            SELECT e.id, (SELECT count(*) FROM d) FROM e
            """).collect()
        guard let row = rows.first else { return nil }
        let (event, _) = try row.decode((UUID, Int).self)
        return event
    }
}

/// Standard Webhooks signing (https://www.standardwebhooks.com): `v1,` + base64 of
/// HMAC-SHA256(`{id}.{timestamp}.{body}`), keyed by the bytes of the secret's base64 part.
public enum WebhookSignature {
    public static let prefix = "whsec_"

    /// `whsec_` + base64 of 32 random bytes (SPEC §13).
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + Data(bytes).base64EncodedString()
    }

    /// The key bytes of a `whsec_` secret.
    public static func key(_ secret: String) -> SymmetricKey? {
        let encoded = secret.hasPrefix(prefix) ? String(secret.dropFirst(prefix.count)) : secret
        return Data(base64Encoded: encoded).map { SymmetricKey(data: $0) }
    }

    /// One `v1,<base64>` signature.
    public static func sign(id: String, timestamp: Int64, body: String, secret: String) -> String? {
        guard let key = key(secret) else { return nil }
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).\(body)".utf8), using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The `webhook-signature` value: one signature per secret, space-separated (two during a rotation).
    public static func header(id: String, timestamp: Int64, body: String, secrets: [String]) -> String {
        secrets.compactMap { sign(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")
    }
}
