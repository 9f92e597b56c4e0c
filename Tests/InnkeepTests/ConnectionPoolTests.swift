import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import PostgresNIO
import Testing

@testable import Innkeep

/// The API's connection pool against the real test Postgres: it never opens more than its maximum, drops
/// connections the server closed, closes idle ones, lets a cancelled lease go, refuses leases once shut down, and
/// tries a failed connect again until the caller's deadline (but not a wrong password).
/// Each pool names its connections (`application_name`), so `pg_stat_activity` counts exactly its own.
@Suite(.timeLimit(.minutes(1))) struct ConnectionPoolTests {
    /// A pool that opens its connections on `loops`, in turn.
    static func pool(
        _ maximum: Int,
        name: String,
        loops: any EventLoopGroup = PostgresConnection.defaultEventLoopGroup
    ) async throws -> ConnectionPool {
        try await SharedDatabase.shared.prepare()
        let url = TestEnv.runtimeURL(SharedDatabase.name)
        return ConnectionPool(maximum: maximum, logger: TestEnv.logger) {
            try await PostgresConnection.open(
                url,
                logger: TestEnv.logger,
                connectTimeout: .seconds(5),
                startupParameters: [("application_name", name)],
                on: loops.next()
            )
        }
    }

    /// Runs `body` with a new pool running, then shuts the pool down (a connection must be closed before it is freed).
    static func withPool<T: Sendable>(
        _ maximum: Int,
        name: String = uniqueName(),
        loops: any EventLoopGroup = PostgresConnection.defaultEventLoopGroup,
        _ body: (ConnectionPool) async throws -> T
    ) async throws -> T {
        let pool = try await pool(maximum, name: name, loops: loops)
        let running = Task { await pool.run() }
        do {
            let result = try await body(pool)
            running.cancel()
            await running.value
            return result
        } catch {
            running.cancel()
            await running.value
            throw error
        }
    }

    /// The server's count of this pool's connections, seen from a superuser connection.
    static func serverCount(_ name: String) async throws -> Int {
        let admin = try await PostgresConnection.open(TestEnv.adminURL(), logger: TestEnv.logger)
        defer { Task { try? await admin.close() } }
        let rows = try await admin.query("SELECT count(*)::int FROM pg_stat_activity WHERE application_name = \(name)", logger: TestEnv.logger)
        var count = 0
        for try await c in rows.decode(Int.self) { count = c }
        return count
    }

    /// The server's count once it equals `expected`, or after 2 s: a closed session leaves `pg_stat_activity` shortly after.
    static func serverCount(_ name: String, settlingAt expected: Int) async throws -> Int {
        var count = try await serverCount(name)
        for _ in 0..<100 where count != expected {
            try await Task.sleep(for: .milliseconds(20))
            count = try await serverCount(name)
        }
        return count
    }

    /// The connection's server process id, read after sleeping `seconds` on it.
    static func pid(_ connection: PostgresConnection, after seconds: Double = 0) async throws -> Int {
        var pid = 0
        let rows = try await connection.query("SELECT pg_backend_pid() FROM pg_sleep(\(seconds))", logger: TestEnv.logger)
        for try await p in rows.decode(Int32.self) { pid = Int(p) }
        return pid
    }

    /// Polls `condition` every 5 ms until it holds; throws after 5 s.
    static func until(_ condition: @Sendable () -> Bool) async throws {
        for _ in 0..<1000 {
            if condition() { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw TestFailure("a condition did not come true within 5 s")
    }

    /// Two leases that each hold their connection until both have one, so two connections are open: `read` of each.
    static func twoAtOnce<T: Sendable>(
        _ pool: ConnectionPool,
        _ read: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> (T, T) {
        let held = NIOLockedValueBox(0)
        @Sendable func holdingBoth(_ conn: PostgresConnection) async throws -> T {
            held.withLockedValue { $0 += 1 }
            try await until { held.withLockedValue { $0 } == 2 }
            return try await read(conn)
        }
        async let a = pool.withConnection(preferring: nil, holdingBoth)
        async let b = pool.withConnection(preferring: nil, holdingBoth)
        return try await (a, b)
    }

    static func uniqueName() -> String { "pool-test-\(UUID().uuidString.prefix(8).lowercased())" }

    @Test func manyConcurrentLeasesShareAtMostTheMaximum() async throws {
        let name = Self.uniqueName()
        try await Self.withPool(3, name: name) { pool in
            let busiest = NIOLockedValueBox((now: 0, most: 0))
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<24 {
                    group.addTask {
                        try await pool.withConnection { conn in
                            busiest.withLockedValue { b in
                                b.now += 1
                                b.most = max(b.most, b.now)
                            }
                            // The first leases hold on until three are held at once, so all three slots get used.
                            try await Self.until { busiest.withLockedValue { $0.most } == 3 }
                            try await conn.query("SELECT pg_sleep(0.01)", logger: TestEnv.logger)
                            busiest.withLockedValue { $0.now -= 1 }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(busiest.withLockedValue { $0.most } == 3)
            #expect(pool.openCount == 3)
            #expect(try await Self.serverCount(name) == 3)
        }
    }

    @Test func aLeasePrefersAnIdleConnectionOnItsOwnEventLoop() async throws {
        let loops = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { Task { try? await loops.shutdownGracefully() } }
        try await Self.withPool(2, loops: loops) { pool in
            // Two connections are opened, one on each loop.
            let (first, second) = try await Self.twoAtOnce(pool) { conn in conn.eventLoop }
            #expect(first !== second)
            // Whichever was released last, each lease gets the connection on the loop it prefers, twice over
            // (so once against most-recent-first); without a preference, the most recent one.
            for loop in [first, second, second, first] {
                let got = try await pool.withConnection(preferring: loop) { conn in conn.eventLoop }
                #expect(got === loop)
            }
            let mostRecent = try await pool.withConnection(preferring: nil) { conn in conn.eventLoop }
            #expect(mostRecent === first)
            #expect(pool.openCount == 2)
        }
    }

    @Test func aConnectionTheServerClosedIsNeverLeasedAgain() async throws {
        let name = Self.uniqueName()
        try await Self.withPool(1, name: name) { pool in
            let (first, connection) = try await pool.withConnection { conn in (try await Self.pid(conn), conn) }
            let admin = try await PostgresConnection.open(TestEnv.adminURL(), logger: TestEnv.logger)
            try await admin.query("SELECT pg_terminate_backend(\(Int32(first)))", logger: TestEnv.logger)
            try await admin.close()
            try await Self.until { connection.isClosed }
            let second = try await pool.withConnection { conn in try await Self.pid(conn) }
            #expect(second != first)
            #expect(pool.openCount == 1)
        }
    }

    @Test func theSweepClosesOnlyConnectionsIdleLongerThanTheLimit() async throws {
        let name = Self.uniqueName()
        try await Self.withPool(2, name: name) { pool in
            let pids = try await Self.twoAtOnce(pool) { conn in try await Self.pid(conn) }
            #expect(pids.0 != pids.1)
            #expect(pool.openCount == 2)
            pool.sweep()
            #expect(pool.openCount == 2)
            pool.sweep(now: .now + ConnectionPool.idleLimit + .seconds(1))
            #expect(pool.openCount == 0)
            #expect(try await Self.serverCount(name, settlingAt: 0) == 0)
            // It opens again on demand.
            #expect(try await pool.withConnection { conn in try await Self.pid(conn) } > 0)
            #expect(pool.openCount == 1)
        }
    }

    @Test func aCancelledWaiterLeavesTheQueue() async throws {
        try await Self.withPool(1) { pool in
            let release = AsyncStream<Void>.makeStream()
            let holding = Task {
                try await pool.withConnection { conn in
                    let pid = try await Self.pid(conn)
                    for await _ in release.stream {}
                    return pid
                }
            }
            try await Self.until { pool.openCount == 1 }
            let waiting = Task { try await pool.withConnection { conn in try await Self.pid(conn) } }
            try await Self.until { pool.waitingCount == 1 }
            waiting.cancel()
            await #expect(throws: CancellationError.self) { try await waiting.value }
            #expect(pool.waitingCount == 0)
            release.continuation.finish()
            let held = try await holding.value
            // The one connection went back to the pool (the next lease gets it), not to the cancelled waiter.
            #expect(try await pool.withConnection { conn in try await Self.pid(conn) } == held)
            #expect(pool.openCount == 1)
        }
    }

    @Test func aShutDownPoolClosesItsConnectionsAndRefusesLeases() async throws {
        let name = Self.uniqueName()
        let pool = try await Self.pool(2, name: name)
        _ = try await pool.withConnection { conn in try await Self.pid(conn) }
        #expect(try await Self.serverCount(name) == 1)
        let running = Task { await pool.run() }
        try await Task.sleep(for: .milliseconds(20))
        running.cancel()
        await running.value
        #expect(pool.openCount == 0)
        #expect(try await Self.serverCount(name, settlingAt: 0) == 0)
        await #expect(throws: ConnectionPool.PoolClosed.self) { try await pool.withConnection { _ in } }
    }

    @Test func aFailedOpenIsTriedAgainWithinTheDeadline() async throws {
        try await SharedDatabase.shared.prepare()
        let url = TestEnv.runtimeURL(SharedDatabase.name)
        let attempts = NIOLockedValueBox(0)
        let pool = ConnectionPool(maximum: 1, logger: TestEnv.logger) {
            // The first two connects fail, as one that outlasts its timeout under load would.
            let attempt = attempts.withLockedValue { a in
                a += 1
                return a
            }
            guard attempt > 2 else { throw TestFailure("connect timed out") }
            return try await PostgresConnection.open(url, logger: TestEnv.logger, connectTimeout: .seconds(5))
        }
        let pid = try await withDeadline(.seconds(5)) { try await pool.withConnection { conn in try await Self.pid(conn) } }
        #expect(pid > 0)
        #expect(attempts.withLockedValue { $0 } == 3)
        #expect(pool.openCount == 1)
        let running = Task { await pool.run() }
        running.cancel()
        await running.value
    }

    @Test(arguments: [false, true])
    func aLeaseGivesUpAtItsDeadlineAndFreesItsSlot(connectHangs: Bool) async throws {
        let attempts = NIOLockedValueBox(0)
        let pool = ConnectionPool(maximum: 1, logger: TestEnv.logger) { () async throws -> PostgresConnection in
            attempts.withLockedValue { $0 += 1 }
            // A connect that fails at once (tried again every 100 ms), or one that never ends.
            if connectHangs { try await Task.sleep(for: .seconds(60)) }
            throw TestFailure("connect failed")
        }
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.seconds(1)) { try await pool.withConnection { _ in } }
        }
        if connectHangs {
            #expect(attempts.withLockedValue { $0 } == 1)
        } else {
            #expect(attempts.withLockedValue { $0 } >= 2)
        }
        // The cancelled lease gives its slot back.
        try await Self.until { pool.openCount == 0 }
    }

    @Test func aMisconfigurationFailsAtOnce() async throws {
        try await SharedDatabase.shared.prepare()
        // A login the server refuses (SQLSTATE class 28; the test cluster trusts passwords, so an unknown role).
        let url = PostgresURL("postgres://no_such_role_here:x@127.0.0.1:\(TestEnv.pgPort)/\(SharedDatabase.name)")!
        let attempts = NIOLockedValueBox(0)
        let pool = ConnectionPool(maximum: 1, logger: TestEnv.logger) {
            attempts.withLockedValue { $0 += 1 }
            return try await PostgresConnection.open(url, logger: TestEnv.logger, connectTimeout: .seconds(5))
        }
        await #expect(throws: DatabaseConnectError.self) { try await withDeadline(.seconds(5)) { try await pool.withConnection { _ in } } }
        #expect(attempts.withLockedValue { $0 } == 1)
        #expect(pool.openCount == 0)
    }
}
