import Foundation

/// Files that ship beside the binary rather than inside it (the migrations folder, openapi.yaml).
enum ShippedFile {
    /// The environment variable `variable` when set; else `name` in the working directory; else `name`
    /// in the nearest ancestor folder of the executable that has `probe` (a path relative to that folder).
    static func locate(_ name: String, variable: String, probe: String? = nil) -> URL {
        if let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty { return URL(fileURLWithPath: path) }
        let fm = FileManager.default
        if fm.fileExists(atPath: name) { return URL(fileURLWithPath: name) }
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            if fm.fileExists(atPath: dir.appendingPathComponent(probe ?? name).path) { return dir.appendingPathComponent(name) }
            dir.deleteLastPathComponent()
        }
        return URL(fileURLWithPath: name)
    }
}
