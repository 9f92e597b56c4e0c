import NIOCore

/// Encodes commands the way Redis expects them from clients: an array of bulk strings.
///
/// Lengths are UTF-8 byte counts, so arguments may contain any bytes, including `\r\n`.
public enum RESPEncoder {
    /// Appends `command` (e.g. `["SET", "key", "value"]`) to `buffer` as a RESP array of bulk strings.
    public static func encode(_ command: [String], into buffer: inout ByteBuffer) {
        buffer.writeStaticString("*")
        buffer.writeString(String(command.count))
        buffer.writeStaticString("\r\n")
        for argument in command {
            buffer.writeStaticString("$")
            buffer.writeString(String(argument.utf8.count))
            buffer.writeStaticString("\r\n")
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Returns `command` encoded as a RESP array of bulk strings.
    public static func encode(_ command: [String]) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: 16 + command.reduce(0) { $0 + $1.utf8.count + 16 })
        encode(command, into: &buffer)
        return buffer
    }
}
