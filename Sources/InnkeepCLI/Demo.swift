import ArgumentParser
import Foundation
import Innkeep
import Logging

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
