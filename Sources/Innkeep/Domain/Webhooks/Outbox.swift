import Crypto
import Foundation
import PostgresNIO

/// The transactional outbox: the one way any feature publishes a webhook event.
///
/// Call `Outbox.emit` on the connection of the action's own transaction, after the action's writes:
///
/// ```swift
/// try await Outbox.emit(conn, agency: caller.agencyId, type: .bookingCreated, data: booking)
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
    /// subscribed or not (the test event). `recording` writes the action's audit row in the same statement
    /// (always, subscribed or not): one round trip for both. `writing` puts the action's own write in that
    /// statement too, first (a new booking: one round trip for the row, its audit row and its event).
    @discardableResult
    static func emit(
        _ conn: PostgresConnection,
        agency: UUID,
        type: WebhookEventType,
        data: some JSONWritable,
        onlyEndpoint: UUID? = nil,
        recording audit: AuditLog.Entry? = nil,
        writing action: (any ActionWrite)? = nil
    ) async throws -> UUID? {
        // `app_emit` (migration 0018) is the outbox's write, which `app_create_booking` calls too.
        let rows = try await conn.run(
            """
            \(writing: action, auditing: audit)SELECT app_emit(\(agency), \(type.rawValue), \(data.jsonText)::jsonb, \(onlyEndpoint)::uuid)
            """
        ).collect()
        return try rows.first?.decode(UUID?.self) ?? nil
    }

    /// Events (with their deliveries) are kept this long after they happen, then purged by the worker once
    /// none of their deliveries is still pending or retrying. A failed delivery is redelivered by
    /// `POST …/test` or by the receiver asking for it within that window; after it, the event is history.
    public static let retentionDays = 30

    /// The agencies holding events past retention that may go (read in the worker's scope, across agencies).
    static func agenciesWithExpiredEvents(_ conn: PostgresConnection, limit: Int) async throws -> [UUID] {
        try await conn.run(
            """
            SELECT DISTINCT e.agency_id FROM webhook_events e
            WHERE e.created_at < now() - make_interval(days => \(retentionDays)::int)
              AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                              WHERE d.agency_id = e.agency_id AND d.event_id = e.id AND d.status IN ('pending', 'retrying'))
            LIMIT \(limit)
            """
        ).collect().map { try $0.decode(UUID.self) }
    }

    /// Deletes up to `limit` of the agency's events past retention whose deliveries are all final
    /// (their deliveries go with them); returns how many. Runs in the agency's scope, like any tenant write.
    static func purgeExpired(_ conn: PostgresConnection, agency: UUID, limit: Int) async throws -> Int {
        try await conn.run(
            """
            DELETE FROM webhook_events WHERE agency_id = \(agency) AND id IN (
                SELECT e.id FROM webhook_events e
                WHERE e.agency_id = \(agency) AND e.created_at < now() - make_interval(days => \(retentionDays)::int)
                  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d
                                  WHERE d.agency_id = e.agency_id AND d.event_id = e.id AND d.status IN ('pending', 'retrying'))
                LIMIT \(limit))
            RETURNING 1
            """
        ).collect().count
    }
}

/// An action's write that `Outbox.emit` runs first in the statement of its event: a data-modifying `WITH` item.
protocol ActionWrite: Sendable {
    /// Appends `name AS (INSERT …)` (a name no other item of `emit`'s statement uses).
    func appendWithItem(to sql: inout PostgresQuery.StringInterpolation)
}

extension PostgresQuery.StringInterpolation {
    /// `WITH` the action's write and the audit row's `INSERT`, as data-modifying items, or nothing.
    fileprivate mutating func appendInterpolation(writing action: (any ActionWrite)?, auditing entry: AuditLog.Entry?) {
        guard action != nil || entry != nil else { return }
        appendLiteral("WITH ")
        if let action {
            action.appendWithItem(to: &self)
            appendLiteral(entry == nil ? "\n" : ",\n")
        }
        if let entry {
            appendLiteral("audit AS (")
            appendInterpolation(auditInsert: entry)
            appendLiteral(")\n")
        }
    }
}
