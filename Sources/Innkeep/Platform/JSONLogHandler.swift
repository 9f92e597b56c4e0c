import Foundation
import Logging

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
        // The access log writes one of these per request: fields go straight into one byte buffer (keys
        // sorted, as `JSONValue.serialized` wrote them) and out in one write(2), without a dictionary of
        // `JSONValue`s, a `String` and a `Data` in between.
        var fields: [(key: String, value: String)] = [
            ("ts", RFC3339.format(Date())), ("level", event.level.rawValue), ("label", label), ("msg", event.message.description),
        ]
        let extra = event.metadata ?? [:]
        fields.reserveCapacity(4 + metadata.count + extra.count + 1)
        for (key, value) in metadata where extra[key] == nil { fields.append((Self.name(key), value.description)) }
        for (key, value) in extra { fields.append((Self.name(key), value.description)) }
        if event.level >= .error { fields.append(("source", "\(event.file):\(event.line)")) }
        fields.sort { $0.key < $1.key }
        var line: [UInt8] = []
        line.reserveCapacity(256)
        line.append(UInt8(ascii: "{"))
        for (i, (key, value)) in fields.enumerated() {
            // The sort is stable and metadata came after the base fields: on a repeated key the last wins.
            if i + 1 < fields.count && fields[i + 1].key == key { continue }
            if line.count > 1 { line.append(UInt8(ascii: ",")) }
            JSONValue.writeString(key, to: &line)
            line.append(UInt8(ascii: ":"))
            JSONValue.writeString(value, to: &line)
        }
        line.append(contentsOf: "}\n".utf8)
        Self.writeToStandardError(line)
    }

    /// Hummingbird names the request id hb.request.id; logs call it request_id.
    private static func name(_ key: String) -> String { key == "hb.request.id" ? "request_id" : key }

    private static func writeToStandardError(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = write(2, raw.baseAddress! + offset, raw.count - offset)
                if n > 0 { offset += n } else if n < 0 && errno == EINTR { continue } else { return }
            }
        }
    }
}
