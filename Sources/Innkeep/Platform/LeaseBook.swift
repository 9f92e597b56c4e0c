import Synchronization

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
