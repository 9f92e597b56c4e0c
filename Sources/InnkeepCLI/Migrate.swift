import ArgumentParser
import Foundation
import Innkeep
import Logging

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply, revert, inspect or create migrations (as MIGRATION_DATABASE_URL).",
        subcommands: [Up.self, Down.self, Status.self, New.self]
    )

    struct Options: ParsableArguments {
        @Option(help: "Folder of migration files (default: MIGRATIONS_DIR, ./migrations, or beside the binary).")
        var dir: String?
        var directory: URL { dir.map { URL(fileURLWithPath: $0) } ?? Migration.defaultDirectory() }

        /// Runs a migrate action; any failure is one line on stderr and a non-zero exit.
        func run(_ action: MigrateCommand.Action) async throws {
            let config = try loadConfig()
            LoggingSetup.bootstrap(format: .text, level: config.logLevel)
            do {
                try await MigrateCommand.run(action, config: config, directory: directory, logger: Logger(label: "innkeep.migrate"))
            } catch let error as MigrationError {
                throw fail(error.description)
            } catch let error as DatabaseConnectError {
                throw fail(error.description)
            } catch {
                throw fail("migrate failed: \(loggable(error))")
            }
        }
    }

    struct Up: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply every pending migration.")
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run(.up)
        }
    }

    struct Down: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revert the last N applied migrations (default 1).")
        @OptionGroup var options: Options
        @Argument(help: "How many to revert (1 or more).") var steps: Int = 1
        func validate() throws {
            guard steps >= 1 else { throw ValidationError("N must be a positive number of migrations to revert (got \(steps))") }
        }
        func run() async throws {
            try await options.run(.down(steps))
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List applied and pending migrations.")
        @OptionGroup var options: Options
        func run() async throws {
            try await options.run(.status)
        }
    }

    struct New: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the next NNNN_name.up.sql / .down.sql pair.")
        @OptionGroup var options: Options
        @Argument(help: "snake_case name, e.g. add_property_photos") var name: String
        func run() async throws {
            do {
                let files = try MigrationFiles.create(name: name, in: options.directory)
                for file in files { print(file.path) }
            } catch let error as MigrationError {
                throw fail(error.description)
            }
        }
    }
}
