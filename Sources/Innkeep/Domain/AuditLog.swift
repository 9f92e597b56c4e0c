import Foundation
import Hummingbird
import PostgresNIO

/// The audit log (SPEC §7): written on the action's own connection, inside its transaction, so a
/// rolled-back action leaves no entry. The runtime role may only INSERT and SELECT it.
public enum AuditLog {
    /// One audit row, before it is written.
    public struct Entry: Sendable {
        var agency: UUID
        var user: UUID?
        var action: String
        var resourceType: String?
        var resourceId: UUID?
        var details: JSONValue?

        /// A tenant action by the caller.
        public init(_ caller: Caller, _ action: String, _ resourceType: String, _ resourceId: UUID, details: JSONValue? = nil) {
            self.init(
                agency: caller.agencyId,
                user: caller.userId,
                action: action,
                resourceType: resourceType,
                resourceId: resourceId,
                details: details
            )
        }

        public init(agency: UUID, user: UUID?, action: String, resourceType: String?, resourceId: UUID?, details: JSONValue? = nil) {
            (self.agency, self.user, self.action) = (agency, user, action)
            (self.resourceType, self.resourceId, self.details) = (resourceType, resourceId, details)
        }
    }

    /// Writes `entry`. (`Outbox.emit(…, recording:)` writes it in the statement of the event instead.)
    public static func record(_ conn: PostgresConnection, _ entry: Entry) async throws {
        try await conn.run("\(auditInsert: entry)")
    }

    public static func record(
        _ conn: PostgresConnection,
        agency: UUID,
        user: UUID?,
        action: String,
        resourceType: String?,
        resourceId: UUID?,
        details: JSONValue? = nil
    ) async throws {
        try await record(
            conn,
            Entry(agency: agency, user: user, action: action, resourceType: resourceType, resourceId: resourceId, details: details)
        )
    }

    /// Shorthand for a tenant action by the caller.
    public static func record(
        _ conn: PostgresConnection,
        _ caller: Caller,
        _ action: String,
        _ resourceType: String,
        _ resourceId: UUID,
        details: JSONValue? = nil
    ) async throws {
        try await record(conn, Entry(caller, action, resourceType, resourceId, details: details))
    }

    /// The agency's entries, newest first, optionally narrowed by action and resource.
    static func list(
        _ conn: PostgresConnection,
        agency: UUID,
        action: String?,
        resourceType: String?,
        resourceId: UUID?,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> [AuditEntry] {
        try await conn.run(
            """
            SELECT id, agency_id, user_id, action, resource_type, resource_id, details::text, created_at FROM audit_log
            WHERE agency_id = \(agency)
              AND (\(action)::text IS NULL OR action = \(action))
              AND (\(resourceType)::text IS NULL OR resource_type = \(resourceType))
              AND (\(resourceId)::uuid IS NULL OR resource_id = \(resourceId))
              AND \(after: cursor)
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """
        ).collect().map(AuditEntry.init(row:))
    }
}

extension PostgresQuery.StringInterpolation {
    /// The audit row's `INSERT`: the one text of it, whether it is a statement of its own or a
    /// data-modifying `WITH` item of a statement that writes more.
    mutating func appendInterpolation(auditInsert e: AuditLog.Entry) {
        appendLiteral("INSERT INTO audit_log (agency_id, user_id, action, resource_type, resource_id, details) VALUES (")
        appendInterpolation(e.agency)
        appendLiteral(", ")
        appendInterpolation(e.user)
        appendLiteral(", ")
        appendInterpolation(e.action)
        appendLiteral(", ")
        appendInterpolation(e.resourceType)
        appendLiteral(", ")
        appendInterpolation(e.resourceId)
        appendLiteral(", ")
        appendInterpolation(e.details?.serialized)
        appendLiteral("::jsonb)")
    }
}
