import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// `innkeep operator grant|revoke EMAIL`: platform operators (SPEC §14) may use /ops/* and /metrics with
/// their own token. Run as the owner role (MIGRATION_DATABASE_URL): the API's role may only read the list.
public enum OperatorCommand {
    public static func run(grant: Bool, email: String, config: AppConfig, logger: Logger) async throws -> String {
        let conn = try await PostgresConnection.open(config.migrationDatabaseURL, logger: logger)
        defer { Task { try? await conn.close() } }
        guard let userId = try await conn.run("SELECT id FROM auth.users WHERE lower(email) = lower(\(email))")
            .collect().first?.decode(UUID.self)
        else { throw MigrationError("no user has the email \(email)") }
        if grant {
            try await conn.run("INSERT INTO auth.platform_operators (user_id) VALUES (\(userId)) ON CONFLICT (user_id) DO NOTHING")
            return "\(email) is a platform operator"
        }
        try await conn.run("DELETE FROM auth.platform_operators WHERE user_id = \(userId)")
        return "\(email) is not a platform operator"
    }
}
