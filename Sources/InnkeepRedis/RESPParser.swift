import NIOCore

/// Incremental RESP2 parser.
///
/// It returns `nil` (consuming nothing) until a whole reply has arrived, so a reply split across
/// TCP packets is simply parsed again once more bytes are appended.
public enum RESPParser {
    /// Redis itself caps bulk strings at 512 MB; a larger length means the stream is corrupt.
    static let maxBulkLength = 512 * 1024 * 1024
    /// Redis never nests this deep; refusing deeper input keeps recursion from overflowing the stack.
    static let maxDepth = 64

    /// Parses one complete reply from the front of `buffer` and consumes its bytes.
    /// - Returns: The reply, or `nil` with `buffer` untouched when more bytes are needed.
    /// - Throws: `RedisError.protocolViolation` when the bytes are not valid RESP2.
    public static func parse(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        var cursor = buffer
        guard let value = try parseValue(&cursor, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: cursor.readerIndex)
        return value
    }

    private static func parseValue(_ buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        guard depth <= maxDepth else { throw violation("arrays nested deeper than \(maxDepth)") }
        guard let type = buffer.readInteger(as: UInt8.self), let line = try readLine(&buffer) else { return nil }
        switch type {
        case UInt8(ascii: "+"):
            return .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            return .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            return .integer(try parseInteger(line))
        case UInt8(ascii: "$"):
            return try parseBulkString(length: try parseInteger(line), from: &buffer)
        case UInt8(ascii: "*"):
            return try parseArray(count: try parseInteger(line), from: &buffer, depth: depth)
        default:
            throw violation("unknown reply type byte 0x\(String(type, radix: 16))")
        }
    }

    private static func parseBulkString(length: Int, from buffer: inout ByteBuffer) throws -> RESPValue? {
        if length == -1 { return .bulkString(nil) }
        guard (0...maxBulkLength).contains(length) else { throw violation("bad bulk string length \(length)") }
        guard buffer.readableBytes >= length + 2, let bytes = buffer.readBytes(length: length) else { return nil }
        guard buffer.readInteger(as: UInt16.self) == 0x0D0A else { throw violation("bulk string not ended by CRLF") }
        return .bulkString(bytes)
    }

    private static func parseArray(count: Int, from buffer: inout ByteBuffer, depth: Int) throws -> RESPValue? {
        if count == -1 { return .array(nil) }
        guard count >= 0 else { throw violation("bad array length \(count)") }
        // Each element takes at least 3 bytes, so a bogus huge count runs out of data quickly.
        var elements: [RESPValue] = []
        elements.reserveCapacity(min(count, buffer.readableBytes / 3))
        for _ in 0..<count {
            guard let element = try parseValue(&buffer, depth: depth + 1) else { return nil }
            elements.append(element)
        }
        return .array(elements)
    }

    /// Reads up to the next CRLF, or returns nil if it has not arrived yet.
    private static func readLine(_ buffer: inout ByteBuffer) throws -> [UInt8]? {
        let view = buffer.readableBytesView
        guard let carriageReturn = view.firstIndex(of: UInt8(ascii: "\r")) else { return nil }
        let lineFeed = view.index(after: carriageReturn)
        guard lineFeed < view.endIndex else { return nil }
        guard view[lineFeed] == UInt8(ascii: "\n") else { throw violation("CR not followed by LF") }
        let line = Array(view[view.startIndex..<carriageReturn])
        buffer.moveReaderIndex(forwardBy: line.count + 2)
        return line
    }

    private static func parseInteger(_ line: [UInt8]) throws -> Int {
        guard let value = Int(String(decoding: line, as: UTF8.self)) else {
            throw violation("not an integer: \(String(decoding: line.prefix(32), as: UTF8.self))")
        }
        return value
    }

    private static func violation(_ reason: String) -> RedisError {
        .protocolViolation(reason)
    }
}

/// Turns the inbound byte stream into `RESPValue`s; NIO keeps the unparsed remainder between reads.
struct RESPDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESPValue

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try RESPParser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }
}
