import Foundation

/// A value that writes its own JSON: a resource row goes from its decoded fields straight into the
/// response bytes, without a `JSONValue` dictionary per row (docs/benchmarks.md, issue 17).
///
/// `writeJSON` must write object keys in ascending order, so the bytes are the ones `JSONValue`
/// would write for the same object (its objects are sorted); `JSONWriterTests` checks each type.
public protocol JSONWritable: Sendable {
    func writeJSON(_ w: inout JSONWriter)
}

extension JSONWritable {
    /// The compact JSON bytes.
    var jsonBytes: [UInt8] {
        var w = JSONWriter()
        writeJSON(&w)
        return w.bytes
    }

    /// The compact JSON text.
    public var jsonText: String { String(decoding: jsonBytes, as: UTF8.self) }

    /// The value as a tree, for the few callers that edit or inspect it.
    public var json: JSONValue {
        guard let value = JSONValue.parse(jsonBytes) else { preconditionFailure("\(Self.self) wrote invalid JSON") }
        return value
    }
}

extension JSONValue: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) { w.value(self) }
    public var json: JSONValue { self }
}

/// Writes JSON into one growing byte buffer: `object` and `array` open a container, `field` adds a
/// member to an object, and separators are placed as it goes.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Whether the next member or element needs a comma before it.
    private var separate = false

    public init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        open(UInt8(ascii: "{"))
        body(&self)
        close(UInt8(ascii: "}"))
    }

    public mutating func array<S: Sequence>(_ elements: S, _ write: (inout JSONWriter, S.Element) -> Void) {
        open(UInt8(ascii: "["))
        for e in elements {
            comma()
            write(&self, e)
            separate = true
        }
        close(UInt8(ascii: "]"))
    }

    /// Any `JSONValue` (as an array element or after a key).
    public mutating func value(_ v: JSONValue) { v.write(to: &bytes) }

    // MARK: Members of an object, in ascending key order.

    public mutating func field(_ key: StaticString, _ v: JSONValue) { member(key) { $0.value(v) } }
    public mutating func field(_ key: StaticString, _ v: String) { member(key) { JSONValue.writeString(v, to: &$0.bytes) } }
    public mutating func field(_ key: StaticString, _ v: String?) {
        member(key) { w in if let v { JSONValue.writeString(v, to: &w.bytes) } else { w.null() } }
    }
    public mutating func field(_ key: StaticString, _ v: Int) { member(key) { JSONValue.writeInt(Int64(v), to: &$0.bytes) } }
    public mutating func field(_ key: StaticString, _ v: Int64?) {
        member(key) { w in if let v { JSONValue.writeInt(v, to: &w.bytes) } else { w.null() } }
    }
    public mutating func field(_ key: StaticString, _ v: Bool) { member(key) { $0.bytes.append(contentsOf: (v ? "true" : "false").utf8) } }
    public mutating func field(_ key: StaticString, _ v: UUID?) {
        member(key) { w in if let v { w.uuid(v) } else { w.null() } }
    }
    public mutating func field(_ key: StaticString, _ v: Date?) {
        member(key) { w in if let v { JSONValue.writeString(RFC3339.format(v), to: &w.bytes) } else { w.null() } }
    }
    public mutating func field(_ key: StaticString, _ v: some JSONWritable) { member(key) { v.writeJSON(&$0) } }
    public mutating func field<S: Sequence>(_ key: StaticString, array elements: S, _ write: (inout JSONWriter, S.Element) -> Void) {
        member(key) { $0.array(elements, write) }
    }
    /// An array of JSON values that arrive already written and joined with commas (`JSONPage`).
    mutating func field(_ key: StaticString, joinedJSON elements: some Collection<UInt8>) {
        member(key) { w in
            w.bytes.append(UInt8(ascii: "["))
            w.bytes.append(contentsOf: elements)
            w.bytes.append(UInt8(ascii: "]"))
        }
    }

    // MARK: Internals

    private mutating func member(_ key: StaticString, _ write: (inout JSONWriter) -> Void) {
        comma()
        // Keys are ASCII names chosen here: nothing to escape.
        bytes.append(UInt8(ascii: "\""))
        key.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: "\":".utf8)
        write(&self)
        separate = true
    }

    private mutating func comma() {
        if separate { bytes.append(UInt8(ascii: ",")) }
    }

    private mutating func open(_ bracket: UInt8) {
        bytes.append(bracket)
        separate = false
    }

    private mutating func close(_ bracket: UInt8) {
        bytes.append(bracket)
        separate = true
    }

    private mutating func null() { bytes.append(contentsOf: "null".utf8) }

    /// A quoted lowercase UUID, written from its 16 bytes.
    private mutating func uuid(_ id: UUID) {
        bytes.append(UInt8(ascii: "\""))
        let start = bytes.count
        bytes.append(contentsOf: repeatElement(0, count: 36))
        bytes.withUnsafeMutableBufferPointer { UUID.writeLowercased(id, into: UnsafeMutableBufferPointer(rebasing: $0[start...])) }
        bytes.append(UInt8(ascii: "\""))
    }
}
