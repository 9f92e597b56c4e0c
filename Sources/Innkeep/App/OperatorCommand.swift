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
        guard let userId = try await UserRepository.id(conn, email: email) else { throw MigrationError("no user has the email \(email)") }
        try await UserRepository.setPlatformOperator(conn, id: userId, grant)
        return grant ? "\(email) is a platform operator" : "\(email) is not a platform operator"
    }
}
