import Foundation
import PostgresNIO

/// Team membership queries; every method filters by agency.
enum TeamMemberRepository {
    static func find(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> TeamMember? {
        try await conn.run(
            """
            SELECT \(unescaped: TeamMember.columns) FROM team_members tm JOIN auth.users u ON u.id = tm.user_id
            WHERE tm.agency_id = \(agency) AND tm.id = \(id) FOR UPDATE OF tm
            """
        ).collect().first.map(TeamMember.init(row:))
    }

    static func list(_ conn: PostgresConnection, agency: UUID, role: Role?, cursor: PageCursor?, limit: Int) async throws -> [TeamMember] {
        try await conn.run(
            """
            SELECT \(unescaped: TeamMember.columns) FROM team_members tm JOIN auth.users u ON u.id = tm.user_id
            WHERE tm.agency_id = \(agency) AND (\(role?.rawValue)::text IS NULL OR tm.role = \(role?.rawValue))
              AND \(after: cursor, alias: "tm")
            ORDER BY tm.created_at DESC, tm.id DESC LIMIT \(limit)
            """
        ).collect().map(TeamMember.init(row:))
    }

    /// Whether someone with this email (any case) is already a member of the agency. Only this agency's
    /// members are looked at: whether the email has an account elsewhere is never told.
    static func hasMember(_ conn: PostgresConnection, agency: UUID, email: String) async throws -> Bool {
        try await !conn.run(
            """
            SELECT 1 FROM team_members tm JOIN auth.users u ON u.id = tm.user_id
            WHERE tm.agency_id = \(agency) AND lower(u.email) = lower(\(email))
            """
        ).collect().isEmpty
    }

    /// Adds the user with `role`; nil when they are a member already.
    static func add(_ conn: PostgresConnection, agency: UUID, user: UUID, role: Role) async throws -> UUID? {
        try await conn.run(
            """
            INSERT INTO team_members (agency_id, user_id, role) VALUES (\(agency), \(user), \(role.rawValue))
            ON CONFLICT (agency_id, user_id) DO NOTHING RETURNING id
            """
        ).collect().first?.decode(UUID.self)
    }

    static func setRole(_ conn: PostgresConnection, agency: UUID, id: UUID, role: Role) async throws {
        try await conn.run("UPDATE team_members SET role = \(role.rawValue) WHERE agency_id = \(agency) AND id = \(id)")
    }

    static func delete(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws {
        try await conn.run("DELETE FROM team_members WHERE agency_id = \(agency) AND id = \(id)")
    }

    /// Serializes membership changes within one agency, so two admins demoting each other
    /// cannot both succeed (nor deadlock).
    static func lockTeam(_ conn: PostgresConnection, agency: UUID) async throws {
        try await conn.run("SELECT pg_advisory_xact_lock(hashtextextended(\(agency.uuidString), 7))")
    }

    /// Locks the agency's admin rows and says whether more than one remains.
    static func hasOtherAdmin(_ conn: PostgresConnection, agency: UUID) async throws -> Bool {
        let admins = try await conn.run(
            """
            SELECT id FROM team_members WHERE agency_id = \(agency) AND role = 'admin' FOR UPDATE
            """
        ).collect()
        return admins.count > 1
    }
}
