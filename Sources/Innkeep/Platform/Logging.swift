import Foundation
import Logging
import PostgresNIO

/// One JSON object per line on stderr: `{"ts", "level", "label", "msg", …metadata}`.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields: [String: JSONValue] = [
            "ts": .string(RFC3339.format(Date())), "level": .string(event.level.rawValue), "label": .string(label),
            "msg": .string(event.message.description),
        ]
        for (key, value) in metadata.merging(event.metadata ?? [:], uniquingKeysWith: { _, new in new }) {
            // Hummingbird names the request id hb.request.id; logs call it request_id.
            fields[key == "hb.request.id" ? "request_id" : key] = .string(value.description)
        }
        if event.level >= .error { fields["source"] = .string("\(event.file):\(event.line)") }
        FileHandle.standardError.write(Data((JSONValue.object(fields).serialized + "\n").utf8))
    }
}

public enum LoggingSetup {
    /// Bootstraps swift-log once per process with the configured format and level.
    public static func bootstrap(format: AppConfig.LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .json: JSONLogHandler(label: label, level: level)
            case .text:
                { var h = StreamLogHandler.standardError(label: label); h.logLevel = level; return h }()
            }
        }
    }
}

/// An error as it may appear in logs: never a query's bind values (which can hold password
/// hashes or personal data), only what identifies the failure.
public func loggable(_ error: any Error) -> String {
    switch error {
    case let e as PSQLError:
        let state = e.serverInfo?[.sqlState].map { " sqlstate=\($0)" } ?? ""
        let message = e.serverInfo?[.message].map { " message=\($0)" } ?? ""
        return "PSQLError(\(e.code)\(state)\(message))"
    case let e as DatabaseConnectError:
        return e.description
    case let e as DatabaseUnavailable:
        return "DatabaseUnavailable(\(loggable(e.underlying)))"
    case let e as PostgresTransactionError:
        return "PostgresTransactionError(\([e.beginError, e.closureError, e.commitError, e.rollbackError].compactMap { $0.map(loggable) }.joined(separator: ", ")))"
    default:
        return String(reflecting: error)
    }
}
