import Foundation
import Hummingbird
import PostgresNIO

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
        let cursor = try page.cursor()
        let agency = context.caller.agencyId
        return try await context.read { conn in
            let rows = try await InvitationRepository.listOpen(conn, agency: agency, cursor: cursor, limit: page.limit + 1)
            return page.reply(rows.map { ($0.createdAt, $0.id, $0.json) })
        }
    }

    @Sendable func revoke(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.transaction { conn in
            guard let invitation = try await InvitationRepository.find(conn, agency: caller.agencyId, id: id) else {
                throw APIError(.invitationNotFound)
            }
            guard invitation.isOpen else { throw APIError(.invitationNotPending) }
            try await InvitationRepository.setStatus(conn, agency: caller.agencyId, id: id, status: .revoked)
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
            try await Database.enterAgency(invitation.agencyId, on: conn)
            guard let memberId = try await TeamMemberRepository.add(conn, agency: invitation.agencyId, user: userId, role: invitation.role) else {
                throw APIError(.alreadyMember)
            }
            try await InvitationRepository.setStatus(conn, agency: invitation.agencyId, id: id, status: .accepted)
            try await AuditLog.record(
                conn,
                agency: invitation.agencyId,
                user: userId,
                action: "member.add",
                resourceType: "team_member",
                resourceId: memberId,
                details: [
                    "user_id": JSONValue(userId), "role": .string(invitation.role.rawValue),
                    "invitation_id": JSONValue(id),
                ]
            )
            guard let member = try await TeamMemberRepository.find(conn, agency: invitation.agencyId, id: memberId) else {
                throw APIError(.internalError)
            }
            return .json(member.json)
        }
    }

    @Sendable func decline(_ call: Call, _ userId: UUID) async throws -> Reply {
        let id = try call.pathId()
        return try await call.services.db.transaction(.user(userId)) { conn in
            let invitation = try await Self.open(conn, id: id)
            try await InvitationRepository.setStatus(conn, agency: invitation.agencyId, id: id, status: .declined)
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
