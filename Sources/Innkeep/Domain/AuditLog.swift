import Foundation
import Hummingbird
import PostgresNIO

/// The audit log (SPEC §7): written on the action's own connection, inside its transaction, so a
/// rolled-back action leaves no entry. The runtime role may only INSERT and SELECT it.
public enum AuditLog {
    public static func record(
        _ conn: PostgresConnection, agency: UUID, user: UUID?, action: String, resourceType: String?, resourceId: UUID?,
        details: JSONValue? = nil
    ) async throws {
        try await conn.run("""
            INSERT INTO audit_log (agency_id, user_id, action, resource_type, resource_id, details)
            VALUES (\(agency), \(user), \(action), \(resourceType), \(resourceId), \(details?.serialized)::jsonb)
            """)
    }

    /// Shorthand for a tenant action by the caller.
    public static func record(_ conn: PostgresConnection, _ caller: Caller, _ action: String, _ resourceType: String, _ resourceId: UUID,
                              details: JSONValue? = nil) async throws {
        try await record(conn, agency: caller.agencyId, user: caller.userId, action: action, resourceType: resourceType,
                         resourceId: resourceId, details: details)
    }
}
