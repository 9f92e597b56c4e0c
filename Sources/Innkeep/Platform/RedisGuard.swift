import InnkeepRedis
import Logging
import Synchronization

/// Redis is optional (SPEC §1): when it is down every use fails open. The first failure of an
/// outage logs one warning; the first success after it logs the recovery.
public final class RedisGuard: Sendable {
    public enum Status: String, Sendable { case ok, unavailable, disabled }

    let client: RedisClient?
    let logger: Logger
    let metrics: AppMetrics?
    private let down = Mutex(false)

    public init(client: RedisClient?, logger: Logger, metrics: AppMetrics? = nil) {
        self.client = client
        self.logger = logger
        self.metrics = metrics
    }

    /// Runs a Redis operation; nil when Redis is disabled or unreachable. A failure of an operation
    /// with a `use` is counted in `redis_fail_open_total{use}` (health pings are not).
    public func run<T: Sendable>(_ use: String? = nil, _ operation: (RedisClient) async throws -> T) async -> T? {
        guard let client else { return nil }
        do {
            let value = try await operation(client)
            if down.withLock({ d in defer { d = false }; return d }) {
                logger.notice("redis is reachable again")
            }
            return value
        } catch {
            if let use { metrics?.failOpen(use) }
            if !down.withLock({ d in defer { d = true }; return d }) {
                logger.warning("redis unavailable; rate limits and caches fail open until it returns", metadata: ["error": "\(error)"])
            }
            return nil
        }
    }

    public func status() async -> Status {
        guard client != nil else { return .disabled }
        return await run { try await $0.ping() } == true ? .ok : .unavailable
    }
}

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

    /// Seconds until the window of `key` resets.
    public func retryAfter(_ key: String) async -> Int {
        let ttl = await redis.run("rate_limit") { try await $0.send(["TTL", "rl:" + key]) }
        if case .integer(let seconds)? = ttl, seconds > 0 { return seconds }
        return 60
    }
}
