import Foundation
import PostgresNIO

/// Bound-parameter SQL for invitations. Tenant reads filter by `agency_id`; the invitee's (`forInvitee`)
/// run in a `.user` scope and are limited to their own email by RLS (`invitations_invitee_*`).
enum InvitationRepository {
    /// Creates the agency's pending invitation for `email`, or refreshes (role, expiry) the one already pending.
    static func invite(_ conn: PostgresConnection, agency: UUID, email: String, role: Role, by user: UUID) async throws -> Invitation {
        try await conn.run(
            """
            INSERT INTO invitations AS i (agency_id, email, role, invited_by, expires_at)
            VALUES (\(agency), \(email), \(role.rawValue), \(user), now() + make_interval(secs => \(Invitation.lifetimeSeconds)))
            ON CONFLICT (agency_id, lower(email)) WHERE status = 'pending'
                DO UPDATE SET role = EXCLUDED.role, invited_by = EXCLUDED.invited_by, expires_at = EXCLUDED.expires_at
            RETURNING \(unescaped: Invitation.columns)
            """
        ).collect().map(Invitation.init(row:))[0]
    }

    /// The agency's invitations still open, newest first.
    static func listOpen(_ conn: PostgresConnection, agency: UUID, cursor: PageCursor?, limit: Int) async throws -> [Invitation] {
        try await conn.run(
            """
            SELECT \(unescaped: Invitation.columns) FROM invitations i
            WHERE i.agency_id = \(agency) AND i.status = 'pending' AND i.expires_at > now()
              AND \(after: cursor, alias: "i")
            ORDER BY i.created_at DESC, i.id DESC LIMIT \(limit)
            """
        ).collect().map(Invitation.init(row:))
    }

    static func find(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> Invitation? {
        try await conn.run(
            """
            SELECT \(unescaped: Invitation.columns) FROM invitations i WHERE i.agency_id = \(agency) AND i.id = \(id) FOR UPDATE
            """
        ).collect().first.map(Invitation.init(row:))
    }

    /// The caller's own invitation by id, in any agency (RLS shows only those addressed to their email).
    static func findForInvitee(_ conn: PostgresConnection, id: UUID) async throws -> Invitation? {
        try await conn.run(
            """
            SELECT \(unescaped: Invitation.columns) FROM invitations i WHERE i.id = \(id) AND lower(i.email) = app_user_email() FOR UPDATE
            """
        ).collect().first.map(Invitation.init(row:))
    }

    /// The caller's open invitations, with the inviting agency's name, for `GET /me`.
    static func openForInvitee(_ conn: PostgresConnection) async throws -> [JSONValue] {
        try await conn.run(
            """
            SELECT i.id, i.agency_id, a.name, i.role, i.expires_at FROM invitations i JOIN agencies a ON a.id = i.agency_id
            WHERE lower(i.email) = app_user_email() AND i.status = 'pending' AND i.expires_at > now()
            ORDER BY i.created_at DESC, i.id DESC LIMIT 100
            """
        ).collect().map { row in
            let (id, agency, name, role, expires) = try row.decode((UUID, UUID, String, String, Date).self)
            return [
                "id": JSONValue(id), "agency_id": JSONValue(agency), "agency_name": .string(name), "role": .string(role),
                "expires_at": JSONValue(expires),
            ]
        }
    }

    static func setStatus(_ conn: PostgresConnection, agency: UUID, id: UUID, status: Invitation.Status) async throws {
        try await conn.run(
            """
            UPDATE invitations SET status = \(status.rawValue), responded_at = now() WHERE agency_id = \(agency) AND id = \(id)
            """
        )
    }
}
