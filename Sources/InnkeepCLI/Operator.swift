import ArgumentParser
import Foundation
import Innkeep
import Logging

struct Operator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grant or revoke platform operator (/ops/* and /metrics with the user's own token), as MIGRATION_DATABASE_URL.",
        subcommands: [Grant.self, Revoke.self]
    )

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
