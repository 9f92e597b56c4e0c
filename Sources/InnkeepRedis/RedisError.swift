/// Everything that can go wrong talking to Redis.
public enum RedisError: Error, Sendable, Equatable {
    /// Redis could not be reached, the connection dropped, or a command timed out.
    /// Every command pending on that connection fails with this; the next command reconnects.
    case unavailable(String)
    /// Redis answered with an error reply (e.g. `ERR unknown command`, `WRONGTYPE ...`).
    case server(String)
    /// A `redis://` URL could not be understood.
    case invalidURL(String)
    /// The bytes from the server are not valid RESP2 (the connection is closed when this happens).
    case protocolViolation(String)
    /// A convenience method got a reply of a shape it does not expect.
    case unexpectedReply(RESPValue)
    /// The client was asked to do something it cannot, such as sending an empty command.
    case invalidCommand(String)
}

extension RedisError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .unavailable(let reason): "Redis unavailable: \(reason)"
        case .server(let message): "Redis error reply: \(message)"
        case .invalidURL(let reason): "Invalid Redis URL: \(reason)"
        case .protocolViolation(let reason): "Redis protocol violation: \(reason)"
        case .unexpectedReply(let reply): "Unexpected Redis reply: \(reply)"
        case .invalidCommand(let reason): "Invalid Redis command: \(reason)"
        }
    }
}
