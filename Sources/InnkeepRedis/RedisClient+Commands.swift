extension RedisClient {
    /// Sends `PING`. Returns whether the reply was `PONG`; throws if Redis is unavailable.
    public func ping() async throws -> Bool {
        try await send(["PING"]) == .simpleString("PONG")
    }

    /// Returns the string at `key`, or `nil` if there is none.
    public func get(_ key: String) async throws -> String? {
        let reply = try await send(["GET", key])
        if reply.isNull { return nil }
        guard let value = reply.string else { throw RedisError.unexpectedReply(reply) }
        return value
    }

    /// Stores `value` at `key`, expiring after `expiresIn` when given (millisecond precision, at least 1 ms).
    public func set(_ key: String, _ value: String, expiresIn: Duration? = nil) async throws {
        var command = ["SET", key, value]
        if let expiresIn { command += ["PX", String(Self.milliseconds(expiresIn))] }
        let reply = try await send(command)
        guard reply == .simpleString("OK") else { throw RedisError.unexpectedReply(reply) }
    }

    /// Deletes `keys` and returns how many existed.
    @discardableResult
    public func del(_ keys: String...) async throws -> Int {
        guard !keys.isEmpty else { return 0 }  // `DEL` with no keys is an error reply.
        let reply = try await send(["DEL"] + keys)
        guard let count = reply.int else { throw RedisError.unexpectedReply(reply) }
        return count
    }

    /// Counts one hit in the fixed window stored at `key`, atomically.
    ///
    /// The first hit starts the window: the key expires `window` later and the count starts over.
    /// A key that somehow lost its expiry gets one again, so a window can never last forever.
    /// - Returns: The hits so far in this window, and the seconds until it ends (rounded up, so
    ///   it can be sent as `Retry-After`).
    public func incrementWindow(key: String, window: Duration) async throws -> (count: Int, ttlSeconds: Int) {
        let reply = try await send(["EVAL", Self.incrementWindowScript, "1", key, String(Self.milliseconds(window))])
        guard let values = reply.elements, values.count == 2, let count = values[0].int, let ttl = values[1].int else {
            throw RedisError.unexpectedReply(reply)
        }
        return (count, ttl)
    }

    /// INCR and (P)EXPIRE in one script, so no crash between them can leave a counter without expiry.
    static let incrementWindowScript = """
        local count = redis.call('INCR', KEYS[1])
        local ttl = redis.call('PTTL', KEYS[1])
        if count == 1 or ttl < 0 then
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
          ttl = tonumber(ARGV[1])
        end
        return {count, math.ceil(ttl / 1000)}
        """

    /// Takes up to `want` hits of the fixed window at `key` at once (a lease), never granting past `limit`:
    /// at most an eighth of the room left, at least one hit; when the window has no room, it counts the one
    /// hit (as `incrementWindow` would) and grants it, so the returned count exceeds `limit`.
    /// - Returns: The count after this lease, the window's remaining milliseconds, and the hits granted.
    public func leaseWindow(key: String, window: Duration, limit: Int, want: Int) async throws -> (count: Int, ttlMilliseconds: Int, granted: Int) {
        let reply = try await send(["EVAL", Self.leaseWindowScript, "1", key, String(Self.milliseconds(window)), String(limit), String(max(1, want))])
        guard let values = reply.elements, values.count == 3, let count = values[0].int, let ttl = values[1].int, let granted = values[2].int else {
            throw RedisError.unexpectedReply(reply)
        }
        return (count, ttl, granted)
    }

    /// GET, INCRBY and (P)EXPIRE in one script: the grant is at most `want` and an eighth of the room left
    /// (at least one hit), so it never takes the count past the limit; and no crash can leave a counter
    /// without expiry.
    static let leaseWindowScript = """
        local limit = tonumber(ARGV[2])
        local count = tonumber(redis.call('GET', KEYS[1]) or '0')
        local grant = 1
        if count < limit then grant = math.min(tonumber(ARGV[3]), math.max(1, math.floor((limit - count) / 8))) end
        count = redis.call('INCRBY', KEYS[1], grant)
        local ttl = redis.call('PTTL', KEYS[1])
        if count == grant or ttl < 0 then
          redis.call('PEXPIRE', KEYS[1], ARGV[1])
          ttl = tonumber(ARGV[1])
        end
        return {count, ttl, grant}
        """

    /// Whole milliseconds in `duration`, rounded up and at least 1, because Redis rejects a zero expiry.
    static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        let perMillisecond: Int64 = 1_000_000_000_000_000
        let (wholeMs, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return Int(Int64.max / 2) }
        let extra = attoseconds / perMillisecond + (attoseconds % perMillisecond > 0 ? 1 : 0)
        return Int(max(1, wholeMs + extra))
    }
}
