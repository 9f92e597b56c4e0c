import ArgumentParser
import Foundation
import Innkeep
import Logging

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
