import Foundation
import Logging
import PostgresNIO

/// `innkeep db init`: creates, idempotently, the database, the owner role (MIGRATION_DATABASE_URL),
/// the runtime role (DATABASE_URL) and the group role `innkeep_app` (SPEC §8). Needs an admin URL.
public enum DatabaseSetup {
    public static let groupRole = "innkeep_app"

    public static func initialize(adminURL: PostgresURL, owner: PostgresURL, runtime: PostgresURL, logger: Logger) async throws {
        guard owner.user != runtime.user else {
            throw MigrationError(
                "DATABASE_URL and MIGRATION_DATABASE_URL must name different roles: the API must not own the tables it is confined by"
            )
        }
        guard owner.database == runtime.database else {
            throw MigrationError("DATABASE_URL and MIGRATION_DATABASE_URL must name the same database")
        }
        let admin = try await PostgresConnection.open(adminURL, logger: logger)
        do {
            // Role and database rows are cluster-wide: two initializers at once (parallel deploys,
            // parallel test runs) would fail with "tuple concurrently updated". Held until the end.
            _ = try await admin.run("SELECT pg_advisory_lock(hashtext('innkeep db init'))").collect()
            try await ensureRole(admin, groupRole, login: false, password: nil)
            try await ensureRole(admin, owner.user, login: true, password: owner.password)
            try await ensureRole(admin, runtime.user, login: true, password: runtime.password)
            try await admin.run(PostgresQuery(unsafeSQL: "GRANT \(ident(groupRole)) TO \(ident(runtime.user))"))
            let exists = try await admin.run("SELECT 1 FROM pg_database WHERE datname = \(owner.database)").collect()
            if exists.isEmpty {
                try await admin.run(PostgresQuery(unsafeSQL: "CREATE DATABASE \(ident(owner.database)) OWNER \(ident(owner.user))"))
                logger.info("created database", metadata: ["database": "\(owner.database)"])
            }
            // Inside the database: the runtime role may use the public schema but create nothing in it.
            let db = try await PostgresConnection.open(adminURL.with(database: owner.database), logger: logger)
            do {
                for sql in [
                    "REVOKE ALL ON DATABASE \(ident(owner.database)) FROM PUBLIC",
                    "GRANT CONNECT ON DATABASE \(ident(owner.database)) TO \(ident(groupRole)), \(ident(owner.user))",
                    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
                    "GRANT USAGE ON SCHEMA public TO \(ident(groupRole))",
                ] {
                    try await db.run(PostgresQuery(unsafeSQL: sql))
                }
                try await db.close()
            } catch {
                try? await db.close()
                throw error
            }
            try await admin.close()  // releases the lock
        } catch {
            try? await admin.close()
            throw error
        }
    }

    /// Creates the role, or resets its attributes and password. Never superuser, never BYPASSRLS.
    static func ensureRole(_ conn: PostgresConnection, _ name: String, login: Bool, password: String?) async throws {
        let exists = try await conn.run("SELECT 1 FROM pg_roles WHERE rolname = \(name)").collect()
        var attributes = "\(login ? "LOGIN" : "NOLOGIN") NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE"
        if let password { attributes += " PASSWORD \(literal(password))" }
        try await conn.run(PostgresQuery(unsafeSQL: "\(exists.isEmpty ? "CREATE" : "ALTER") ROLE \(ident(name)) \(attributes)"))
    }

    static func ident(_ name: String) -> String { "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
    static func literal(_ value: String) -> String { "'" + value.replacingOccurrences(of: "'", with: "''") + "'" }
}
