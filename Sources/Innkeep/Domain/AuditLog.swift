import Foundation
import Hummingbird
import PostgresNIO

/// The audit log (SPEC §7): written on the action's own connection, inside its transaction, so a
/// rolled-back action leaves no entry. The runtime role may only INSERT and SELECT it.
public enum AuditLog {
    public static func record(
        _ conn: PostgresConnection,
        agency: UUID,
        user: UUID?,
        action: String,
        resourceType: String?,
        resourceId: UUID?,
        details: JSONValue? = nil
    ) async throws {
        try await conn.run(
            """
            INSERT INTO audit_log (agency_id, user_id, action, resource_type, resource_id, details)
            VALUES (\(agency), \(user), \(action), \(resourceType), \(resourceId), \(details?.serialized)::jsonb)
            """
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
        try await record(
            conn,
            agency: caller.agencyId,
            user: caller.userId,
            action: action,
            resourceType: resourceType,
            resourceId: resourceId,
            details: details
        )
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
