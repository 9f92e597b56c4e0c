import Foundation
import Hummingbird
import PostgresNIO

/// An invitation to join an agency (SPEC §14): pending until the person with that email accepts it,
/// declines it, an admin revokes it, or it expires (7 days).
struct Invitation: Sendable {
    static let lifetimeSeconds = 7 * 24 * 3600
    static let columns = "i.id, i.agency_id, i.email, i.role, i.status, i.expires_at, i.created_at, i.expires_at <= now()"

    let id: UUID, agencyId: UUID, email: String, role: String, status: String, expiresAt: Date, createdAt: Date, expired: Bool

    init(row: PostgresRow) throws {
        (id, agencyId, email, role, status, expiresAt, createdAt, expired) = try row.decode(
            (UUID, UUID, String, String, String, Date, Date, Bool).self)
    }

    /// As the agency's admin sees it (and the 201 of an invite): never the invitee's name, nor whether they have an account.
    var json: JSONValue {
        ["id": JSONValue(id), "email": .string(email), "role": .string(role), "status": .string(status), "expires_at": JSONValue(expiresAt)]
    }

    var isOpen: Bool { status == "pending" && !expired }
}
