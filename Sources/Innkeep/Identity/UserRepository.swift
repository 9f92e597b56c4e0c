import Foundation
import PostgresNIO

/// `auth.users` and what hangs off a user outside any one agency. Emails match case-insensitively
/// everywhere (the unique index is on `lower(email)`).
enum UserRepository {
    static func create(_ conn: PostgresConnection, id: UUID, email: String, passwordHash: String, fullName: String) async throws {
        try await conn.run(
            """
            INSERT INTO auth.users (id, email, password_hash, full_name) VALUES (\(id), \(email), \(passwordHash), \(fullName))
            """
        )
    }

    /// The user with this email and their password hash, for login.
    static func credentials(_ conn: PostgresConnection, email: String) async throws -> (id: UUID, passwordHash: String)? {
        try await conn.run("SELECT id, password_hash FROM auth.users WHERE lower(email) = lower(\(email))")
            .collect().first?.decode((UUID, String).self)
    }

    static func id(_ conn: PostgresConnection, email: String) async throws -> UUID? {
        try await credentials(conn, email: email)?.id
    }

    static func profile(_ conn: PostgresConnection, id: UUID) async throws -> (email: String, fullName: String)? {
        try await conn.run("SELECT email, full_name FROM auth.users WHERE id = \(id)").collect().first?.decode((String, String).self)
    }

    /// The agencies the user belongs to, by name, with their role in each.
    static func memberships(_ conn: PostgresConnection, id: UUID) async throws -> [(agencyId: UUID, agencyName: String, role: Role)] {
        try await conn.run(
            """
            SELECT a.id, a.name, tm.role FROM team_members tm JOIN agencies a ON a.id = tm.agency_id
            WHERE tm.user_id = \(id) ORDER BY a.name, a.id
            """
        ).collect().map { row in
            let (agency, name, role) = try row.decode((UUID, String, String).self)
            guard let role = Role(rawValue: role) else { throw UnknownValue(column: "team_members.role", value: role) }
            return (agency, name, role)
        }
    }

    /// Grants or revokes the platform-operator flag (the owner role only; the API's role may read it).
    static func setPlatformOperator(_ conn: PostgresConnection, id: UUID, _ granted: Bool) async throws {
        if granted {
            try await conn.run("INSERT INTO auth.platform_operators (user_id) VALUES (\(id)) ON CONFLICT (user_id) DO NOTHING")
        } else {
            try await conn.run("DELETE FROM auth.platform_operators WHERE user_id = \(id)")
        }
    }
}
