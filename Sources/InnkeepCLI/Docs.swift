import ArgumentParser
import Foundation
import Innkeep
import Logging

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
