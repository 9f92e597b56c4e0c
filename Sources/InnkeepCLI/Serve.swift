import ArgumentParser
import Foundation
import Innkeep
import Logging

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the HTTP API (refuses to start while migrations are pending).")
    @Option(help: "Folder of migration files (default: MIGRATIONS_DIR, ./migrations, or beside the binary).")
    var migrations: String?

    func run() async throws {
        let config = try loadConfig()
        LoggingSetup.bootstrap(format: config.logFormat, level: config.logLevel)
        let logger = Logger(label: "innkeep")
        let dir = migrations.map { URL(fileURLWithPath: $0) } ?? Migration.defaultDirectory()
        do {
            try await Runner.serve(config: config, migrationsDirectory: dir, logger: logger)
        } catch let error as StartupError {
            throw fail(error.description)
        }
    }
}
