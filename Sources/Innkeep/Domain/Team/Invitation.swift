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

/// Bound-parameter SQL for invitations. Tenant reads filter by `agency_id`; the invitee's (`forInvitee`)
/// run in a `.user` scope and are limited to their own email by RLS (`invitations_invitee_*`).
enum InvitationRepository {
    /// Creates the agency's pending invitation for `email`, or refreshes (role, expiry) the one already pending.
    static func invite(_ conn: PostgresConnection, agency: UUID, email: String, role: Role, by user: UUID) async throws -> Invitation {
        try await conn.run("""
            INSERT INTO invitations AS i (agency_id, email, role, invited_by, expires_at)
            VALUES (\(agency), \(email), \(role.rawValue), \(user), now() + make_interval(secs => \(Invitation.lifetimeSeconds)))
            ON CONFLICT (agency_id, lower(email)) WHERE status = 'pending'
                DO UPDATE SET role = EXCLUDED.role, invited_by = EXCLUDED.invited_by, expires_at = EXCLUDED.expires_at
            RETURNING \(unescaped: Invitation.columns)
            """).collect().map(Invitation.init(row:))[0]
    }

    static func find(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> Invitation? {
        try await conn.run("""
            SELECT \(unescaped: Invitation.columns) FROM invitations i WHERE i.agency_id = \(agency) AND i.id = \(id) FOR UPDATE
            """).collect().first.map(Invitation.init(row:))
    }

    /// The caller's own invitation by id, in any agency (RLS shows only those addressed to their email).
    static func findForInvitee(_ conn: PostgresConnection, id: UUID) async throws -> Invitation? {
        try await conn.run("""
            SELECT \(unescaped: Invitation.columns) FROM invitations i WHERE i.id = \(id) AND lower(i.email) = app_user_email() FOR UPDATE
            """).collect().first.map(Invitation.init(row:))
    }

    /// The caller's open invitations, with the inviting agency's name, for `GET /me`.
    static func openForInvitee(_ conn: PostgresConnection) async throws -> [JSONValue] {
        try await conn.run("""
            SELECT i.id, i.agency_id, a.name, i.role, i.expires_at FROM invitations i JOIN agencies a ON a.id = i.agency_id
            WHERE lower(i.email) = app_user_email() AND i.status = 'pending' AND i.expires_at > now()
            ORDER BY i.created_at DESC, i.id DESC LIMIT 100
            """).collect().map { row in
            let (id, agency, name, role, expires) = try row.decode((UUID, UUID, String, String, Date).self)
            return ["id": JSONValue(id), "agency_id": JSONValue(agency), "agency_name": .string(name), "role": .string(role),
                    "expires_at": JSONValue(expires)]
        }
    }

    static func setStatus(_ conn: PostgresConnection, agency: UUID, id: UUID, status: String) async throws {
        try await conn.run("""
            UPDATE invitations SET status = \(status), responded_at = now() WHERE agency_id = \(agency) AND id = \(id)
            """)
    }
}

/// `GET/DELETE /api/v1/invitations…` (the agency's admin) and `POST /api/v1/invitations/{id}/accept|decline`
/// (the invitee, signed in, with no agency context).
struct InvitationController {
    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listInvitations, list)
        routes.tenant(API.revokeInvitation, revoke)
        routes.user(API.acceptInvitation, accept)
        routes.user(API.declineInvitation, decline)
    }

    @Sendable func list(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var query = FieldReader(query: request)
        let page = PageRequest(&query)
        try query.finish()
        let cursor = try page.cursor(), agency = context.caller.agencyId
        return try await context.read { conn in
            let rows = try await conn.run("""
                SELECT \(unescaped: Invitation.columns) FROM invitations i
                WHERE i.agency_id = \(agency) AND i.status = 'pending' AND i.expires_at > now()
                  AND (\(cursor?.micros)::int8 IS NULL
                       OR (i.created_at, i.id) < (timestamptz 'epoch' + \(cursor?.micros)::int8 * interval '1 microsecond', \(cursor?.id)))
                ORDER BY i.created_at DESC, i.id DESC LIMIT \(page.limit + 1)
                """).collect().map(Invitation.init(row:))
            return page.reply(rows.map { ($0.createdAt, $0.id, $0.json) })
        }
    }

    @Sendable func revoke(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId(), caller = context.caller
        return try await context.transaction { conn in
            guard let invitation = try await InvitationRepository.find(conn, agency: caller.agencyId, id: id) else {
                throw APIError(.invitationNotFound)
            }
            guard invitation.isOpen else { throw APIError(.invitationNotPending) }
            try await InvitationRepository.setStatus(conn, agency: caller.agencyId, id: id, status: "revoked")
            return .noContent
        }
    }

    /// Accepting makes the caller a member with the invited role: 200 with the membership.
    @Sendable func accept(_ call: Call, _ userId: UUID) async throws -> Reply {
        let id = try call.pathId()
        return try await call.services.db.transaction(.user(userId)) { conn in
            let invitation = try await Self.open(conn, id: id)
            // The invitation, addressed to this user's own email, is what admits them to its agency: the
            // transaction now acts inside it, so RLS lets it add the membership and its audit entry.
            try await conn.run("SELECT set_config('app.agency_id', \(invitation.agencyId.uuidString), true)")
            let inserted = try await conn.run("""
                INSERT INTO team_members (agency_id, user_id, role) VALUES (\(invitation.agencyId), \(userId), \(invitation.role))
                ON CONFLICT (agency_id, user_id) DO NOTHING RETURNING id
                """).collect()
            guard let memberId = try inserted.first?.decode(UUID.self) else { throw APIError(.alreadyMember) }
            try await InvitationRepository.setStatus(conn, agency: invitation.agencyId, id: id, status: "accepted")
            try await AuditLog.record(conn, agency: invitation.agencyId, user: userId, action: "member.add", resourceType: "team_member",
                                      resourceId: memberId, details: ["user_id": JSONValue(userId), "role": .string(invitation.role),
                                                                      "invitation_id": JSONValue(id)])
            guard let member = try await TeamController.find(conn, agency: invitation.agencyId, id: memberId) else {
                throw APIError(.internalError)
            }
            return .json(member.json)
        }
    }

    @Sendable func decline(_ call: Call, _ userId: UUID) async throws -> Reply {
        let id = try call.pathId()
        return try await call.services.db.transaction(.user(userId)) { conn in
            let invitation = try await Self.open(conn, id: id)
            try await InvitationRepository.setStatus(conn, agency: invitation.agencyId, id: id, status: "declined")
            return .noContent
        }
    }

    /// The caller's invitation if it is still open: someone else's (or none) → 404; answered, revoked or expired → 409.
    static func open(_ conn: PostgresConnection, id: UUID) async throws -> Invitation {
        guard let invitation = try await InvitationRepository.findForInvitee(conn, id: id) else { throw APIError(.invitationNotFound) }
        guard invitation.isOpen else { throw APIError(.invitationNotPending) }
        return invitation
    }
}
