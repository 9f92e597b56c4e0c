/// One RESP2 reply from Redis.
public enum RESPValue: Sendable, Equatable {
    /// A status reply such as `OK` or `PONG`.
    case simpleString(String)
    /// An error reply. `RedisClient.send` throws these as `RedisError.server` instead of returning them,
    /// but they can still appear nested inside arrays (e.g. in an `EXEC` result).
    case error(String)
    /// An integer reply.
    case integer(Int)
    /// A binary-safe string; `nil` is the RESP null bulk string (`$-1`), e.g. `GET` of a missing key.
    case bulkString([UInt8]?)
    /// An array of replies; `nil` is the RESP null array (`*-1`).
    case array([RESPValue]?)
}

extension RESPValue {
    /// The integer value: an integer reply, or a string reply holding a decimal number.
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .simpleString, .bulkString: string.flatMap { Int($0) }
        case .error, .array: nil
        }
    }

    /// The text of a simple or (UTF-8 decoded) bulk string; `nil` for null and non-string replies.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let bytes?): String(decoding: bytes, as: UTF8.self)
        case .bulkString(nil), .error, .integer, .array: nil
        }
    }

    /// The raw bytes of a bulk string; `nil` for null and non-bulk replies.
    public var bytes: [UInt8]? {
        if case .bulkString(let bytes) = self { return bytes }
        return nil
    }

    /// The elements of an array reply; `nil` for a null array and non-array replies.
    public var elements: [RESPValue]? {
        if case .array(let elements) = self { return elements }
        return nil
    }

    /// Whether this is the null bulk string or the null array.
    public var isNull: Bool {
        self == .bulkString(nil) || self == .array(nil)
    }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let text): "+\(text)"
        case .error(let message): "-\(message)"
        case .integer(let value): ":\(value)"
        case .bulkString(nil), .array(nil): "(nil)"
        case .bulkString(let bytes?): "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .array(let elements?): "[" + elements.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
