import InnkeepRedis
import Logging
import Synchronization

/// Fixed-window counters in Redis: per user per agency per minute, and failed logins per email.
public struct RateLimiter: Sendable {
    let redis: RedisGuard

    /// Counts one hit; returns the seconds to wait when `limit` is exceeded, nil when allowed
    /// (or when Redis is down: fail open).
    public func hit(_ key: String, limit: Int, window: Duration = .seconds(60)) async -> Int? {
        guard let (count, ttl) = await redis.run("rate_limit", { try await $0.incrementWindow(key: "rl:" + key, window: window) }) else {
            return nil
        }
        return count > limit ? max(ttl, 1) : nil
    }

    /// The current count without adding to it (login limiting counts failures only).
    public func count(_ key: String) async -> Int {
        await redis.run("rate_limit", { try await $0.get("rl:" + key) }).flatMap { $0 }.flatMap { Int($0) } ?? 0
    }

    /// Takes back one hit of the current window (never creating a key, so never one without expiry).
    public func undo(_ key: String) async {
        _ = await redis.run("rate_limit") {
            try await $0.send(["EVAL", "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0",
                               "1", "rl:" + key])
        }
    }

    /// Seconds until the window of `key` resets.
    public func retryAfter(_ key: String) async -> Int {
        let ttl = await redis.run("rate_limit") { try await $0.send(["TTL", "rl:" + key]) }
        if case .integer(let seconds)? = ttl, seconds > 0 { return seconds }
        return 60
    }
}
