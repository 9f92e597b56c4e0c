/// A JSON parser for request bodies (RFC 8259): one pass, linear in the input, nesting at most
/// `maxDepth` (SPEC §14). Foundation's decoder, driven through `JSONValue`'s `Decodable` conformance,
/// tried each type in turn at every level and took seconds on a 1 MiB body of empty objects.
public struct JSONParser {
    public static let maxDepth = 64

    public enum Failure: Error, Equatable {
        case invalid
        case tooDeep
    }

    private let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Parses one JSON text (surrounding whitespace allowed).
    public static func parse(_ input: some Collection<UInt8>) throws(Failure) -> JSONValue {
        let result: Result<JSONValue, Failure>? = input.withContiguousStorageIfAvailable { Self.parse(buffer: $0) }
        switch result ?? Array(input).withUnsafeBufferPointer({ Self.parse(buffer: $0) }) {
        case .success(let value): return value
        case .failure(let failure): throw failure
        }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, Failure> {
        var parser = JSONParser(buffer)
        do {
            parser.skipWhitespace()
            let value = try parser.value(depth: 0)
            parser.skipWhitespace()
            guard parser.i == buffer.count else { return .failure(.invalid) }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    private var atEnd: Bool { i >= bytes.count }
    private var current: UInt8 { bytes[i] }

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func expect(_ literal: StaticString) throws(Failure) {
        let count = literal.utf8CodeUnitCount
        guard i + count <= bytes.count else { throw .invalid }
        let start = literal.utf8Start
        for k in 0..<count where bytes[i + k] != start[k] { throw .invalid }
        i += count
    }

    private mutating func value(depth: Int) throws(Failure) -> JSONValue {
        guard !atEnd else { throw .invalid }
        switch current {
        case UInt8(ascii: "{"):
            guard depth < Self.maxDepth else { throw .tooDeep }
            i += 1
            var object: [String: JSONValue] = [:]
            skipWhitespace()
            if !atEnd, current == UInt8(ascii: "}") {
                i += 1
                return .object(object)
            }
            while true {
                skipWhitespace()
                guard !atEnd, current == UInt8(ascii: "\"") else { throw .invalid }
                let key = try string()
                skipWhitespace()
                guard !atEnd, current == UInt8(ascii: ":") else { throw .invalid }
                i += 1
                skipWhitespace()
                object[key] = try value(depth: depth + 1)
                skipWhitespace()
                guard !atEnd else { throw .invalid }
                if current == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard current == UInt8(ascii: "}") else { throw .invalid }
                i += 1
                return .object(object)
            }
        case UInt8(ascii: "["):
            guard depth < Self.maxDepth else { throw .tooDeep }
            i += 1
            var array: [JSONValue] = []
            skipWhitespace()
            if !atEnd, current == UInt8(ascii: "]") {
                i += 1
                return .array(array)
            }
            while true {
                skipWhitespace()
                array.append(try value(depth: depth + 1))
                skipWhitespace()
                guard !atEnd else { throw .invalid }
                if current == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard current == UInt8(ascii: "]") else { throw .invalid }
                i += 1
                return .array(array)
            }
        case UInt8(ascii: "\""):
            return .string(try string())
        case UInt8(ascii: "t"):
            try expect("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expect("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expect("null")
            return .null
        default:
            return try number()
        }
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private mutating func number() throws(Failure) -> JSONValue {
        let start = i
        var integral = true
        if !atEnd, current == UInt8(ascii: "-") { i += 1 }
        guard !atEnd, Self.isDigit(current) else { throw .invalid }
        if current == UInt8(ascii: "0") {
            i += 1
        } else {
            while !atEnd, Self.isDigit(current) { i += 1 }
        }
        if !atEnd, current == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard !atEnd, Self.isDigit(current) else { throw .invalid }
            while !atEnd, Self.isDigit(current) { i += 1 }
        }
        if !atEnd, current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            integral = false
            i += 1
            if !atEnd, current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { i += 1 }
            guard !atEnd, Self.isDigit(current) else { throw .invalid }
            while !atEnd, Self.isDigit(current) { i += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
        if integral, let n = Int64(text) { return .int(n) }
        guard let d = Double(text), d.isFinite else { throw .invalid }
        // A whole number written as 2.0 or 1e2 is an integer, as Foundation's decoder read it.
        if d == d.rounded(), abs(d) < 9_007_199_254_740_992, let n = Int64(exactly: d) { return .int(n) }
        return .double(d)
    }

    private mutating func hex4() throws(Failure) -> UInt32 {
        guard i + 4 <= bytes.count else { throw .invalid }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[i]
            let d: UInt32
            switch b {
            case 0x30...0x39: d = UInt32(b - 0x30)
            case 0x41...0x46: d = UInt32(b - 0x41 + 10)
            case 0x61...0x66: d = UInt32(b - 0x61 + 10)
            default: throw .invalid
            }
            v = v << 4 | d
            i += 1
        }
        return v
    }

    /// A string starting at the opening quote; its bytes must be valid UTF-8 with no raw control characters.
    private mutating func string() throws(Failure) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<i])
                i += 1
                guard let s = String(validating: slice, as: UTF8.self) else { throw .invalid }
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            guard b >= 0x20 else { throw .invalid }
            i += 1
        }
        var out = Array(UnsafeBufferPointer(rebasing: bytes[start..<i]))
        while true {
            guard !atEnd else { throw .invalid }
            let b = current
            i += 1
            switch b {
            case UInt8(ascii: "\""):
                guard let s = String(validating: out, as: UTF8.self) else { throw .invalid }
                return s
            case UInt8(ascii: "\\"):
                guard !atEnd else { throw .invalid }
                let e = current
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        guard i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") else { throw .invalid }
                        i += 2
                        let low = try hex4()
                        guard (0xDC00...0xDFFF).contains(low) else { throw .invalid }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw .invalid
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw .invalid }
                    out.append(contentsOf: String(Character(u)).utf8)
                default:
                    throw .invalid
                }
            default:
                guard b >= 0x20 else { throw .invalid }
                out.append(b)
            }
        }
    }
}
