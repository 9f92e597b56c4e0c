import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// `innkeep migrate …` as the owner role.
public enum MigrateCommand {
    public enum Action: Sendable {
        case up
        case down(Int)
        case status
    }

    /// Runs the action as the owner role; errors are thrown for the caller to print as one line.
    public static func run(_ action: Action, config: AppConfig, directory: URL, logger: Logger) async throws {
        let migrator = Migrator(migrations: try Migration.load(from: directory), logger: logger)
        let conn = try await PostgresConnection.open(config.migrationDatabaseURL, logger: logger)
        defer { Task { try? await conn.close() } }
        switch action {
        case .up:
            let applied = try await migrator.up(conn)
            print(applied.isEmpty ? "up to date" : applied.map { String(format: "applied %04d_%@", $0.version, $0.name) }.joined(separator: "\n"))
        case .down(let steps):
            let reverted = try await migrator.down(conn, steps: steps)
            print(
                reverted.isEmpty
                    ? "nothing to revert" : reverted.map { String(format: "reverted %04d_%@", $0.version, $0.name) }.joined(separator: "\n")
            )
        case .status:
            let status = try await migrator.status(conn)
            for a in status.applied { print(String(format: "applied  %04d_%@", a.version, a.name)) }
            for p in status.pending { print(String(format: "pending  %04d_%@", p.version, p.name)) }
            print("\(status.applied.count) applied, \(status.pending.count) pending")
        }
    }
}
