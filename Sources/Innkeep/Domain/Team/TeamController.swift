import Foundation
import Hummingbird
import PostgresNIO

/// `/api/v1/team-members` (SPEC §3). The agency's last admin can be neither demoted nor removed.
struct TeamController {
    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listTeamMembers, list)
        routes.tenant(API.addTeamMember, add)
        routes.tenant(API.updateTeamMember, update)
        routes.tenant(API.removeTeamMember, remove)
    }

    @Sendable func list(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var query = FieldReader(query: request)
        let page = PageRequest(&query)
        let role = query.choice("role", as: Role.self)
        try query.finish()
        let cursor = try page.cursor()
        let agency = context.caller.agencyId
        return try await context.read { conn in
            let rows = try await TeamMemberRepository.list(conn, agency: agency, role: role, cursor: cursor, limit: page.limit + 1)
            return page.reply(rows.map { ($0.createdAt, $0.id, $0.json) })
        }
    }

    /// `POST` body: who to invite, with which role.
    struct Invite {
        let email: String, role: Role
        init(_ body: inout FieldReader) throws {
            let email = body.email("email", required: true)
            let role = body.choice("role", required: true, as: Role.self)
            try body.finish()
            (self.email, self.role) = (email!, role!)
        }
    }

    /// `PATCH` body: the new role.
    struct RoleChange {
        let role: Role
        init(_ body: inout FieldReader) throws {
            let role = body.choice("role", required: true, as: Role.self)
            try body.finish()
            self.role = role!
        }
    }

    /// Invites: 201 with the invitation, whether or not an account has that email (SPEC §14); nobody joins
    /// without accepting. Re-inviting a member → 409 ALREADY_MEMBER; re-inviting a pending email refreshes it.
    @Sendable func add(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var body = try context.json()
        let invite = try Invite(&body)
        let caller = context.caller
        let email = invite.email
        let role = invite.role
        return try await context.transaction { conn in
            guard try await !TeamMemberRepository.hasMember(conn, agency: caller.agencyId, email: email) else { throw APIError(.alreadyMember) }
            let invitation = try await InvitationRepository.invite(conn, agency: caller.agencyId, email: email, role: role, by: caller.userId)
            try await AuditLog.record(
                conn,
                caller,
                "member.invite",
                "invitation",
                invitation.id,
                details: ["email": .string(email), "role": .string(role.rawValue)]
            )
            return .json(invitation.json, status: .created)
        }
    }

    @Sendable func update(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        var body = try context.json()
        let role = try RoleChange(&body).role
        let caller = context.caller
        return try await context.transaction { conn in
            try await TeamMemberRepository.lockTeam(conn, agency: caller.agencyId)
            guard let member = try await TeamMemberRepository.find(conn, agency: caller.agencyId, id: id) else { throw APIError(.teamMemberNotFound) }
            if member.role == .admin, role != .admin, try await !TeamMemberRepository.hasOtherAdmin(conn, agency: caller.agencyId) {
                throw APIError(.lastAdmin)
            }
            try await TeamMemberRepository.setRole(conn, agency: caller.agencyId, id: id, role: role)
            try await AuditLog.record(
                conn,
                caller,
                "role.change",
                "team_member",
                id,
                details: [
                    "user_id": JSONValue(member.userId), "old_role": .string(member.role.rawValue), "new_role": .string(role.rawValue),
                ]
            )
            return .json(try await TeamMemberRepository.find(conn, agency: caller.agencyId, id: id)!.json)
        }
    }

    @Sendable func remove(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.transaction { conn in
            try await TeamMemberRepository.lockTeam(conn, agency: caller.agencyId)
            guard let member = try await TeamMemberRepository.find(conn, agency: caller.agencyId, id: id) else { throw APIError(.teamMemberNotFound) }
            if member.role == .admin, try await !TeamMemberRepository.hasOtherAdmin(conn, agency: caller.agencyId) {
                throw APIError(.lastAdmin)
            }
            try await TeamMemberRepository.delete(conn, agency: caller.agencyId, id: id)
            try await AuditLog.record(
                conn,
                caller,
                "member.remove",
                "team_member",
                id,
                details: [
                    "user_id": JSONValue(member.userId), "role": .string(member.role.rawValue),
                ]
            )
            return .noContent
        }
    }
}
