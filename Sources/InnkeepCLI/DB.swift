import ArgumentParser
import Foundation
import Innkeep
import Logging

struct DB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "Database administration.", subcommands: [Init.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the database, the owner and runtime login roles and the innkeep_app group (idempotent)."
        )
        @Option(help: "A superuser URL, e.g. postgres://postgres@127.0.0.1:5432/postgres") var adminURL: String

        func run() async throws {
            let config = try loadConfig()
            LoggingSetup.bootstrap(format: .text, level: config.logLevel)
            let admin: PostgresURL
            do { admin = try PostgresURL.parse(adminURL, source: "--admin-url") } catch { throw fail("\(error.variable) \(error.problem)") }
            do {
                try await DatabaseSetup.initialize(
                    adminURL: admin,
                    owner: config.migrationDatabaseURL,
                    runtime: config.databaseURL,
                    logger: Logger(label: "innkeep.db")
                )
                print("database \(config.databaseURL.database) ready: owner \(config.migrationDatabaseURL.user), runtime \(config.databaseURL.user)")
            } catch let error as MigrationError {
                throw fail(error.description)
            } catch let error as DatabaseConnectError {
                throw fail(error.description)
            } catch {
                throw fail("db init failed: \(loggable(error))")
            }
        }
    }
}
