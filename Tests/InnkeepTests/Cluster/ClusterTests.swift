import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import Innkeep

#if canImport(Glibc)
import Glibc
#endif

// SPEC §8: API processes keep no state of their own, so any number of them run behind a load balancer. These tests
// run against `scripts/cluster` (nginx in front of several `innkeep serve` and two `innkeep worker` processes on the
// one Postgres and Redis), which scripts/test starts for a pass of their own. Without it they FAIL: they never skip.
// Every answer names the process that gave it (nginx's X-Innkeep-Upstream), so each test shows its requests landed
// on different processes.

/// Where the cluster is, from `scripts/cluster env`.
struct ClusterEnv: Sendable {
    let url: String
    let apiPorts: [Int]
    let workerMetricsPorts: [Int]
    let rateLimit: Int
    /// The cluster's database on the stack's Postgres (read by the superuser, past RLS, to inspect the job queue).
    let database: String

    static func load() throws -> ClusterEnv {
        let env = ProcessInfo.processInfo.environment
        guard let url = env["INNKEEP_CLUSTER_URL"], !url.isEmpty else {
            throw TestFailure("INNKEEP_CLUSTER_URL is not set: start the cluster (scripts/cluster up; eval \"$(scripts/cluster env)\")")
        }
        let ports = (env["INNKEEP_CLUSTER_API_PORTS"] ?? "").split(separator: " ").compactMap { Int($0) }
        let workers = (env["INNKEEP_CLUSTER_WORKER_METRICS_PORTS"] ?? "").split(separator: " ").compactMap { Int($0) }
        guard ports.count >= 2, workers.count >= 2, let limit = env["INNKEEP_CLUSTER_RATE_LIMIT"].flatMap({ Int($0) }) else {
            throw TestFailure("the cluster needs at least 2 API processes and 2 workers (scripts/cluster up API=3 WORKERS=2)")
        }
        guard let database = env["INNKEEP_CLUSTER_DATABASE"], !database.isEmpty else {
            throw TestFailure("INNKEEP_CLUSTER_DATABASE is not set: eval \"$(scripts/cluster env)\"")
        }
        return ClusterEnv(url: url, apiPorts: ports, workerMetricsPorts: workers, rateLimit: limit, database: database)
    }
}

struct ClusterResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let raw: String
    var json: JSONValue { JSONValue.parse(Array(raw.utf8)) ?? .null }
    subscript(key: String) -> JSONValue? { json[key] }
    /// The API process nginx chose (`127.0.0.1:PORT`), or "direct" when the request bypassed nginx.
    var upstream: String { headers.first(name: "X-Innkeep-Upstream") ?? "direct" }
}

/// HTTP to nginx (or straight to one process) with a pool wide enough for a 32-way race.
struct ClusterClient: Sendable {
    let env: ClusterEnv
    let http: HTTPClient

    func send(
        _ method: HTTPMethod,
        _ path: String,
        token: String? = nil,
        json: JSONValue? = nil,
        headers extra: [(String, String)] = [],
        port: Int? = nil
    ) async throws -> ClusterResponse {
        let base = port.map { "http://127.0.0.1:\($0)" } ?? env.url
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json.serialized))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 4 << 20)
        return ClusterResponse(status: Int(response.status.code), headers: response.headers, raw: String(buffer: body))
    }

    func signup() async throws -> String {
        let r = try await send(
            .POST,
            "/api/v1/auth/signup",
            json: [
                "email": .string(uniqueEmail("cluster")), "password": "correct horse battery", "full_name": "Cluster Test",
                "agency_name": .string("Cluster \(UUID().uuidString.prefix(6))"),
            ]
        )
        guard r.status == 201, let token = r["access_token"]?.stringValue else { throw TestFailure("signup: \(r.status) \(r.raw)") }
        return token
    }

    func createProperty(_ token: String) async throws -> UUID {
        let r = try await send(.POST, "/api/v1/properties", token: token, json: ["name": "Villa", "max_guests": 4])
        guard r.status == 201, let id = r["id"]?.uuid else { throw TestFailure("property: \(r.status) \(r.raw)") }
        return id
    }

    func book(_ token: String, property: UUID, checkIn: String, checkOut: String) async throws -> ClusterResponse {
        try await send(
            .POST,
            "/api/v1/bookings",
            token: token,
            json: [
                "property_id": JSONValue(property), "guest_name": "Guest", "check_in": .string(checkIn), "check_out": .string(checkOut), "guests": 2,
            ]
        )
    }

    /// The sum of a counter over its labels, as one worker's `/metrics` shows it.
    func workerCounter(_ name: String, port: Int) async throws -> Double {
        let r = try await send(.GET, "/metrics", port: port)
        guard r.status == 200 else { throw TestFailure("worker metrics on \(port): \(r.status)") }
        return r.raw.split(separator: "\n").filter { $0.hasPrefix(name + "{") || $0.hasPrefix(name + " ") }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }.reduce(0, +)
    }
}

func withCluster(_ body: (ClusterClient) async throws -> Void) async throws {
    let env = try ClusterEnv.load()
    var configuration = HTTPClient.Configuration()
    configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 64
    configuration.timeout = .init(connect: .seconds(2), read: .seconds(30))
    let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    do {
        try await body(ClusterClient(env: env, http: http))
    } catch {
        try? await http.shutdown()
        throw error
    }
    try await http.shutdown()
}

/// Runs `scripts/cluster ARGS…` with a clean signal mask: the test runner blocks signals, and a process started with
/// them blocked would ignore the SIGTERM of the next rolling restart. Polls for the exit without blocking a thread.
func runClusterScript(_ args: [String]) async throws -> (status: Int32, output: String) {
    let script = TestEnv.repo.appendingPathComponent("scripts/cluster").path
    let logPath = FileManager.default.temporaryDirectory.appendingPathComponent("cluster-\(UUID()).log").path
    let pid = try spawnProcess(
        "/bin/bash",
        arguments: ["/bin/bash", script] + args,
        environment: ProcessInfo.processInfo.environment,
        logPath: logPath
    )
    var status: Int32 = 0
    let deadline = ContinuousClock.now + .seconds(120)
    while waitpid(pid, &status, WNOHANG) == 0 {
        if ContinuousClock.now > deadline {
            kill(pid, SIGKILL)
            throw TestFailure("scripts/cluster \(args) did not finish in 120 s")
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
    try? FileManager.default.removeItem(atPath: logPath)
    let exited = (status & 0x7f) == 0
    return (exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), output)
}

@Suite(.serialized) struct ClusterTests {
    @Test func aBookingRaceAcrossProcessesHasExactlyOneWinner() async throws {
        try await withCluster { cluster in
            let token = try await cluster.signup()
            let property = try await cluster.createProperty(token)
            let answers = try await withThrowingTaskGroup(of: ClusterResponse.self) { group in
                for _ in 0..<32 {
                    group.addTask { try await cluster.book(token, property: property, checkIn: "2031-07-01", checkOut: "2031-07-08") }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.filter { $0.status == 201 }.count == 1, "\(answers.map(\.status))")
            // A loser waits on the winner's row. With seven processes on two cores that wait can pass a quarter of the
            // database deadline, after which the API answers 503 rather than start the full path's own deadline
            // (TenantEntry.run, SPEC §6). Either way it booked nothing.
            let losers = answers.filter { $0.status != 201 }
            let codes = losers.map { $0["error"]?["code"]?.stringValue ?? "\($0.status)" }
            #expect(Set(codes).isSubset(of: ["BOOKING_CONFLICT", "DATABASE_UNAVAILABLE"]), "\(answers.map { "\($0.status) \($0.raw)" })")
            #expect(codes.contains("BOOKING_CONFLICT"))
            let processes = Set(answers.map(\.upstream))
            #expect(processes.count >= 2, "every request went to one process: \(processes)")
            #expect(!processes.contains("direct"))
            let list = try await cluster.send(.GET, "/api/v1/bookings?property_id=\(property)", token: token)
            #expect(list["data"]?.arrayValue?.count == 1, "\(list.raw)")
        }
    }

    @Test func thePerUserRateLimitIsOneLimitAcrossProcesses() async throws {
        try await withCluster { cluster in
            let token = try await cluster.signup()
            let limit = cluster.env.rateLimit
            let extra = 10
            var answers: [ClusterResponse] = []
            // In waves of 16, so the limit is crossed with requests in flight on every process.
            var sent = 0
            while sent < limit + extra {
                let wave = min(16, limit + extra - sent)
                answers += try await withThrowingTaskGroup(of: ClusterResponse.self) { group in
                    for _ in 0..<wave { group.addTask { try await cluster.send(.GET, "/api/v1/properties", token: token) } }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                sent += wave
            }
            let ok = answers.filter { $0.status == 200 }
            let limited = answers.filter { $0.status == 429 }
            // One counter in Redis for all processes: never more than `limit` pass (per-process counters would pass
            // all of them). A few fewer may: hits a process leased and was not asked for again (RateLimiter).
            #expect((limit - 3...limit).contains(ok.count), "200: \(ok.count), 429: \(limited.count), limit \(limit)")
            #expect(limited.count == limit + extra - ok.count)
            #expect(limited.allSatisfy { $0.headers.first(name: "Retry-After").flatMap { Int($0) }.map { $0 >= 1 } ?? false })
            #expect(limited.allSatisfy { $0["error"]?["code"]?.stringValue == "RATE_LIMITED" })
            #expect(Set(ok.map(\.upstream)).count >= 2, "\(Set(ok.map(\.upstream)))")
            #expect(Set(limited.map(\.upstream)).count >= 2, "the limit holds on more than one process: \(Set(limited.map(\.upstream)))")
        }
    }

    @Test func anIdempotentRetryOnAnotherProcessReplaysTheFirstAnswer() async throws {
        try await withCluster { cluster in
            let token = try await cluster.signup()
            let key = "cluster-\(UUID().uuidString)"
            let body: JSONValue = ["name": "Replayed villa", "max_guests": 3]
            let first = try await cluster.send(.POST, "/api/v1/properties", token: token, json: body, headers: [("Idempotency-Key", key)])
            #expect(first.status == 201, "\(first.raw)")
            let id = try #require(first["id"]?.uuid)
            let firstPort = Int(first.upstream.split(separator: ":").last ?? "")
            #expect(firstPort.map { cluster.env.apiPorts.contains($0) } == true, "answered by \(first.upstream)")
            // The retry goes straight to each of the other processes: each replays the first answer.
            let others = cluster.env.apiPorts.filter { $0 != firstPort }
            #expect(others.count >= 1)
            for port in others {
                let retry = try await cluster.send(
                    .POST,
                    "/api/v1/properties",
                    token: token,
                    json: body,
                    headers: [("Idempotency-Key", key)],
                    port: port
                )
                #expect(retry.status == 201, "\(port): \(retry.raw)")
                #expect(retry["id"]?.uuid == id, "\(port) answered another property: \(retry.raw)")
                #expect(retry.headers.first(name: "Idempotent-Replayed") == "true", "\(port)")
                // The same key with another body is refused there too.
                let other = try await cluster.send(
                    .POST,
                    "/api/v1/properties",
                    token: token,
                    json: ["name": "Other", "max_guests": 3],
                    headers: [("Idempotency-Key", key)],
                    port: port
                )
                #expect(other.status == 422 && other["error"]?["code"]?.stringValue == "IDEMPOTENCY_KEY_MISMATCH", "\(port): \(other.raw)")
            }
            let list = try await cluster.send(.GET, "/api/v1/properties", token: token)
            #expect(list["data"]?.arrayValue?.count == 1, "one property, however many retries: \(list.raw)")
        }
    }

    @Test func twoWorkersNeverDeliverOneWebhookTwice() async throws {
        let receiver = try await WebhookReceiver.start()
        do {
            try await withCluster { cluster in
                let token = try await cluster.signup()
                let property = try await cluster.createProperty(token)
                var urls: [String] = []
                for _ in 0..<2 {
                    let url = receiver.url("brief")
                    let r = try await cluster.send(
                        .POST,
                        "/api/v1/webhook-endpoints",
                        token: token,
                        json: ["url": .string(url), "events": ["booking.created"]]
                    )
                    #expect(r.status == 201, "\(r.raw)")
                    urls.append(url)
                }
                let before = try await cluster.env.workerMetricsPorts.asyncMap {
                    try await cluster.workerCounter("webhook_delivery_attempts_total", port: $0)
                }
                let bookings = 30
                for i in 0..<bookings {
                    let r = try await cluster.book(
                        token,
                        property: property,
                        checkIn: futureDay(i * 3, year: 2033),
                        checkOut: futureDay(i * 3 + 2, year: 2033)
                    )
                    #expect(r.status == 201, "\(r.raw)")
                }
                try await eventually("every delivery", timeout: .seconds(30)) {
                    urls.allSatisfy { Set(receiver.requests(to: $0).map(\.id)).count == bookings }
                }
                try await Task.sleep(for: .milliseconds(1500))  // a duplicate would arrive by now
                for url in urls {
                    let ids = receiver.requests(to: url).map(\.id)
                    #expect(ids.count == bookings, "\(url): \(ids.count) requests for \(bookings) events")
                    #expect(Set(ids).count == ids.count, "a webhook-id arrived twice at \(url)")
                }
                let after = try await cluster.env.workerMetricsPorts.asyncMap {
                    try await cluster.workerCounter("webhook_delivery_attempts_total", port: $0)
                }
                let byWorker = zip(after, before).map { $0 - $1 }
                #expect(byWorker.reduce(0, +) == Double(bookings * urls.count), "attempts by worker: \(byWorker)")
                #expect(byWorker.allSatisfy { $0 > 0 }, "both workers delivered: \(byWorker)")
            }
        } catch {
            await receiver.stop()
            throw error
        }
        await receiver.stop()
    }

    @Test func twoWorkersNeverRunOneJobTwice() async throws {
        try await withCluster { cluster in
            let url = TestEnv.adminURL(database: cluster.env.database)
            // 1,000 jobs due in a second: both workers (polling every second) wake to a queue that takes each of
            // them a few seconds to drain, so they claim side by side.
            let batch = UUID().uuidString
            try await MigrationFixture.withConnection(url) { conn in
                try await conn.query(
                    """
                    INSERT INTO jobs (kind, payload, run_at)
                    SELECT 'noop', jsonb_build_object('batch', \(batch)::text), now() + interval '1 second'
                    FROM generate_series(1, 1000)
                    """,
                    logger: TestEnv.logger
                )
            }
            struct Claims: Sendable { let finished: Int, claimedOnce: Int, byWorker: [String: Int] }
            func claims() async throws -> Claims {
                try await MigrationFixture.withConnection(url) { conn in
                    var finished = 0
                    var once = 0
                    var byWorker: [String: Int] = [:]
                    let rows = try await conn.query(
                        """
                        SELECT locked_by, attempts, finished_at IS NOT NULL FROM jobs WHERE payload->>'batch' = \(batch)
                        """,
                        logger: TestEnv.logger
                    )
                    for try await (worker, attempts, done) in rows.decode((String?, Int32, Bool).self) {
                        if done { finished += 1 }
                        if attempts == 1 { once += 1 }
                        if let worker { byWorker[worker, default: 0] += 1 }
                    }
                    return Claims(finished: finished, claimedOnce: once, byWorker: byWorker)
                }
            }
            try await eventually("every job finished", timeout: .seconds(60)) { try await claims().finished == 1000 }
            let result = try await claims()
            // SKIP LOCKED claims: no job claimed twice (a second claim would add an attempt), none lost.
            #expect(result.claimedOnce == 1000, "\(1000 - result.claimedOnce) jobs were claimed more than once")
            #expect(result.byWorker.count == 2 && result.byWorker.values.allSatisfy { $0 > 0 }, "jobs by worker: \(result.byWorker)")
            #expect(result.byWorker.values.reduce(0, +) == 1000)
        }
    }

    @Test func twoWorkersNeverRunOneICalSyncTwice() async throws {
        let feeds = try await FeedServer.start()
        do {
            try await withCluster { cluster in
                let token = try await cluster.signup()
                let property = try await cluster.createProperty(token)
                let before = try await cluster.env.workerMetricsPorts.asyncMap { try await cluster.workerCounter("channel_syncs_total", port: $0) }
                var connections: [(id: UUID, url: String)] = []
                for _ in 0..<12 {
                    let url = feeds.serve(.slow(.milliseconds(400), then: ICalFixtures.empty))
                    let r = try await cluster.send(
                        .POST,
                        "/api/v1/channel-connections",
                        token: token,
                        json: [
                            "property_id": JSONValue(property), "channel": "ical", "external_listing_id": .string(UUID().uuidString),
                            "ical_url": .string(url),
                        ]
                    )
                    let id = try #require(r["id"]?.uuid, "\(r.raw)")
                    connections.append((id, url))
                }
                func syncedAll() async throws -> Bool {
                    let list = try await cluster.send(.GET, "/api/v1/channel-connections?limit=50", token: token)
                    let ok = (list["data"]?.arrayValue ?? []).filter { $0["last_sync_status"]?.stringValue == "ok" }
                    return ok.count == connections.count
                }
                // Each new connection is due at once; every feed must be fetched exactly once between the two workers.
                try await eventually("the first syncs", timeout: .seconds(30)) {
                    guard connections.allSatisfy({ !feeds.requests(to: $0.url).isEmpty }) else { return false }
                    return try await syncedAll()
                }
                try await Task.sleep(for: .milliseconds(1500))
                for c in connections { #expect(feeds.requests(to: c.url).count == 1, "\(c.url) fetched \(feeds.requests(to: c.url).count) times") }

                // Sync now, for all of them at once: one more fetch each, never two.
                for c in connections {
                    let r = try await cluster.send(.POST, "/api/v1/channel-connections/\(c.id)/sync", token: token)
                    #expect(r.status == 202, "\(r.raw)")
                }
                try await eventually("the requested syncs", timeout: .seconds(30)) {
                    connections.allSatisfy { feeds.requests(to: $0.url).count >= 2 }
                }
                try await Task.sleep(for: .milliseconds(1500))
                for c in connections { #expect(feeds.requests(to: c.url).count == 2, "\(c.url) fetched \(feeds.requests(to: c.url).count) times") }
                let after = try await cluster.env.workerMetricsPorts.asyncMap { try await cluster.workerCounter("channel_syncs_total", port: $0) }
                let byWorker = zip(after, before).map { $0 - $1 }
                #expect(byWorker.reduce(0, +) == Double(2 * connections.count), "syncs by worker: \(byWorker)")
                #expect(byWorker.allSatisfy { $0 > 0 }, "both workers synced: \(byWorker)")
            }
        } catch {
            await feeds.stop()
            throw error
        }
        await feeds.stop()
    }

    /// Last: it restarts every API process. A steady read load from many users (each well under the rate limit)
    /// runs while `scripts/cluster rolling-restart` SIGTERMs each process, waits for it to drain and exit, and
    /// starts it again. nginx retries a read that met a closing connection on another process: nothing is lost.
    @Test func aRollingRestartUnderReadLoadDropsNoRequest() async throws {
        try await withCluster { cluster in
            let tokens = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<12 { group.addTask { try await cluster.signup() } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            struct Outcome: Sendable { let status: Int, upstream: String, error: String? }
            final class Load: Sendable {
                let outcomes = Mutex<[Outcome]>([])
                let stop = Atomic<Bool>(false)
            }
            let state = Load()
            let load = Task {
                await withTaskGroup(of: Void.self) { group in
                    for token in tokens {
                        group.addTask {
                            while !state.stop.load(ordering: .relaxed) {
                                do {
                                    let r = try await cluster.send(.GET, "/api/v1/properties", token: token)
                                    state.outcomes.withLock {
                                        $0.append(Outcome(status: r.status, upstream: r.upstream, error: r.status == 200 ? nil : r.raw))
                                    }
                                } catch {
                                    state.outcomes.withLock { $0.append(Outcome(status: 0, upstream: "-", error: "\(error)")) }
                                }
                                try? await Task.sleep(for: .milliseconds(200))
                            }
                        }
                    }
                }
            }
            try await Task.sleep(for: .seconds(1))
            let restart = try await runClusterScript(["rolling-restart"])
            try await Task.sleep(for: .seconds(1))
            state.stop.store(true, ordering: .relaxed)
            await load.value
            #expect(restart.status == 0, "rolling restart failed: \(restart.output)")
            #expect(restart.output.components(separatedBy: "restarting api-").count - 1 == cluster.env.apiPorts.count, "\(restart.output)")
            let all = state.outcomes.withLock { $0 }
            let failed = all.filter { $0.status != 200 }
            #expect(all.count >= 100, "too little load to show anything: \(all.count) requests")
            #expect(failed.isEmpty, "\(failed.count) of \(all.count) requests failed: \(failed.prefix(5).map { "\($0.status) \($0.error ?? "")" })")
            // "127.0.0.1:18511, 127.0.0.1:18512": nginx tried a process that was restarting, then the next one.
            let answeredBy = Set(all.compactMap { $0.upstream.split(separator: ",").last.map { $0.trimmingCharacters(in: .whitespaces) } })
            #expect(answeredBy == Set(cluster.env.apiPorts.map { "127.0.0.1:\($0)" }), "\(answeredBy)")
            let retried = all.filter { $0.status == 200 && $0.upstream.contains(",") }
            #expect(!retried.isEmpty, "no read met a restarting process: the test did not exercise nginx's retry")
            // Every process is back and answering.
            for port in cluster.env.apiPorts {
                #expect(try await cluster.send(.GET, "/health/live", port: port).status == 200, "\(port)")
            }
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
