import Foundation
import PostgresNIO

/// A user's membership of an agency, with the role it grants (SPEC §3).
struct TeamMember: Sendable {
    static let columns = "tm.id, tm.agency_id, tm.user_id, u.email, u.full_name, tm.role, tm.created_at"

    let id: UUID, agencyId: UUID, userId: UUID, email: String, fullName: String, role: Role, createdAt: Date

    init(row: PostgresRow) throws {
        let role: String
        (id, agencyId, userId, email, fullName, role, createdAt) = try row.decode((UUID, UUID, UUID, String, String, String, Date).self)
        guard let role = Role(rawValue: role) else { throw UnknownValue(column: "team_members.role", value: role) }
        self.role = role
    }

    var json: JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "user_id": JSONValue(userId), "email": .string(email),
            "full_name": .string(fullName), "role": .string(role.rawValue), "created_at": JSONValue(createdAt),
        ]
    }
}
