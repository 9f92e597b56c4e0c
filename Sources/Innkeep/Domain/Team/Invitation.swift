import Foundation
import PostgresNIO

/// An invitation to join an agency (SPEC §14): pending until the person with that email accepts it,
/// declines it, an admin revokes it, or it expires (7 days).
struct Invitation: Sendable {
    enum Status: String, Sendable { case pending, accepted, declined, revoked }

    static let lifetimeSeconds = 7 * 24 * 3600
    static let columns = "i.id, i.agency_id, i.email, i.role, i.status, i.expires_at, i.created_at, i.expires_at <= now()"

    let id: UUID, agencyId: UUID, email: String, role: Role, status: Status, expiresAt: Date, createdAt: Date, expired: Bool

    init(row: PostgresRow) throws {
        let (role, status): (String, String)
        (id, agencyId, email, role, status, expiresAt, createdAt, expired) = try row.decode(
            (UUID, UUID, String, String, String, Date, Date, Bool).self
        )
        guard let role = Role(rawValue: role) else { throw UnknownValue(column: "invitations.role", value: role) }
        guard let status = Status(rawValue: status) else { throw UnknownValue(column: "invitations.status", value: status) }
        (self.role, self.status) = (role, status)
    }

    /// As the agency's admin sees it (and the 201 of an invite): never the invitee's name, nor whether they have an account.
    var json: JSONValue {
        [
            "id": JSONValue(id), "email": .string(email), "role": .string(role.rawValue), "status": .string(status.rawValue),
            "expires_at": JSONValue(expiresAt),
        ]
    }

    var isOpen: Bool { status == .pending && !expired }
}
