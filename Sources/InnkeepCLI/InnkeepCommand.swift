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
