import Foundation
import Hummingbird
import PostgresNIO

/// `/api/v1/team-members` (SPEC §3). The agency's last admin can be neither demoted nor removed.
struct TeamController {
    static let columns = "tm.id, tm.agency_id, tm.user_id, u.email, u.full_name, tm.role, tm.created_at"

    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listTeamMembers, list)
        routes.tenant(API.addTeamMember, add)
        routes.tenant(API.updateTeamMember, update)
        routes.tenant(API.removeTeamMember, remove)
    }

    struct Member: Sendable {
        let id: UUID, agencyId: UUID, userId: UUID, email: String, fullName: String, role: String, createdAt: Date
        init(row: PostgresRow) throws {
            (id, agencyId, userId, email, fullName, role, createdAt) = try row.decode((UUID, UUID, UUID, String, String, String, Date).self)
        }
        var json: JSONValue {
            ["id": JSONValue(id), "agency_id": JSONValue(agencyId), "user_id": JSONValue(userId), "email": .string(email),
             "full_name": .string(fullName), "role": .string(role), "created_at": JSONValue(createdAt)]
        }
    }

    static func find(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> Member? {
        try await conn.run("""
            SELECT \(unescaped: columns) FROM team_members tm JOIN auth.users u ON u.id = tm.user_id
            WHERE tm.agency_id = \(agency) AND tm.id = \(id) FOR UPDATE OF tm
            """).collect().first.map(Member.init(row:))
    }

    /// Serializes membership changes within one agency, so two admins demoting each other
    /// cannot both succeed (nor deadlock).
    static func lockTeam(_ conn: PostgresConnection, agency: UUID) async throws {
        try await conn.run("SELECT pg_advisory_xact_lock(hashtextextended(\(agency.uuidString), 7))")
    }

    /// Locks the agency's admin rows and says whether more than one remains.
    static func hasOtherAdmin(_ conn: PostgresConnection, agency: UUID) async throws -> Bool {
        let admins = try await conn.run("""
            SELECT id FROM team_members WHERE agency_id = \(agency) AND role = 'admin' FOR UPDATE
            """).collect()
        return admins.count > 1
    }

    @Sendable func list(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var query = FieldReader(query: request)
        let page = PageRequest(&query)
        let role = query.choice("role", as: Role.self)
        try query.finish()
        let cursor = try page.cursor(), agency = context.caller.agencyId
        return try await context.read { conn in
            let rows = try await conn.run("""
                SELECT \(unescaped: Self.columns) FROM team_members tm JOIN auth.users u ON u.id = tm.user_id
                WHERE tm.agency_id = \(agency) AND (\(role?.rawValue)::text IS NULL OR tm.role = \(role?.rawValue))
                  AND \(after: cursor, alias: "tm")
                ORDER BY tm.created_at DESC, tm.id DESC LIMIT \(page.limit + 1)
                """).collect().map(Member.init(row:))
            return page.reply(rows.map { ($0.createdAt, $0.id, $0.json) })
        }
    }

    /// Invites: 201 with the invitation, whether or not an account has that email (SPEC §14); nobody joins
    /// without accepting. Re-inviting a member → 409 ALREADY_MEMBER; re-inviting a pending email refreshes it.
    @Sendable func add(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var body = try context.json()
        let email = body.email("email", required: true)
        let role = body.choice("role", required: true, as: Role.self)
        try body.finish()
        let caller = context.caller
        return try await context.transaction { conn in
            // Only this agency's members are looked at: whether the email has an account elsewhere is never told.
            let member = try await conn.run("""
                SELECT 1 FROM team_members tm JOIN auth.users u ON u.id = tm.user_id
                WHERE tm.agency_id = \(caller.agencyId) AND lower(u.email) = lower(\(email!))
                """).collect()
            guard member.isEmpty else { throw APIError(.alreadyMember) }
            let invitation = try await InvitationRepository.invite(conn, agency: caller.agencyId, email: email!, role: role!, by: caller.userId)
            try await AuditLog.record(conn, caller, "member.invite", "invitation", invitation.id,
                                      details: ["email": .string(email!), "role": .string(role!.rawValue)])
            return .json(invitation.json, status: .created)
        }
    }

    @Sendable func update(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        var body = try context.json()
        let role = body.choice("role", required: true, as: Role.self)
        try body.finish()
        let caller = context.caller
        return try await context.transaction { conn in
            try await Self.lockTeam(conn, agency: caller.agencyId)
            guard let member = try await Self.find(conn, agency: caller.agencyId, id: id) else { throw APIError(.teamMemberNotFound) }
            if member.role == Role.admin.rawValue, role != .admin, try await !Self.hasOtherAdmin(conn, agency: caller.agencyId) {
                throw APIError(.lastAdmin)
            }
            try await conn.run("UPDATE team_members SET role = \(role!.rawValue) WHERE agency_id = \(caller.agencyId) AND id = \(id)")
            try await AuditLog.record(conn, caller, "role.change", "team_member", id, details: [
                "user_id": JSONValue(member.userId), "old_role": .string(member.role), "new_role": .string(role!.rawValue),
            ])
            return .json(try await Self.find(conn, agency: caller.agencyId, id: id)!.json)
        }
    }

    @Sendable func remove(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId(), caller = context.caller
        return try await context.transaction { conn in
            try await Self.lockTeam(conn, agency: caller.agencyId)
            guard let member = try await Self.find(conn, agency: caller.agencyId, id: id) else { throw APIError(.teamMemberNotFound) }
            if member.role == Role.admin.rawValue, try await !Self.hasOtherAdmin(conn, agency: caller.agencyId) {
                throw APIError(.lastAdmin)
            }
            try await conn.run("DELETE FROM team_members WHERE agency_id = \(caller.agencyId) AND id = \(id)")
            try await AuditLog.record(conn, caller, "member.remove", "team_member", id, details: [
                "user_id": JSONValue(member.userId), "role": .string(member.role),
            ])
            return .noContent
        }
    }
}
