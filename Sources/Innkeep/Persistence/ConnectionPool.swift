import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// At most `maximum` connections to PostgreSQL, opened when a lease finds none idle, reused
/// most-recent-first (on the lease's own event loop first), and closed after `idleLimit` unused.
///
/// It replaces PostgresNIO's `PostgresClient` pool (issue 17) for three reasons:
/// - that pool armed an idle timer on every release (a task, a task group and a `Task.sleep`
///   that, once cancelled by the next lease, stays queued for its full 60 s): about 300 µs of CPU
///   per request and the RSS growth measured in docs/benchmarks.md; here one sweep runs every
///   `sweepInterval`;
/// - keeping its connections open (`minimumConnections`) could trap in a `precondition` when it
///   recovered from an outage with leases queued;
/// - after an outage it retried on a growing backoff, which needed a probe and a pool swap to
///   serve again within SPEC §6's 5 s. Here a lease that finds no connection opens one itself,
///   trying every 100 ms until its caller's deadline, so the first request after the database is
///   back is served.
final class ConnectionPool: Sendable {
    typealias Open = @Sendable () async throws -> PostgresConnection

    private struct Idle {
        var connection: PostgresConnection
        var since: ContinuousClock.Instant
    }

    /// What a lease gets: a connection, or the right to open one (a free slot).
    private enum Grant {
        case connection(PostgresConnection)
        case open
    }

    private struct Waiter {
        var id: Int
        var continuation: CheckedContinuation<Grant, any Error>
    }

    private struct State {
        /// Most recently released last: leases take from the end (the last on their own loop first), the sweep
        /// closes from the front.
        var idle: [Idle] = []
        /// Connections open, being opened, or leased: never more than `maximum`.
        var slots = 0
        var waiters = CircularBuffer<Waiter>()
        var nextWaiter = 0
        var closed = false
        /// Whether the last open that ended failed (an outage), and how many opens have succeeded: a failure
        /// that began before a success ended is stale, and neither starts an outage nor logs one.
        var failing = false
        var opened = 0

        /// A connection, a slot, or nil (wait). Drops idle connections the server has closed. Takes the most recent
        /// connection on `loop` if there is one, else the most recent.
        mutating func take(preferring loop: (any EventLoop)?) -> Grant? {
            if let loop, let index = idle.lastIndex(where: { $0.connection.eventLoop === loop }) {
                let connection = idle.remove(at: index).connection
                if !connection.isClosed { return .connection(connection) }
                slots -= 1
            }
            while let idle = idle.popLast() {
                if !idle.connection.isClosed { return .connection(idle.connection) }
                slots -= 1
            }
            guard slots < maximum else { return nil }
            slots += 1
            return .open
        }

        /// A slot became free: the first waiter gets it, else it is given back.
        mutating func freeSlot() -> Waiter? {
            if let waiter = waiters.popFirst() { return waiter }
            slots -= 1
            return nil
        }

        let maximum: Int
        init(maximum: Int) { self.maximum = maximum }
    }

    let maximum: Int
    private let state: Mutex<State>
    private let open: Open
    private let logger: Logger
    static let idleLimit: Duration = .seconds(60)
    static let retryPause: Duration = .milliseconds(100)
    static let sweepInterval: Duration = .seconds(10)

    init(maximum: Int, logger: Logger, open: @escaping Open) {
        precondition(maximum > 0)
        self.maximum = maximum
        self.logger = logger
        self.open = open
        state = Mutex(State(maximum: maximum))
    }

    /// Connections open or being opened now (idle and leased).
    var openCount: Int { state.withLock { $0.slots } }
    /// Leases waiting for a connection now.
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    deinit {
        for idle in state.withLock({ $0.idle }) { Self.close(idle.connection) }
    }

    /// Runs `body` on a leased connection and releases it after; a connection the server or `body`
    /// closed is dropped, never given out again. An idle connection on `loop` is preferred: by default the
    /// caller's event loop (Swift tasks run on them, `EventLoopExecutor`), so the statement's answer resumes the
    /// caller on its own thread instead of waking another one and hopping back.
    func withConnection<T: Sendable>(
        preferring loop: (any EventLoop)? = MultiThreadedEventLoopGroup.currentEventLoop,
        _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let connection = try await lease(preferring: loop)
        defer { release(connection) }
        // A lease that waited past its caller's deadline was answered already: do not run its work.
        try Task.checkCancellation()
        return try await body(connection)
    }

    private func lease(preferring loop: (any EventLoop)?) async throws -> PostgresConnection {
        switch try state.withLock({ state -> Grant? in
            guard !state.closed else { throw PoolClosed() }
            return state.take(preferring: loop)
        }) {
        case .connection(let connection): return connection
        case .open: return try await openConnection()
        case nil: break
        }
        switch try await wait(preferring: loop) {
        case .connection(let connection): return connection
        case .open: return try await openConnection()
        }
    }

    /// Waits, first come first served, until a release or a failed open hands over a connection or a slot.
    private func wait(preferring loop: (any EventLoop)?) async throws -> Grant {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Grant, any Error>) in
                let now = state.withLock { state -> Result<Grant, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    if state.closed { return .failure(PoolClosed()) }
                    // A connection may have been released since the first look.
                    if let grant = state.take(preferring: loop) { return .success(grant) }
                    state.waiters.append(Waiter(id: id, continuation: continuation))
                    return nil
                }
                if let now { continuation.resume(with: now) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Opens a connection in a slot this lease holds, trying again every `retryPause` until it succeeds or the
    /// caller's deadline cancels it (a connect under load can outlast its own timeout, and one during an outage
    /// succeeds as soon as the database is back); a misconfiguration (TLS, login) fails at once. When it gives
    /// up, the slot passes on to a waiter, or is given back.
    private func openConnection() async throws -> PostgresConnection {
        do {
            while true {
                // A lease given a slot after its deadline passes it on rather than connect for nobody.
                try Task.checkCancellation()
                let openedBefore = state.withLock { $0.opened }
                do {
                    let connection = try await open()
                    opened()
                    return connection
                } catch {
                    // A lease cancelled (past its deadline) while it opened says nothing about the database.
                    if Task.isCancelled { throw error }
                    failedToOpen(error, openedBefore: openedBefore)
                    if (error as? DatabaseConnectError)?.isMisconfiguration == true { throw error }
                }
                try await Task.sleep(for: Self.retryPause)
            }
        } catch {
            let waiter = state.withLock { $0.freeSlot() }
            waiter?.continuation.resume(returning: .open)
            throw error
        }
    }

    private func opened() {
        let recovered = state.withLock { state in
            defer {
                state.failing = false
                state.opened += 1
            }
            return state.failing
        }
        if recovered { logger.notice("database connections open again") }
    }

    /// Logs the first failure of an outage. A connect that began before another succeeded (refused while the
    /// server was still starting) is stale: it neither starts an outage nor logs one.
    private func failedToOpen(_ error: any Error, openedBefore: Int) {
        let first = state.withLock { state in
            let news = state.opened == openedBefore
            defer { state.failing = state.failing || news }
            return news && !state.failing
        }
        if first { logger.warning("cannot open a database connection", metadata: ["error": "\(error)"]) }
    }

    private func release(_ connection: PostgresConnection) {
        enum Next {
            case parked
            case hand(Waiter)
            case drop(Waiter?)
        }
        let next = state.withLock { state -> Next in
            if connection.isClosed || state.closed { return .drop(state.freeSlot()) }
            if let waiter = state.waiters.popFirst() { return .hand(waiter) }
            state.idle.append(Idle(connection: connection, since: .now))
            return .parked
        }
        switch next {
        case .parked: break
        case .hand(let waiter): waiter.continuation.resume(returning: .connection(connection))
        case .drop(let waiter):
            waiter?.continuation.resume(returning: .open)
            if !connection.isClosed { Self.close(connection) }
        }
    }

    /// Closes the connections idle for longer than `idleLimit`.
    func sweep(now: ContinuousClock.Instant = .now) {
        let stale = state.withLock { state -> [PostgresConnection] in
            let count = state.idle.prefix { now - $0.since > Self.idleLimit }.count
            defer {
                state.idle.removeFirst(count)
                state.slots -= count
            }
            return state.idle.prefix(count).map(\.connection)
        }
        for connection in stale { Self.close(connection) }
    }

    /// Closes without waiting; the connection is kept until it is closed (freeing an open one is a bug PostgresNIO asserts on).
    private static func close(_ connection: PostgresConnection) {
        connection.close().whenComplete { _ in withExtendedLifetime(connection) {} }
    }

    /// Sweeps until cancelled or shut down gracefully, then closes every connection and fails every waiter.
    func run() async {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.sweepInterval)
                self.sweep()
            }
        }
        let (idle, waiters) = state.withLock { state in
            state.closed = true
            state.slots -= state.idle.count
            defer {
                state.idle = []
                state.waiters = []
            }
            return (state.idle, state.waiters)
        }
        for waiter in waiters { waiter.continuation.resume(throwing: PoolClosed()) }
        for entry in idle { try? await entry.connection.close() }
    }

    /// A lease after shutdown.
    struct PoolClosed: Error, CustomStringConvertible {
        var description: String { "the database connection pool is shut down" }
    }
}
