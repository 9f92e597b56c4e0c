import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Owns the `PostgresClient` and replaces it when it is stuck backing off (SPEC §6: serve again
/// within 5 s of the database coming back).
///
/// PostgresNIO's pool retries a failed connect after 100 ms × 1.25^n (capped at 60 s) and offers no
/// way to retry sooner, so after a long outage it can wait many seconds (9 s after 75 s down,
/// measured) after the database is back. So when a request finds no connection at all, a probe
/// opens a direct connection every 250 ms; once one succeeds while the pool still has given out
/// nothing, a fresh pool takes over and the old one is shut down.
final class PoolKeeper: Sendable {
    private enum Phase { case idle, running, stopped }
    private struct State {
        var client: PostgresClient
        var phase = Phase.idle
        /// Run tasks of the current pool (last) and of retired ones; all are cancelled at shutdown.
        var runs: [Task<Void, Never>] = []
        /// Connections leased now, and leases ever: a pool that gives out connections is not stuck.
        var holding = 0
        var leases = 0
        var lastFailure = ContinuousClock.now
        var probing = false
    }

    private let state: Mutex<State>
    private let url: PostgresURL
    private let configuration: PostgresClient.Configuration
    private let logger: Logger
    private let stop: (stream: AsyncStream<Void>, continuation: AsyncStream<Void>.Continuation) = AsyncStream.makeStream()
    static let probeInterval: Duration = .milliseconds(250)
    /// A probe with no failed lease for this long stops (nobody needs the database); the next failure restarts it.
    static let probeIdleLimit: Duration = .seconds(10)

    init(url: PostgresURL, configuration: PostgresClient.Configuration, logger: Logger) {
        self.url = url
        self.configuration = configuration
        self.logger = logger
        state = Mutex(State(client: PostgresClient(configuration: configuration, backgroundLogger: logger)))
    }

    var client: PostgresClient { state.withLock { $0.client } }

    func run() async {
        let started = state.withLock { state -> Bool in
            guard state.phase == .idle else { return false }
            state.phase = .running
            let client = state.client
            state.runs.append(Task { await client.run() })
            return true
        }
        guard started else { return }
        let stop = stop
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await _ in stop.stream {}
            } onGracefulShutdown: {
                stop.continuation.finish()
            }
        } onCancel: {
            stop.continuation.finish()
        }
        let runs = state.withLock { state in
            state.phase = .stopped
            defer { state.runs = [] }
            return state.runs
        }
        for run in runs { run.cancel() }
        for run in runs { await run.value }
    }

    func leased() {
        state.withLock {
            $0.holding += 1
            $0.leases += 1
        }
    }
    func released() { state.withLock { $0.holding -= 1 } }

    /// A transaction got no connection; starts the probe unless one is running.
    func leaseFailed() {
        let leases = state.withLock { state -> Int? in
            state.lastFailure = .now
            guard state.phase == .running, !state.probing else { return nil }
            state.probing = true
            return state.leases
        }
        guard let leases else { return }
        Task { await self.probe(since: leases) }
    }

    private func probe(since leases: Int) async {
        defer { state.withLock { $0.probing = false } }
        while true {
            let wanted = state.withLock { state in
                state.phase == .running && state.leases == leases && ContinuousClock.now - state.lastFailure < Self.probeIdleLimit
            }
            guard wanted else { return }
            if await reachable() {
                await replace(since: leases)
                return
            }
            try? await Task.sleep(for: Self.probeInterval)
        }
    }

    /// Whether a new connection can be opened and answers `SELECT 1`.
    private func reachable() async -> Bool {
        guard let connection = try? await PostgresConnection.open(url, logger: logger, connectTimeout: .seconds(1)) else { return false }
        let ok = (try? await connection.query("SELECT 1", logger: logger)) != nil
        try? await connection.close()
        return ok
    }

    /// Swaps in a fresh pool if the current one has still given out nothing since the failure.
    private func replace(since leases: Int) async {
        let fresh = PostgresClient(configuration: configuration, backgroundLogger: logger)
        let run = Task { await fresh.run() }
        // Let run() begin before any request leases from the new pool.
        try? await Task.sleep(for: .milliseconds(10))
        let retired = state.withLock { state -> Task<Void, Never>?? in
            guard state.phase == .running, state.leases == leases, state.holding == 0 else { return nil }
            let old = state.runs.last
            state.client = fresh
            state.runs.append(run)
            return .some(old)
        }
        guard let retired else {
            run.cancel()
            return
        }
        retired?.cancel()
        logger.notice("database reachable again while the connection pool was still backing off; replaced the pool")
    }
}
