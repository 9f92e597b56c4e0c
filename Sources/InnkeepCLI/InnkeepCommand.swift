import ArgumentParser
import Foundation
import Innkeep
import Logging

/// `innkeep`: the thin executable. Argument parsing only; the work lives in the Innkeep library.
@main
struct InnkeepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "innkeep",
        abstract: "Innkeep: the property-management API for vacation-rental agencies.",
        subcommands: [Serve.self, WorkerCommand.self, Migrate.self, DB.self, Operator.self, Demo.self, Docs.self]
    )

    static func main() async {
        EventLoopExecutor.install()
        await main(nil)
    }
}

/// Reads the configuration or exits with one line naming the bad variable.
func loadConfig() throws -> AppConfig {
    do {
        return try AppConfig(environment: AppConfig.processEnvironment())
    } catch {
        FileHandle.standardError.write(Data("innkeep: \(error.description)\n".utf8))
        throw ExitCode(2)
    }
}

/// Prints one line to stderr and exits non-zero.
func fail(_ message: String, code: Int32 = 1) -> ExitCode {
    FileHandle.standardError.write(Data("innkeep: \(message)\n".utf8))
    return ExitCode(code)
}

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

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "worker", abstract: "Run the background worker.")

    func run() async throws {
        let config = try loadConfig()
        LoggingSetup.bootstrap(format: config.logFormat, level: config.logLevel)
        do {
            try await Runner.worker(config: config, logger: Logger(label: "innkeep.worker"))
        } catch let error as StartupError {
            throw fail(error.description)
        }
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply, revert, inspect or create migrations (as MIGRATION_DATABASE_URL).",
        subcommands: [Up.self, Down.self, Status.self, New.self])

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
                files.forEach { print($0.path) }
            } catch let error as MigrationError {
                throw fail(error.description)
            }
        }
    }
}

struct DB: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "Database administration.", subcommands: [Init.self])

    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the database, the owner and runtime login roles and the innkeep_app group (idempotent).")
        @Option(help: "A superuser URL, e.g. postgres://postgres@127.0.0.1:5432/postgres") var adminURL: String

        func run() async throws {
            let config = try loadConfig()
            LoggingSetup.bootstrap(format: .text, level: config.logLevel)
            let admin: PostgresURL
            do { admin = try PostgresURL.parse(adminURL, source: "--admin-url") } catch { throw fail("\(error.variable) \(error.problem)") }
            do {
                try await DatabaseSetup.initialize(adminURL: admin, owner: config.migrationDatabaseURL, runtime: config.databaseURL,
                                                   logger: Logger(label: "innkeep.db"))
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

struct Operator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grant or revoke platform operator (/ops/* and /metrics with the user's own token), as MIGRATION_DATABASE_URL.",
        subcommands: [Grant.self, Revoke.self])

    static func run(grant: Bool, email: String) async throws {
        let config = try loadConfig()
        LoggingSetup.bootstrap(format: .text, level: .warning)
        do {
            print(try await OperatorCommand.run(grant: grant, email: email, config: config, logger: Logger(label: "innkeep.operator")))
        } catch let error as MigrationError {
            throw fail(error.description)
        } catch {
            throw fail("operator \(grant ? "grant" : "revoke") failed: \(loggable(error))")
        }
    }

    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make the user with this email a platform operator.")
        @Argument var email: String
        func run() async throws { try await Operator.run(grant: true, email: email) }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Take platform operator away from the user with this email.")
        @Argument var email: String
        func run() async throws { try await Operator.run(grant: false, email: email) }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create (or refresh) the demo agency and print its users, passwords and tokens.")
    func run() async throws {
        let config = try loadConfig()
        LoggingSetup.bootstrap(format: .text, level: .warning)
        do {
            print(try await DemoData.seed(config: config, logger: Logger(label: "innkeep.demo")))
        } catch let error as StartupError {
            throw fail(error.description)
        }
    }
}

struct Docs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Regenerate docs/rbac.md and docs/errors.md from the code.")
    @Option(help: "Repository root") var root: String = "."
    func run() async throws {
        for (path, text) in GeneratedDocs.all {
            try text.write(toFile: root + "/" + path, atomically: true, encoding: .utf8)
            print("wrote \(path)")
        }
    }
}
