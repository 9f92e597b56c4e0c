import InnkeepRedis
import Logging
import Synchronization

/// Fixed-window counters in Redis: per user per agency per minute, and failed logins per email.
///
/// Redis holds the one count every API process shares. A process takes hits from it in small leases
/// (`LeaseBook`): far from the limit one `EVAL` grants up to 16 hits, which this process then allows
/// without a round trip; as the window fills the leases shrink to one hit (at most an eighth of what is
/// left), and Redis never grants past the limit. So every allowed request was counted in Redis first:
/// N processes together never allow more than the limit. The slack is the other way only: hits a
/// process leased but was not asked for are counted without being used, so the other processes may
/// refuse up to that many (at most 15 per process, and at most an eighth of the room left) early.
/// With a limit under 16 every lease is a single hit, exactly as one `INCR` per request.
///
/// Only the per-request limiter leases (`AppServices.rateLimiter`); without a `LeaseBook` (the sign-up and
/// login limiters, whose `undo` gives a place back) every hit is one `EVAL` counting one hit, as before.
public struct RateLimiter: Sendable {
    let redis: RedisGuard
    var leases: LeaseBook? = nil

    /// Counts one hit; returns the seconds to wait when `limit` is exceeded, nil when allowed
    /// (or when Redis is down: fail open).
    public func hit(_ key: String, limit: Int, window: Duration = .seconds(60)) async -> Int? {
        guard let leases else {
            guard let (count, ttl) = await redis.run("rate_limit", { try await $0.incrementWindow(key: "rl:" + key, window: window) }) else {
                return nil
            }
            return count > limit ? max(ttl, 1) : nil
        }
        let now = ContinuousClock.now
        if leases.take(key, now: now) { return nil }
        let want = leases.size(key, limit: limit, now: now)
        guard let (count, ttl, granted) = await redis.run("rate_limit", {
            try await $0.leaseWindow(key: "rl:" + key, window: window, limit: limit, want: want)
        }) else {
            return nil
        }
        if count > limit {
            leases.forget(key)
            return max((ttl + 999) / 1000, 1)
        }
        leases.store(key, spare: granted - 1, count: count, until: now + .milliseconds(ttl))
        return nil
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

/// The rate-limit hits this process leased from Redis and has not used yet, per key (see `RateLimiter`).
final class LeaseBook: Sendable {
    struct Lease {
        var spare: Int
        /// The window's count in Redis after the lease was granted.
        var count: Int
        var until: ContinuousClock.Instant
    }
    static let largest = 16
    private let leases = Mutex<[String: Lease]>([:])

    /// Uses one leased hit of `key`'s current window, if one is left.
    func take(_ key: String, now: ContinuousClock.Instant) -> Bool {
        leases.withLock { leases in
            guard var lease = leases[key], lease.spare > 0, now < lease.until else { return false }
            lease.spare -= 1
            leases[key] = lease
            return true
        }
    }

    /// How many hits to ask for: an eighth of the room the last lease left in this window (1 without one
    /// known and a limit under 16), between 1 and `largest`.
    func size(_ key: String, limit: Int, now: ContinuousClock.Instant) -> Int {
        let count = leases.withLock { leases in leases[key].flatMap { now < $0.until ? $0.count : nil } ?? 0 }
        return min(Self.largest, max(1, (limit - count) / 8))
    }

    func store(_ key: String, spare: Int, count: Int, until: ContinuousClock.Instant) {
        leases.withLock { leases in
            if leases.count >= 50_000 {  // one entry per active user and agency; drop the finished windows
                let now = ContinuousClock.now
                leases = leases.filter { now < $0.value.until }
            }
            leases[key] = Lease(spare: spare, count: count, until: until)
        }
    }

    func forget(_ key: String) {
        _ = leases.withLock { $0.removeValue(forKey: key) }
    }
}
