import Foundation
import PackagePlugin

/// Embeds the commit the binary is built from (`BuildCommit.sha`), so /ops/current-commit can
/// report it when COMMIT_SHA is not set. The file is rewritten only when the commit changes,
/// so an unchanged checkout does not recompile.
@main
struct StampCommit: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let output = context.pluginWorkDirectoryURL.appending(path: "BuildCommit.swift")
        let script = """
            sha=$(git -C "$1" rev-parse HEAD 2>/dev/null || echo unknown)
            case "$(git -C "$1" status --porcelain --untracked-files=no 2>/dev/null)" in ?*) sha="$sha-dirty";; esac
            new="enum BuildCommit { static let sha = \\"$sha\\" }"
            [ "$(cat "$2" 2>/dev/null)" = "$new" ] || printf '%s\\n' "$new" > "$2"
            """
        return [.prebuildCommand(
            displayName: "Stamp the build commit",
            executable: URL(fileURLWithPath: "/bin/sh"),
            arguments: ["-c", script, "sh", context.package.directoryURL.path, output.path],
            outputFilesDirectory: context.pluginWorkDirectoryURL)]
    }
}
