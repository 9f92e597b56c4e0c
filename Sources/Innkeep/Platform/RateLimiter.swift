import InnkeepRedis
import Logging
import Synchronization

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
        var spare = 0
        var until: ContinuousClock.Instant
        /// A lease for this key is being asked for: other misses ask for one hit instead of a second lease.
        var asking = false
    }
    /// What to ask Redis for: `hits`, and whether this is the key's one lease in flight.
    struct Ask {
        let hits: Int
        let leasing: Bool
    }
    static let largest = 16
    private let leases = Mutex<[String: Lease]>([:])

    /// Uses one leased hit of `key`'s current window and answers nil, or says what to ask Redis for.
    func take(_ key: String, now: ContinuousClock.Instant) -> Ask? {
        leases.withLock { leases in
            var lease = leases[key] ?? Lease(until: now)
            if lease.spare > 0, now < lease.until {
                lease.spare -= 1
                leases[key] = lease
                return nil
            }
            if lease.asking { return Ask(hits: 1, leasing: false) }
            lease.asking = true
            leases[key] = lease
            return Ask(hits: Self.largest, leasing: true)
        }
    }

    /// Records Redis's answer to `ask`: `spare` more hits to use until `until` (added to what is left of the
    /// same window, so two answers arriving together lose none).
    func settle(_ key: String, _ ask: Ask, spare: Int, until: ContinuousClock.Instant) {
        leases.withLock { leases in
            if leases.count >= 50_000 {  // one entry per active user and agency; drop the finished windows
                let now = ContinuousClock.now
                leases = leases.filter { now < $0.value.until || $0.value.asking }
            }
            var lease = leases[key] ?? Lease(until: until)
            if ask.leasing { lease.asking = false }
            lease.spare = ContinuousClock.now < lease.until ? lease.spare + spare : spare
            lease.until = until
            leases[key] = lease
        }
    }
}
