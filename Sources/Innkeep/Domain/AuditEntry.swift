import Foundation
import PostgresNIO

/// One row of the audit log, as `GET /api/v1/audit-log` shows it.
struct AuditEntry: Sendable {
    let id: UUID, agencyId: UUID, userId: UUID?, action: String, resourceType: String?, resourceId: UUID?
    /// The details as stored (jsonb text), parsed back for the response.
    let details: String?
    let createdAt: Date

    init(row: PostgresRow) throws {
        (id, agencyId, userId, action, resourceType, resourceId, details, createdAt) = try row.decode(
            (UUID, UUID, UUID?, String, String?, UUID?, String?, Date).self
        )
    }

    var json: JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "user_id": JSONValue(userId), "action": .string(action),
            "resource_type": JSONValue(resourceType), "resource_id": JSONValue(resourceId),
            "details": details.flatMap { JSONValue.parse(Array($0.utf8)) } ?? .null, "created_at": JSONValue(createdAt),
        ]
    }
}
