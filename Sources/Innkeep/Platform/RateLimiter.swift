import InnkeepRedis
import Logging

/// Fixed-window counters in Redis: per user per agency per minute, and failed logins per email.
///
/// Redis holds the one count every API process shares. A process takes hits from it in small leases
/// (`LeaseBook`): one `EVAL` grants up to 16 hits, which this process then allows without a round trip.
/// Redis sizes each lease by the room left in the window (at most an eighth of it, so one hit within 16 of
/// the limit) and never grants past the limit: every allowed request was counted in Redis first, so N
/// processes together never allow more than the limit. A process asks for one lease at a time per key;
/// requests that miss while it is being asked for count one hit each. The slack is the other way only:
/// hits a process leased but was not asked for are counted without being used, so the other processes may
/// refuse that many early (at most an eighth of the room left when the lease was granted).
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
        guard let ask = leases.take(key, now: .now) else { return nil }
        let answer = await redis.run("rate_limit") {
            try await $0.leaseWindow(key: "rl:" + key, window: window, limit: limit, want: ask.hits)
        }
        let now = ContinuousClock.now
        guard let (count, ttl, granted) = answer else {
            leases.settle(key, ask, spare: 0, until: now)
            return nil
        }
        let until = now + .milliseconds(ttl)
        if count > limit {
            leases.settle(key, ask, spare: 0, until: until)
            return max((ttl + 999) / 1000, 1)
        }
        leases.settle(key, ask, spare: granted - 1, until: until)
        return nil
    }

    /// The current count without adding to it (login limiting counts failures only).
    public func count(_ key: String) async -> Int {
        await redis.run("rate_limit", { try await $0.get("rl:" + key) }).flatMap { $0 }.flatMap { Int($0) } ?? 0
    }

    /// Takes back one hit of the current window (never creating a key, so never one without expiry).
    public func undo(_ key: String) async {
        _ = await redis.run("rate_limit") {
            try await $0.send([
                "EVAL", "if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end return 0",
                "1", "rl:" + key,
            ])
        }
    }

    /// Seconds until the window of `key` resets.
    public func retryAfter(_ key: String) async -> Int {
        let ttl = await redis.run("rate_limit") { try await $0.send(["TTL", "rl:" + key]) }
        if case .integer(let seconds)? = ttl, seconds > 0 { return seconds }
        return 60
    }
}
