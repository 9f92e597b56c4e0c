import Foundation
import HTTPTypes
import Logging
import Synchronization
import Testing

@testable import Innkeep

/// Degraded mode (SPEC §1, §6): Postgres stopped mid-run answers 503 fast and recovers without a
/// restart; Redis killed degrades /health but everything keeps serving; the login and request rate
/// limits, and both failing open without Redis.
///
/// The outage tests stop services, so they start clusters of their own on other ports (never the
/// shared 54329/63799 one other suites use) and stop them at the end, even on failure.
@Suite struct DegradedModeTests {
    /// Postgres 54359 + Redis 63839 for the Postgres outage; Redis 63849 (with the shared Postgres) for the Redis one.
    static let outagePgPort = 54359, outageRedisPort = 63839, killedRedisPort = 63849
    /// How long Postgres stays down: several deadlines of failed connects, and the 5 s recovery budget twice over.
    static let outage: Duration = .seconds(Int(ProcessInfo.processInfo.environment["INNKEEP_OUTAGE_SECONDS"] ?? "") ?? 10)

    @Suite(.serialized) struct Outages {
        @Test func postgresStoppedMidRunAnswers503FastAndRecoversWithoutRestart() async throws {
            // Not while another suite floods both cores: this one times every answer against the 2 s budget.
            try await HeavyLoad.exclusive { try await Self.postgresOutage() }
        }

        static func postgresOutage() async throws {
            let pg = DegradedModeTests.outagePgPort
            let redis = DegradedModeTests.outageRedisPort
            try await Stack.withOwn(pg: pg, redis: redis) {
                let database = "innkeep_degraded"
                try await TestEnv.prepareDatabase(database, port: pg)
                let logs = LogCapture()
                // Everything a client needs is made while the database is up, by a patient app:
                // the setup is not what is measured, and dozens of tests share two cores.
                let (agency, property) = try await withApp(database: database, port: pg, redisPort: redis) { api in
                    let agency = try await api.makeAgency()
                    return (agency, try await api.createProperty(agency))
                }
                try await withApp(
                    database: database,
                    port: pg,
                    redisPort: redis,
                    // Nine clients at full speed (the 200s after the outage are fast): the per-user limit is tested elsewhere.
                    env: ["RATE_LIMIT_PER_MINUTE": "1000000"],
                    logger: logs.logger(),
                    databaseDeadline: TestEnv.productionDeadline
                ) { api in
                    let token = agency.admin.token
                    let booking: JSONValue = [
                        "property_id": JSONValue(property), "guest_name": "Guest", "check_in": "2031-05-01", "check_out": "2031-05-04", "guests": 2,
                    ]
                    let login: JSONValue = ["email": .string(agency.admin.email), "password": .string(agency.admin.password)]
                    #expect(try await api.send(.get, "/health").json == ["status": "ok", "db": "ok", "redis": "ok"])
                    #expect(try await api.send(.get, "/api/v1/properties", token: token).status == .ok)

                    // Eight more clients list properties all along, so the outage and the recovery happen with
                    // leases waiting for the pool's eight connections (the case a pool must not trap on).
                    let load = StatusTally()
                    defer { load.stop() }  // also when an expectation below throws
                    let loading = Task {
                        await withTaskGroup(of: Void.self) { group in
                            for _ in 0..<8 {
                                group.addTask {
                                    // Stopped, not cancelled: a cancelled request's answer says nothing about the outage.
                                    while !load.stopped {
                                        do {
                                            load.add(try await api.send(.get, "/api/v1/properties", token: token))
                                        } catch {
                                            load.add(error)
                                        }
                                    }
                                }
                            }
                        }
                    }

                    try await Stack.run("pg-stop", pg: pg, redis: redis)
                    let clock = ContinuousClock()
                    let down = clock.now
                    var slowest = Duration.zero
                    var answers = 0
                    // Keep asking for the whole outage: every answer is a fast 503, never a 500 or a hang.
                    while clock.now - down < DegradedModeTests.outage {
                        let (health, t1) = try await timed { try await api.send(.get, "/health") }
                        #expect(health.status == .serviceUnavailable, "\(health.raw)")
                        #expect(health["status"] == "unavailable")
                        #expect(health["db"] == "unavailable")
                        #expect(health["redis"] == "ok")
                        #expect(health["error"]?["code"] == "DATABASE_UNAVAILABLE")
                        #expect(health["error"]?["request_id"]?.stringValue == health.headers[HTTPField.Name("X-Request-Id")!])
                        #expect(health.headers[.retryAfter].flatMap(Int.init) != nil)

                        let (live, t2) = try await timed { try await api.send(.get, "/health/live") }
                        #expect(live.status == .ok)

                        let (list, t3) = try await timed { try await api.send(.get, "/api/v1/properties", token: token) }
                        let (create, t4) = try await timed { try await api.send(.post, "/api/v1/bookings", token: token, json: booking) }
                        let (signIn, t5) = try await timed { try await api.send(.post, "/api/v1/auth/login", json: login) }
                        for r in [list, create, signIn] {
                            #expect(r.status == .serviceUnavailable, "\(r.raw)")
                            #expect(r.errorCode == "DATABASE_UNAVAILABLE")
                            #expect(r.headers[.retryAfter].flatMap(Int.init) != nil)
                            #expect(r.json["error"]?["message"]?.stringValue?.isEmpty == false)
                        }
                        for t in [t1, t2, t3, t4, t5] {
                            #expect(t < .seconds(2), "a 503 took \(t)")
                            slowest = max(slowest, t)
                        }
                        answers += 5
                    }
                    let metrics = try await api.send(.get, "/metrics", token: TestEnv.opsToken)
                    #expect(metrics.raw.contains(#"degraded_responses_total{code="DATABASE_UNAVAILABLE"}"#))
                    let sanity = try await api.send(.get, "/ops/env-sanity", token: TestEnv.opsToken)
                    #expect(sanity.status == .serviceUnavailable)
                    #expect(sanity["db"] == "unavailable")

                    try await Stack.run("pg-start", pg: pg, redis: redis)
                    let up = clock.now
                    var healthBack: Duration?
                    var dataBack: Duration?
                    // Poll every 200 ms (for up to 30 s, to measure even a slow recovery).
                    while healthBack == nil || dataBack == nil, clock.now - up < .seconds(30) {
                        if healthBack == nil, try await api.send(.get, "/health").status == .ok { healthBack = clock.now - up }
                        if dataBack == nil, try await api.send(.get, "/api/v1/properties", token: token).status == .ok { dataBack = clock.now - up }
                        try await Task.sleep(for: .milliseconds(200))
                    }
                    let servedBefore = load.count(of: .ok)
                    try await Task.sleep(for: .milliseconds(500))
                    load.stop()
                    await loading.value
                    // Under load as well, every answer was a 200 or a 503 DATABASE_UNAVAILABLE, and it served again.
                    #expect(load.other.isEmpty, "\(load.other.prefix(3))")
                    #expect(load.count(of: .serviceUnavailable) > 0)
                    #expect(load.count(of: .ok) > servedBefore)

                    let health = try #require(healthBack, "/health never recovered")
                    let data = try #require(dataBack, "data never recovered")
                    #expect(health < .seconds(5), "/health took \(health) to recover")
                    #expect(data < .seconds(5), "GET /api/v1/properties took \(data) to recover")
                    print(
                        """
                        DegradedModeTests: outage \(DegradedModeTests.outage), \(answers) answers, slowest 503 \(slowest), \
                        recovery /health \(health), data \(data)
                        """
                    )

                    let back = try await api.send(.get, "/health")
                    #expect(back.json == ["status": "ok", "db": "ok", "redis": "ok"])
                    #expect(try await api.send(.post, "/api/v1/bookings", token: token, json: booking).status == .created)
                    #expect(try await api.send(.post, "/api/v1/auth/login", json: login).status == .ok)
                    // One warning for the outage, one notice for its end (runbook).
                    #expect(logs.lines.count { $0.message == "cannot open a database connection" } == 1)
                    #expect(logs.lines.count { $0.message == "database connections open again" } == 1)
                    // The outage never turned into a 500.
                    let unhandled = logs.lines.filter { $0.message == "unhandled error" }
                    #expect(unhandled.isEmpty, "\(unhandled.prefix(2).map(\.text))")
                    logs.expectNoSecrets()
                }
            }
        }

        @Test func redisKilledDegradesHealthButTheAPIKeepsServing() async throws {
            let redis = DegradedModeTests.killedRedisPort
            let pg = 54369  // only Redis is ours; the pg port is never started
            try await Stack.withOwn(pg: pg, redis: redis, up: "redis-start", down: "redis-stop") {
                let logs = LogCapture()
                try await withApp(redisPort: redis, logger: logs.logger()) { api in
                    let admin = try await api.signup(agencyName: "Redis outage")
                    let login: JSONValue = ["email": .string(admin.email), "password": .string(admin.password)]
                    #expect(try await api.send(.get, "/health").json == ["status": "ok", "db": "ok", "redis": "ok"])

                    try await Stack.run("redis-stop", pg: pg, redis: redis)
                    let before = logs.lines.count
                    for _ in 0..<4 {
                        let health = try await api.send(.get, "/health")
                        #expect(health.status == .ok)
                        #expect(health.json == ["status": "degraded", "db": "ok", "redis": "unavailable"])
                        #expect(try await api.send(.get, "/api/v1/properties", token: admin.token).status == .ok)
                        let signIn = try await api.send(.post, "/api/v1/auth/login", json: login)
                        #expect(signIn.status == .ok, "\(signIn.raw)")
                        #expect(
                            try await api.send(.post, "/api/v1/auth/login", json: ["email": .string(admin.email), "password": "wrong password!"])
                                .status == .unauthorized
                        )
                    }
                    let during = logs.lines.dropFirst(before)
                    #expect(during.filter { $0.level == .warning && $0.message.contains("redis unavailable") }.count == 1)
                    // One warning for the outage, not one per request (nor one per layer).
                    let warnings = during.filter { $0.level >= .warning }
                    #expect(warnings.count == 1, "\(warnings.map(\.message))")

                    let metrics = try await api.send(.get, "/metrics", token: TestEnv.opsToken)
                    #expect(metrics.raw.contains("redis_up 0"))
                    #expect(metrics.raw.contains(#"redis_fail_open_total{use="rate_limit"}"#))

                    try await Stack.run("redis-start", pg: pg, redis: redis)
                    #expect(try await api.send(.get, "/health").json == ["status": "ok", "db": "ok", "redis": "ok"])
                    #expect(logs.lines.contains { $0.message.contains("redis is reachable again") })
                    #expect(try await api.send(.post, "/api/v1/auth/login", json: login).status == .ok)
                    logs.expectNoSecrets()
                }
            }
        }
    }

    /// The limits share the default Redis; each test uses a fresh email or user, so they run in parallel.
    @Suite struct RateLimits {
        static func login(_ api: APIClient, _ email: String, _ password: String) async throws -> APIResponse {
            try await api.send(.post, "/api/v1/auth/login", json: ["email": .string(email), "password": .string(password)])
        }

        @Test func moreThanTenFailedLoginsAMinuteForOneEmailAre429() async throws {
            try await withApp { api in
                let user = try await api.signup()
                for attempt in 1...10 {
                    let r = try await Self.login(api, user.email, "wrong password \(attempt)")
                    #expect(r.status == .unauthorized)
                    #expect(r.errorCode == "INVALID_CREDENTIALS")
                }
                let limited = try await Self.login(api, user.email, "wrong password 11")
                #expect(limited.status == .tooManyRequests)
                #expect(limited.errorCode == "RATE_LIMITED")
                let retry = try #require(limited.headers[.retryAfter].flatMap(Int.init))
                #expect((1...60).contains(retry))
                // While limited, even the right password is refused (the limit is per email, case-insensitively)…
                let right = try await Self.login(api, user.email.uppercased(), user.password)
                #expect(right.status == .tooManyRequests)
                #expect(right.errorCode == "RATE_LIMITED")
                // …but another email is not affected.
                let other = try await api.signup()
                #expect(try await Self.login(api, other.email, other.password).status == .ok)
            }
        }

        @Test func requestsOverRateLimitPerMinuteAre429() async throws {
            try await withApp(env: ["RATE_LIMIT_PER_MINUTE": "5"]) { api in
                // Only the admin of a new agency, so no tenant request was counted yet.
                let admin = try await api.signup(agencyName: "Rate limited")
                for _ in 1...5 {
                    #expect(try await api.send(.get, "/api/v1/properties", token: admin.token).status == .ok)
                }
                let limited = try await api.send(.get, "/api/v1/properties", token: admin.token)
                #expect(limited.status == .tooManyRequests)
                #expect(limited.errorCode == "RATE_LIMITED")
                let retry = try #require(limited.headers[.retryAfter].flatMap(Int.init))
                #expect((1...60).contains(retry))
                // Per user per agency: another user of another agency still gets through.
                let other = try await api.signup(agencyName: "Not limited")
                #expect(try await api.send(.get, "/api/v1/properties", token: other.token).status == .ok)
            }
        }

        /// Without Redis (disabled, or configured but nothing listening) both limits fail open.
        @Test(arguments: [nil, 1] as [Int?])
        func bothLimitsFailOpenWithoutRedis(redisPort: Int?) async throws {
            try await withApp(redisPort: redisPort, env: ["RATE_LIMIT_PER_MINUTE": "5"]) { api in
                let admin = try await api.signup(agencyName: "No Redis")
                for attempt in 1...20 {
                    let r = try await Self.login(api, admin.email, "wrong password \(attempt)")
                    #expect(r.status == .unauthorized, "attempt \(attempt): \(r.raw)")
                }
                #expect(try await Self.login(api, admin.email, admin.password).status == .ok)
                for _ in 1...10 {
                    #expect(try await api.send(.get, "/api/v1/properties", token: admin.token).status == .ok)
                }
                let health = try await api.send(.get, "/health")
                #expect(health.status == .ok)
                #expect(health["redis"] == (redisPort == nil ? "disabled" : "unavailable"))
                // Skipped limits are counted (disabled Redis is not an outage, so not counted).
                let metrics = try await api.send(.get, "/metrics", token: TestEnv.opsToken)
                #expect(metrics.raw.contains(#"redis_fail_open_total{use="rate_limit"}"#) == (redisPort != nil))
            }
        }
    }
}

// MARK: - Support

/// Runs `scripts/stack` for a private cluster, off the cooperative thread pool (it blocks for seconds).
enum Stack {
    @discardableResult
    static func run(_ command: String, pg: Int, redis: Int) async throws -> String {
        // The output goes to a file, not a pipe: the daemons the script starts inherit it and would
        // hold a pipe open forever. posix_spawn + waitpid rather than Foundation's Process, whose
        // exit monitoring hung here (the script stayed a zombie, never reaped). Off the cooperative
        // pool, since it blocks for seconds.
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("innkeep-stack-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        let env = ["INNKEEP_PG_PORT": String(pg), "INNKEEP_REDIS_PORT": String(redis)]
        let script = "exec '\(TestEnv.stackScript)' \(command) </dev/null >'\(log)' 2>&1"
        let status = try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try spawnAndWait(script, env: env) }) }
        }
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        guard status == 0 else { throw TestFailure("scripts/stack \(command) (pg \(pg), redis \(redis)) failed: \(output)") }
        return output
    }

    /// Runs `bash -c script` and returns its exit status.
    static func spawnAndWait(_ script: String, env extra: [String: String]) throws -> Int32 {
        let args = ["/bin/bash", "-c", script]
        let environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }.map { "\($0.key)=\($0.value)" }
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid = pid_t()
        let rc = posix_spawn(&pid, "/bin/bash", nil, nil, &argv, &envp)
        guard rc == 0 else { throw TestFailure("posix_spawn failed: \(rc)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw TestFailure("waitpid failed: \(errno)") }
        }
        // WIFEXITED / WEXITSTATUS, which Swift does not import.
        return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Starts a private cluster, runs `body`, and stops the cluster whatever happened.
    static func withOwn<T: Sendable>(
        pg: Int,
        redis: Int,
        up: String = "up",
        down: String = "down",
        _ body: () async throws -> T
    ) async throws -> T {
        precondition(pg != TestEnv.pgPort && redis != TestEnv.redisPort, "never stop the shared cluster")
        try await run(up, pg: pg, redis: redis)
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        try await run(down, pg: pg, redis: redis)
        return try result.get()
    }
}

func timed<T>(_ operation: () async throws -> T) async throws -> (T, Duration) {
    let clock = ContinuousClock()
    let start = clock.now
    let value = try await operation()
    return (value, clock.now - start)
}

/// Log lines kept in memory, to count warnings and look for leaked secrets.
final class LogCapture: Sendable {
    struct Line: Sendable {
        let level: Logger.Level
        let label: String
        let message: String
        let metadata: String
        var text: String { "\(level) \(label) \(message) \(metadata)" }
    }

    private let stored = Mutex<[Line]>([])
    var lines: [Line] { stored.withLock { $0 } }
    func append(_ line: Line) { stored.withLock { $0.append(line) } }

    /// A logger writing here, at `level` (debug by default, so driver lines are checked too).
    func logger(level: Logger.Level = .debug) -> Logger {
        var logger = Logger(label: "innkeep.test.capture") { label in CapturingLogHandler(label: label, capture: self) }
        logger.logLevel = level
        return logger
    }

    /// The values that must never reach a log line: the JWT secret, the ops token, the database passwords.
    static let secrets = [TestEnv.jwtSecret, TestEnv.opsToken, "api-test-password", "owner-test-password"]

    func expectNoSecrets(sourceLocation: SourceLocation = #_sourceLocation) {
        let all = lines
        #expect(!all.isEmpty, sourceLocation: sourceLocation)
        for secret in Self.secrets {
            let leaks = all.filter { $0.text.contains(secret) }
            #expect(leaks.isEmpty, "secret in log: \(leaks.first?.text ?? "")", sourceLocation: sourceLocation)
        }
    }
}

struct CapturingLogHandler: LogHandler {
    let label: String
    let capture: LogCapture
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        let rendered = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        capture.append(.init(level: event.level, label: label, message: event.message.description, metadata: rendered))
    }
}

/// Counts a load's answers by status, keeps any that is neither a 200 nor a 503 DATABASE_UNAVAILABLE, and tells
/// the load when to stop.
final class StatusTally: Sendable {
    private let state = Mutex<(counts: [Int: Int], other: [String])>(([:], []))
    private let stopping = Atomic(false)

    func stop() { stopping.store(true, ordering: .relaxed) }
    var stopped: Bool { stopping.load(ordering: .relaxed) }

    func add(_ r: APIResponse) {
        state.withLock { state in
            state.counts[r.status.code, default: 0] += 1
            let expected = r.status == .ok || (r.status == .serviceUnavailable && r.errorCode == "DATABASE_UNAVAILABLE")
            if !expected { state.other.append("\(r.status.code) \(r.raw.prefix(200))") }
        }
    }

    func add(_ error: any Error) { state.withLock { $0.other.append("thrown: \(error)") } }

    func count(of status: HTTPResponse.Status) -> Int { state.withLock { $0.counts[status.code] ?? 0 } }
    var other: [String] { state.withLock { $0.other } }
}
