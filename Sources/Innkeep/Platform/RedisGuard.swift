import InnkeepRedis
import Logging
import Synchronization

/// Redis is optional (SPEC §1): when it is down every use fails open. The first failure of an
/// outage logs one warning; the first success after it logs the recovery.
///
/// A circuit keeps a hung Redis (one that accepts and never answers) from costing every request its
/// command timeout (SPEC §14): after a failure, calls skip Redis for `openFor`; then one call at a time
/// probes it, the others still skipping, until one succeeds.
public final class RedisGuard: Sendable {
    public enum Status: String, Sendable { case ok, unavailable, disabled }

    let client: RedisClient?
    let logger: Logger
    let metrics: AppMetrics?
    /// How long the circuit stays open after a failure (nil: no circuit, every call tries Redis).
    let openFor: Duration?
    private struct Circuit {
        var down = false
        var openUntil: ContinuousClock.Instant?
        var probing = false
    }
    private let circuit = Mutex(Circuit())

    public init(client: RedisClient?, logger: Logger, metrics: AppMetrics? = nil, openFor: Duration? = .seconds(2)) {
        self.client = client
        self.logger = logger
        self.metrics = metrics
        self.openFor = openFor
    }

    private enum Admission { case call, probe, skip }

    /// Runs a Redis operation; nil when Redis is disabled, unreachable, or the circuit is open. A failure
    /// or skip of an operation with a `use` is counted in `redis_fail_open_total{use}` (health pings are not).
    /// `bypassingCircuit`: the health check, which must tell the truth (and, succeeding, closes the circuit).
    public func run<T: Sendable>(
        _ use: String? = nil,
        bypassingCircuit: Bool = false,
        _ operation: (RedisClient) async throws -> T
    ) async -> T? {
        guard let client else { return nil }
        let now = ContinuousClock.now
        let admission = circuit.withLock { c -> Admission in
            guard let until = c.openUntil, !bypassingCircuit, openFor != nil else { return .call }
            if now < until || c.probing { return .skip }
            c.probing = true
            return .probe
        }
        if admission == .skip {
            if let use { metrics?.failOpen(use) }
            return nil
        }
        do {
            let value = try await operation(client)
            let recovered = circuit.withLock { c in
                defer { c = Circuit() }
                return c.down
            }
            if recovered { logger.notice("redis is reachable again") }
            return value
        } catch {
            if let use { metrics?.failOpen(use) }
            let openFor = openFor
            let firstFailure = circuit.withLock { c in
                defer {
                    c.down = true
                    c.openUntil = openFor.map { ContinuousClock.now + $0 }
                    if admission == .probe { c.probing = false }
                }
                return !c.down
            }
            if firstFailure {
                logger.warning("redis unavailable; rate limits and caches fail open until it returns", metadata: ["error": "\(error)"])
            }
            return nil
        }
    }

    public func status() async -> Status {
        guard client != nil else { return .disabled }
        return await run(bypassingCircuit: true) { try await $0.ping() } == true ? .ok : .unavailable
    }
}
