import Foundation
import HTTPTypes
import Hummingbird
@testable import Innkeep
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing

// MARK: - A receiver inside the test suite

/// One request the receiver got.
struct ReceivedWebhook: Sendable {
    let path: String
    let headers: [String: String]
    let body: String
    let at: ContinuousClock.Instant
    var id: String { headers["webhook-id"] ?? "" }
    var json: JSONValue { JSONValue.parse(Array(body.utf8)) ?? .null }
}

/// An HTTP server on loopback that records every request and answers by the path's last part, as
/// scripted: `ok` 200, `flaky` 500 on the first try of each webhook-id then 200, `gone` 410, `redirect`
/// 302 to `ok`, `slow` 200 after 4 s, `brief` 200 after 150 ms, `fail` 500 always.
final class WebhookReceiver: Sendable {
    private let received = Mutex<[ReceivedWebhook]>([])
    let port: Int
    private let task: Task<Void, any Error>

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    func url(_ behaviour: String, _ tag: String = UUID().uuidString.prefix(8).lowercased()) -> String {
        "http://127.0.0.1:\(port)/\(tag)/\(behaviour)"
    }

    var requests: [ReceivedWebhook] { received.withLock { $0 } }
    func requests(to url: String) -> [ReceivedWebhook] {
        let path = URL(string: url)!.path
        return requests.filter { $0.path == path }
    }

    func record(_ r: ReceivedWebhook) -> Int { received.withLock { $0.append(r); return $0.filter { $0.path == r.path && $0.id == r.id }.count } }

    static func start() async throws -> WebhookReceiver {
        final class Box: Sendable { let receiver = Mutex<WebhookReceiver?>(nil) }
        let box = Box()
        let router = Router()
        router.post("/:tag/:behaviour") { request, context -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let behaviour = context.parameters.get("behaviour") ?? "ok"
            let received = ReceivedWebhook(path: request.uri.path, headers: headers, body: String(buffer: body), at: .now)
            let tries = box.receiver.withLock { $0 }?.record(received) ?? 1
            switch behaviour {
            case "flaky": return Response(status: tries == 1 ? .internalServerError : .ok)
            case "gone": return Response(status: .gone)
            case "redirect": return Response(status: .found, headers: [.location: "/\(context.parameters.get("tag") ?? "x")/ok"])
            case "slow":
                try await Task.sleep(for: .seconds(4))
                return Response(status: .ok)
            case "fail": return Response(status: .internalServerError)
            case "brief":  // 200 after 150 ms: keeps a worker's per-endpoint slots busy, so two workers share the load
                try await Task.sleep(for: .milliseconds(150))
                return Response(status: .ok)
            default: return Response(status: .ok)
            }
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        var quiet = Logger(label: "webhook-receiver")
        quiet.logLevel = .critical
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) }, logger: quiet)
        let task = Task { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else { throw TestFailure("the receiver did not start") }
        let receiver = WebhookReceiver(port: port, task: task)
        box.receiver.withLock { $0 = receiver }
        return receiver
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

// MARK: - Helpers

/// Verifies requests with the reference `standardwebhooks` library (PyPI), in the venv scripts/py-env builds.
/// Fails the test when Python, the library or any signature fails: it never skips.
func verifyWithReferenceLibrary(_ requests: [ReceivedWebhook], secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    #expect(!requests.isEmpty, "nothing to verify", sourceLocation: sourceLocation)
    let env = try TestEnv.shell("'\(TestEnv.repo.path)/scripts/py-env'")
    let python = env.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(env.status == 0, "scripts/py-env failed: \(env.output)", sourceLocation: sourceLocation)
    let input: JSONValue = .array(requests.map { r in
        [
            "secrets": .array(secrets.map(JSONValue.string)), "body": .string(r.body),
            "headers": .object(r.headers.filter { $0.key.hasPrefix("webhook-") }.mapValues(JSONValue.string)),
        ]
    })
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("webhooks-\(UUID().uuidString).json")
    try input.serialized.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let result = try TestEnv.shell("'\(python)' '\(TestEnv.repo.path)/scripts/verify-webhooks.py' < '\(file.path)'")
    #expect(result.status == 0, "standardwebhooks refused: \(result.output)", sourceLocation: sourceLocation)
    #expect(result.output.contains("verified \(requests.count) requests (\(requests.count * secrets.count) signatures)"),
            "\(result.output)", sourceLocation: sourceLocation)
}

/// Polls until `condition` holds, or fails after `timeout`.
func eventually(_ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
                _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
    throw TestFailure("timed out waiting for \(what)")
}

extension APIClient {
    func createEndpoint(_ agency: TestAgency, url: String, events: [String] = ["booking.created",
        "booking.cancelled"]) async throws -> (id: UUID, secret: String) {
        let r = try await send(.post, "/api/v1/webhook-endpoints", token: agency.admin.token,
                               json: ["url": .string(url), "events": .array(events.map(JSONValue.string))])
        guard r.status == .created, let id = r["id"]?.uuid, let secret = r["secret"]?.stringValue else {
            throw TestFailure("create endpoint: \(r.status) \(r.raw)")
        }
        return (id, secret)
    }

    func deliveries(_ agency: TestAgency, endpoint: UUID) async throws -> [JSONValue] {
        let r = try await send(.get, "/api/v1/webhook-endpoints/\(endpoint)/deliveries?limit=200", token: agency.admin.token)
        guard r.status == .ok else { throw TestFailure("deliveries: \(r.raw)") }
        return r.data
    }

    /// Counts rows of the agency's webhook tables matching `condition` (SQL), in the agency's scope.
    func count(_ agency: UUID, _ sql: String) async throws -> Int {
        try await services.db.transaction(.tenant(agency, user: nil)) { conn in
            try await conn.run(PostgresQuery(unsafeSQL: sql)).collect().first!.decode(Int.self)
        }
    }

    func dispatcher(_ agency: TestAgency, schedule: [Int] = [1, 1], allowPrivate: Bool = true,
                    configure: (inout WebhookDispatcher.Options) -> Void = { _ in }) -> WebhookDispatcher {
        var options = WebhookDispatcher.Options()
        options.onlyAgency = agency.id
        options.pollInterval = .milliseconds(100)
        configure(&options)
        return WebhookDispatcher(db: services.db, logger: TestEnv.logger, metrics: services.metrics,
                                 policy: .webhooks(allowPrivate: allowPrivate), schedule: schedule, options: options)
    }
}

/// Runs the dispatcher while `body` runs, then stops it (cancelled: in-flight requests are abandoned).
func running<T: Sendable>(_ dispatchers: WebhookDispatcher..., body: () async throws -> T) async throws -> T {
    let tasks = dispatchers.map { d in Task { try await d.run() } }
    do {
        let result = try await body()
        for t in tasks { t.cancel() }
        for t in tasks { _ = await t.result }
        return result
    } catch {
        for t in tasks { t.cancel() }
        for t in tasks { _ = await t.result }
        throw error
    }
}

let privateURLs = ["ALLOW_PRIVATE_URLS": "true"] as [String: String?]

// MARK: - Delivery

/// Webhook delivery end to end (SPEC §13): the real app and database, a receiver on loopback, the worker's
/// dispatcher, and every request verified with the reference `standardwebhooks` library. Serialized: the
/// timing-sensitive cases (slow receivers) must not share two cores with each other.
@Suite(.serialized) struct WebhookDeliveryTests {
    @Test func bookingEventsArriveSignedAndVerifyWithTheReferenceLibrary() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let url = receiver.url("ok")
            let (endpoint, secret) = try await api.createEndpoint(agency, url: url)
            #expect(secret.hasPrefix("whsec_") && Data(base64Encoded: String(secret.dropFirst(6)))?.count == 32)
            let property = try await api.createProperty(agency)
            let booking = try await api.createBooking(agency, property: property, checkIn: "2033-01-01", checkOut: "2033-01-04")
            let bookingId = try #require(booking["id"]?.uuid)
            let cancelled = try await api.send(.post, "/api/v1/bookings/\(bookingId)/cancel", token: agency.admin.token)
            #expect(cancelled.status == .ok)

            try await running(api.dispatcher(agency)) {
                try await eventually("2 deliveries") {
                    try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'") == 2
                }
            }
            let got = receiver.requests(to: url)
            #expect(got.count == 2)
            #expect(Set(got.map { $0.json["type"]?.stringValue ?? "" }) == ["booking.created", "booking.cancelled"])
            let created = try #require(got.first { $0.json["type"] == "booking.created" })
            #expect(created.json["data"]?["id"]?.uuid == bookingId)
            #expect(created.json["data"]?["status"] == "confirmed")
            #expect(created.json["timestamp"]?.stringValue?.hasSuffix("Z") == true)
            #expect(got.first { $0.json["type"] == "booking.cancelled" }?.json["data"]?["status"] == "cancelled")
            #expect(created.headers["content-type"] == "application/json")
            #expect(created.headers["webhook-signature"]?.hasPrefix("v1,") == true)
            let timestamp = try #require(created.headers["webhook-timestamp"].flatMap(Int64.init))
            #expect(abs(timestamp - Int64(Date().timeIntervalSince1970)) < 60)
            try verifyWithReferenceLibrary(got, secrets: [secret])

            // The log: one row per event, the webhook-id is the event id, attempt 1, 200.
            let log = try await api.deliveries(agency, endpoint: endpoint)
            #expect(log.count == 2)
            #expect(Set(log.compactMap { $0["event_id"]?.stringValue }) == Set(got.map(\.id)))
            for row in log {
                #expect(row["status"] == "succeeded" && row["attempt"] == 1 && row["response_status"] == 200 && row["next_attempt_at"] == .null)
                #expect((row["duration_ms"]?.intValue ?? -1) >= 0)
            }
        }
    }

    @Test func aRetryKeepsTheSameIdAndVerifies() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let url = receiver.url("flaky")
            let (endpoint, secret) = try await api.createEndpoint(agency, url: url)
            let property = try await api.createProperty(agency)
            _ = try await api.createBooking(agency, property: property, checkIn: "2033-02-01", checkOut: "2033-02-03")
            try await running(api.dispatcher(agency, schedule: [1, 1])) {
                try await eventually("the retry") {
                    try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'") == 1
                }
            }
            let got = receiver.requests(to: url)
            #expect(got.count == 2)
            #expect(Set(got.map(\.id)).count == 1, "webhook-id changed across retries: \(got.map(\.id))")
            #expect(got[0].body == got[1].body)
            // About a second apart (the schedule's first step, ±10 %).
            let gap = got[1].at - got[0].at
            #expect(gap >= .milliseconds(850) && gap < .seconds(5), "\(gap)")
            try verifyWithReferenceLibrary(got, secrets: [secret])
            let row = try #require(try await api.deliveries(agency, endpoint: endpoint).first)
            #expect(row["status"] == "succeeded" && row["attempt"] == 2 && row["response_status"] == 200 && row["error"] == .null)
        }
    }

    @Test func exhaustedRetriesEndFailedAndRedirectsAreNotFollowed() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let tag = "r\(UUID().uuidString.prefix(6).lowercased())"
            let redirect = receiver.url("redirect", tag), target = receiver.url("ok", tag)
            let (endpoint, secret) = try await api.createEndpoint(agency, url: redirect)
            let property = try await api.createProperty(agency)
            _ = try await api.createBooking(agency, property: property, checkIn: "2033-03-01", checkOut: "2033-03-03")
            // Retried while pending: `retrying` with a next attempt.
            try await running(api.dispatcher(agency, schedule: [0, 0])) {
                try await eventually("three attempts, then failed") {
                    try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'") == 1
                }
            }
            let got = receiver.requests(to: redirect)
            #expect(got.count == 3, "1 attempt + 2 retries")
            #expect(receiver.requests(to: target).isEmpty, "the redirect was followed")
            try verifyWithReferenceLibrary(got, secrets: [secret])
            let row = try #require(try await api.deliveries(agency, endpoint: endpoint).first)
            #expect(row["status"] == "failed" && row["attempt"] == 3 && row["response_status"] == 302 && row["next_attempt_at"] == .null)
            #expect(row["error"]?.stringValue?.contains("redirect") == true)
            let still = try await api.send(.get, "/api/v1/webhook-endpoints/\(endpoint)", token: agency.admin.token)
            #expect(still["enabled"] == true, "a failure that is not 410 leaves the endpoint enabled")
        }
    }

    @Test func goneDisablesTheEndpointAndIsAudited() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let url = receiver.url("gone")
            let (endpoint, secret) = try await api.createEndpoint(agency, url: url)
            let property = try await api.createProperty(agency)
            _ = try await api.createBooking(agency, property: property, checkIn: "2033-04-01", checkOut: "2033-04-03")
            try await running(api.dispatcher(agency)) {
                try await eventually("the 410") {
                    try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'") == 1
                }
            }
            try verifyWithReferenceLibrary(receiver.requests(to: url), secrets: [secret])
            let e = try await api.send(.get, "/api/v1/webhook-endpoints/\(endpoint)", token: agency.admin.token)
            #expect(e["enabled"] == false)
            #expect(e["disabled_reason"]?.stringValue?.contains("410") == true)
            let row = try #require(try await api.deliveries(agency, endpoint: endpoint).first)
            #expect(row["status"] == "failed" && row["attempt"] == 1 && row["response_status"] == 410)
            let audit = try await api.auditEntries(agency, "action=webhook_endpoint.update&resource_id=\(endpoint)")
            #expect(audit.count == 1 && audit.first?["user_id"] == .null && audit.first?["details"]?["enabled"] == false)
            // A disabled endpoint is sent nothing more.
            _ = try await api.createBooking(agency, property: property, checkIn: "2033-04-10", checkOut: "2033-04-12")
            #expect(try await api.deliveries(agency, endpoint: endpoint).count == 1)
            // Re-enabled, it receives again.
            let on = try await api.send(.patch, "/api/v1/webhook-endpoints/\(endpoint)", token: agency.admin.token, json: ["enabled": true])
            #expect(on["enabled"] == true && on["disabled_reason"] == .null)
            _ = try await api.createBooking(agency, property: property, checkIn: "2033-04-20", checkOut: "2033-04-22")
            #expect(try await api.deliveries(agency, endpoint: endpoint).count == 2)
        }
    }

    @Test func aSlowReceiverDoesNotDelayTheOthers() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let slow = receiver.url("slow"), fast = receiver.url("ok")
            let (slowId, _) = try await api.createEndpoint(agency, url: slow, events: ["webhook.test"])
            let (_, fastSecret) = try await api.createEndpoint(agency, url: fast, events: ["booking.created"])
            // Ten slow deliveries queued first (oldest), then ten fast ones.
            for _ in 0..<10 {
                let r = try await api.send(.post, "/api/v1/webhook-endpoints/\(slowId)/test", token: agency.admin.token)
                #expect(r.status == .accepted)
            }
            let property = try await api.createProperty(agency)
            for i in 0..<10 {
                _ = try await api.createBooking(agency, property: property, checkIn: futureDay(10 * i, year: 2034),
                    checkOut: futureDay(10 * i + 1, year: 2034))
            }
            let started = ContinuousClock.now
            let d = api.dispatcher(agency, schedule: [60]) { o in
                o.perEndpoint = 2
                o.maxConcurrent = 8
                o.timeout = .seconds(2)
            }
            try await running(d) {
                try await eventually("the fast receiver's ten", timeout: .seconds(20)) { receiver.requests(to: fast).count >= 10 }
                let fastDone = ContinuousClock.now - started
                // The slow receiver holds at most two slots for its 2 s timeout; the others flow meanwhile.
                #expect(fastDone < .seconds(3), "fast deliveries waited \(fastDone) behind the slow receiver")
                #expect(receiver.requests(to: slow).count <= 4, "more than perEndpoint at once to the slow receiver")
                try await eventually("the first timeouts") {
                    try await api.count(agency.id,
                        "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = '\(slowId)' AND status = 'retrying'") >= 2
                }
            }
            try verifyWithReferenceLibrary(receiver.requests(to: fast), secrets: [fastSecret])
            // Those that ran into the timeout say so; those in flight when the worker stopped were released
            // (pending again, the attempt not counted).
            let log = try await api.deliveries(agency, endpoint: slowId)
            let attempted = log.filter { $0["status"] == "retrying" }
            #expect(attempted.count >= 2 && attempted.allSatisfy { $0["error"] == "timed out" && $0["response_status"] == .null }, "\(log)")
            #expect(log.filter { $0["status"] == "pending" }.allSatisfy { $0["attempt"] == 0 }, "\(log)")
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE locked_by IS NOT NULL") == 0)
        }
    }

    @Test func nothingIsLostWhenTheWorkerStopsWhileEventsAreCreated() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let url = receiver.url("ok")
            let (_, secret) = try await api.createEndpoint(agency, url: url, events: ["booking.created"])
            let property = try await api.createProperty(agency)
            var bookings: [UUID] = []
            func book(_ i: Int) async throws {
                let r = try await api.createBooking(agency, property: property, checkIn: futureDay(3 * i, year: 2035),
                    checkOut: futureDay(3 * i + 1, year: 2035))
                bookings.append(try #require(r["id"]?.uuid))
            }
            // A worker runs while the first half is created, and is killed (cancelled mid-flight) halfway.
            let first = api.dispatcher(agency) { $0.leaseSeconds = 2 }
            let task = Task { try await first.run() }
            for i in 0..<15 { try await book(i) }
            task.cancel()
            _ = await task.result
            // No worker at all while the second half is created.
            for i in 15..<30 { try await book(i) }
            let pending = try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE status <> 'succeeded'")
            #expect(pending >= 15)
            // Another worker starts: everything arrives (a delivery the killed worker held goes out when its lease expires).
            try await running(api.dispatcher(agency)) {
                try await eventually("all 30 delivered", timeout: .seconds(30)) {
                    try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'") == 30
                }
            }
            let got = receiver.requests(to: url)
            let delivered = Set(got.compactMap { $0.json["data"]?["id"]?.uuid })
            #expect(delivered == Set(bookings))
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_events") == 30)
            try verifyWithReferenceLibrary(got, secrets: [secret])
        }
    }

    @Test func twoWorkersDeliverAHundredEventsOnceEach() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let urls = [receiver.url("ok"), receiver.url("ok")]
            var secrets: [String] = []
            for url in urls { secrets.append(try await api.createEndpoint(agency, url: url, events: ["booking.created"]).secret) }
            // 100 events through the one entry point, each in its own transaction.
            var events: [UUID] = []
            for i in 0..<100 {
                let id = try await api.services.db.transaction(.tenant(agency.id, user: nil)) { conn in
                    try await Outbox.emit(conn, agency: agency.id, type: .bookingCreated, data: ["n": .int(Int64(i))])
                }
                events.append(try #require(id))
            }
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries") == 200)
            let a = api.dispatcher(agency) { $0.batch = 4 }, b = api.dispatcher(agency) { $0.batch = 4 }
            try await running(a, b) {
                try await eventually("200 deliveries") {
                    try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'") == 200
                }
            }
            for (url, secret) in zip(urls, secrets) {
                let got = receiver.requests(to: url)
                #expect(got.count == 100, "\(url): \(got.count) requests")
                #expect(Set(got.map(\.id)).count == 100, "duplicate webhook-ids")
                #expect(Set(got.map(\.id)) == Set(events.map { $0.uuidString.lowercased() }))
                try verifyWithReferenceLibrary(got, secrets: [secret])
            }
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE attempt <> 1") == 0)
        }
    }

    @Test func rotationSignsWithBothSecretsForADay() async throws {
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let url = receiver.url("ok")
            let (endpoint, old) = try await api.createEndpoint(agency, url: url)
            let rotated = try await api.send(.post, "/api/v1/webhook-endpoints/\(endpoint)/rotate-secret", token: agency.admin.token)
            #expect(rotated.status == .ok)
            let new = try #require(rotated["secret"]?.stringValue)
            #expect(new != old && new.hasPrefix("whsec_"))
            let expires = try #require(rotated["previous_secret_expires_at"]?.stringValue)
            #expect(expires > RFC3339.format(Date().addingTimeInterval(86_400 - 120)))
            #expect(expires < RFC3339.format(Date().addingTimeInterval(86_400 + 120)))
            let test = try await api.send(.post, "/api/v1/webhook-endpoints/\(endpoint)/test", token: agency.admin.token)
            #expect(test.status == .accepted && test["event_type"] == "webhook.test" && test["status"] == "pending")
            try await running(api.dispatcher(agency)) {
                try await eventually("the test event") { receiver.requests(to: url).count == 1 }
            }
            let got = receiver.requests(to: url)
            #expect(got[0].headers["webhook-signature"]?.split(separator: " ").count == 2)
            #expect(got[0].json["type"] == "webhook.test")
            // The reference library accepts it with the old secret and with the new one.
            try verifyWithReferenceLibrary(got, secrets: [old, new])
            #expect(try await api.auditEntries(agency, "action=webhook_endpoint.rotate").count == 1)
            #expect(!(try await api.auditEntries(agency, "resource_id=\(endpoint)").map(\.serialized).joined().contains("whsec_")))
        }
    }
}

// MARK: - Transactions, subscriptions, the URL policy, the API

@Suite struct WebhookOutboxTests {
    @Test func rolledBackActionsEmitNothing() async throws {
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            _ = try await api.createEndpoint(agency, url: "http://127.0.0.1:9/hook")
            let property = try await api.createProperty(agency)
            let ok = try await api.createBooking(agency, property: property, checkIn: "2036-01-01", checkOut: "2036-01-05")
            #expect(ok.status == .created)
            // Refused actions: a conflict (409), a cancel of a cancelled booking, a validation error.
            #expect(try await api.createBooking(agency, property: property, checkIn: "2036-01-02", checkOut: "2036-01-03").status == .conflict)
            let id = try #require(ok["id"]?.uuid)
            #expect(try await api.send(.post, "/api/v1/bookings/\(id)/cancel", token: agency.admin.token).status == .ok)
            #expect(try await api.send(.post, "/api/v1/bookings/\(id)/cancel", token: agency.admin.token).status == .conflict)
            #expect(try await api.createBooking(agency, property: property, checkIn: "2036-02-05",
                checkOut: "2036-02-01").status == .unprocessableContent)
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_events") == 2)
            // A transaction that emits and then fails leaves no event and no delivery.
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await api.services.db.transaction(.tenant(agency.id, user: nil)) { conn in
                    let event = try await Outbox.emit(conn, agency: agency.id, type: .bookingCreated, data: ["x": 1])
                    #expect(event != nil)
                    throw Boom()
                }
            }
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_events") == 2)
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries") == 2)
        }
    }

    @Test func onlyEnabledEndpointsSubscribedToTheTypeGetADelivery() async throws {
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let other = try await api.makeAgency()
            let (cancelOnly, _) = try await api.createEndpoint(agency, url: "http://127.0.0.1:9/a", events: ["booking.cancelled"])
            let (both, _) = try await api.createEndpoint(agency, url: "http://127.0.0.1:9/b")
            let (off, _) = try await api.createEndpoint(agency, url: "http://127.0.0.1:9/c")
            let (foreign, _) = try await api.createEndpoint(other, url: "http://127.0.0.1:9/d")
            #expect(try await api.send(.patch, "/api/v1/webhook-endpoints/\(off)", token: agency.admin.token,
                json: ["enabled": false])["enabled"] == false)
            let property = try await api.createProperty(agency)
            let booking = try #require(try await api.createBooking(agency, property: property, checkIn: "2036-03-01",
                checkOut: "2036-03-02")["id"]?.uuid)
            #expect(try await api.deliveries(agency, endpoint: cancelOnly).isEmpty)
            #expect(try await api.deliveries(agency, endpoint: both).map { $0["event_type"] } == ["booking.created"])
            #expect(try await api.deliveries(agency, endpoint: off).isEmpty)
            #expect(try await api.deliveries(other, endpoint: foreign).isEmpty)
            _ = try await api.send(.post, "/api/v1/bookings/\(booking)/cancel", token: agency.admin.token)
            #expect(try await api.deliveries(agency, endpoint: cancelOnly).map { $0["event_type"] } == ["booking.cancelled"])
            #expect(try await api.deliveries(agency, endpoint: both).map { $0["event_type"] } == ["booking.cancelled", "booking.created"])
            #expect(try await api.deliveries(agency, endpoint: off).isEmpty)
            // An agency with no endpoint writes no event at all.
            let quiet = try await api.makeAgency()
            let p2 = try await api.createProperty(quiet)
            _ = try await api.createBooking(quiet, property: p2, checkIn: "2036-03-01", checkOut: "2036-03-02")
            #expect(try await api.count(quiet.id, "SELECT count(*) FROM webhook_events") == 0)
        }
    }

    @Test func urlPolicyClassifiesAddresses() async throws {
        let refused = ["127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
                       "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
                       "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a00:1::1", "2001:db8::1", "192.0.2.1"]
        for a in refused { #expect(IPAddress(a)?.isPublic == false, "\(a) should not be public") }
        for a in ["93.184.216.34", "8.8.8.8", "172.32.0.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"] {
            #expect(IPAddress(a)?.isPublic == true, "\(a) should be public")
        }
        let strict = OutboundURLPolicy.webhooks(allowPrivate: false)
        for url in ["https://localhost/x", "https://2130706433/", "https://0x7f.1/", "https://[::1]:8443/"] {
            await #expect(throws: OutboundURLPolicy.Violation.self, "\(url)") { _ = try await strict.check(url) }
        }
        #expect(try await strict.check("https://93.184.216.34:8443/hook").pinnedAddress == "93.184.216.34")
        await #expect(throws: OutboundURLPolicy.Violation.scheme(allowed: ["https"])) { _ = try await strict.check("http://93.184.216.34/") }
        let ical = OutboundURLPolicy(schemes: ["http", "https"], allowPrivate: false)
        #expect(try await ical.check("http://93.184.216.34/feed.ics").scheme == "http")
        await #expect(throws: OutboundURLPolicy.Violation.self) { _ = try await ical.check("ftp://93.184.216.34/") }
        #expect(try await OutboundURLPolicy.webhooks(allowPrivate: true).check("http://localhost:1/").addresses.isEmpty == false)
    }

    /// The Standard Webhooks specification's published test vector (the reference library signs the same).
    @Test func signatureMatchesTheSpecificationsVector() {
        let header = WebhookSignature.header(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: #"{"test": 2432232314}"#,
                                             secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        #expect(header == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        let two = WebhookSignature.header(id: "m", timestamp: 1, body: "{}", secrets: [WebhookSignature.newSecret(), WebhookSignature.newSecret()])
        #expect(two.split(separator: " ").count == 2 && two.split(separator: " ").allSatisfy { $0.hasPrefix("v1,") })
        #expect(WebhookSignature.newSecret() != WebhookSignature.newSecret())
    }

    @Test func retryScheduleComesFromTheSpecOrTheEnvironmentWithJitter() throws {
        let base = TestEnv.environment(database: "x")
        #expect(try AppConfig(environment: base).webhookRetrySchedule == [5, 300, 1800, 7200, 18000, 36000, 36000])
        #expect(try AppConfig(environment: base).allowPrivateURLs == false)
        var env = base
        env["WEBHOOK_RETRY_SCHEDULE"] = "1, 2,30"
        env["ALLOW_PRIVATE_URLS"] = "true"
        #expect(try AppConfig(environment: env).webhookRetrySchedule == [1, 2, 30])
        #expect(try AppConfig(environment: env).allowPrivateURLs)
        for (name, bad) in [("WEBHOOK_RETRY_SCHEDULE", "5,,6"), ("WEBHOOK_RETRY_SCHEDULE", "soon"), ("WEBHOOK_RETRY_SCHEDULE", "-1"),
                            ("ALLOW_PRIVATE_URLS", "maybe"), ("WORKER_METRICS_PORT", "70000")] {
            var e = base
            e[name] = bad
            #expect(throws: ConfigError.self, "\(name)=\(bad)") { try AppConfig(environment: e) }
            do { _ = try AppConfig(environment: e) } catch let error as ConfigError {
                #expect(error.variable == name && !error.description.contains(bad))
            } catch { Issue.record("\(error)") }
        }
        let config = try AppConfig(environment: base)
        let d = WebhookDispatcher(config: config, db: Database(url: config.databaseURL, logger: TestEnv.logger), logger: TestEnv.logger,
                                  metrics: AppMetrics())
        for _ in 0..<200 {
            let first = try #require(d.retryDelay(afterAttempt: 1))
            #expect(first >= 4.5 && first <= 5.5)
            let last = try #require(d.retryDelay(afterAttempt: 7))
            #expect(last >= 32_400 && last <= 39_600)
        }
        #expect(d.retryDelay(afterAttempt: 8) == nil, "after the seventh retry the delivery fails")
    }

    @Test func privateURLsAreRefusedAtSaveAndAtDelivery() async throws {
        try await withApp { api in  // ALLOW_PRIVATE_URLS unset: off
            let agency = try await api.makeAgency()
            for url in ["https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook", "https://[::ffff:10.0.0.1]/hook",
                        "https://169.254.169.254/latest/meta-data", "https://10.0.0.5/", "http://93.184.216.34/hook", "ftp://93.184.216.34/",
                        "not a url", "https://"] {
                let r = try await api.send(.post, "/api/v1/webhook-endpoints", token: agency.admin.token, json: ["url": .string(url),
                    "events": ["booking.created"]])
                #expect(r.status == .unprocessableContent, "\(url): \(r.raw)")
                #expect(fields(r) == ["url"], "\(url): \(r.raw)")
            }
            let ok = try await api.send(.post, "/api/v1/webhook-endpoints", token: agency.admin.token,
                                        json: ["url": "https://93.184.216.34/hook", "events": ["booking.created"]])
            #expect(ok.status == .created)
            let patch = try await api.send(.patch, "/api/v1/webhook-endpoints/\(try #require(ok["id"]?.uuid))", token: agency.admin.token,
                                           json: ["url": "https://192.168.0.10/"])
            #expect(patch.status == .unprocessableContent && fields(patch) == ["url"])
        }
        // Saved while allowed, refused when the worker's policy is strict: checked again at delivery, nothing is sent.
        let receiver = try await WebhookReceiver.start()
        defer { Task { await receiver.stop() } }
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let url = receiver.url("ok")
            let (endpoint, _) = try await api.createEndpoint(agency, url: url)
            _ = try await api.send(.post, "/api/v1/webhook-endpoints/\(endpoint)/test", token: agency.admin.token)
            try await running(api.dispatcher(agency, schedule: [0], allowPrivate: false)) {
                try await eventually("refused twice") {
                    try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'") == 1
                }
            }
            #expect(receiver.requests(to: url).isEmpty)
            let row = try #require(try await api.deliveries(agency, endpoint: endpoint).first)
            #expect(row["error"]?.stringValue?.hasPrefix("refused") == true && row["attempt"] == 2, "\(row)")
        }
    }

    @Test func endpointsCRUDValidationAuditAndIsolation() async throws {
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let other = try await api.makeAgency()
            let admin = agency.admin.token
            let bad = try await api.send(.post, "/api/v1/webhook-endpoints", token: admin,
                                         json: ["url": "gopher://x", "events": ["booking.created", "booking.exploded"], "description": 5])
            #expect(bad.status == .unprocessableContent && fields(bad) == ["description", "events", "url"])
            #expect(fields(try await api.send(.post, "/api/v1/webhook-endpoints", token: admin, json: [:])) == ["events", "url"])
            #expect(fields(try await api.send(.post, "/api/v1/webhook-endpoints", token: admin, json: ["url": "http://127.0.0.1:9/",
                "events": []])) == ["events"])

            let created = try await api.send(.post, "/api/v1/webhook-endpoints", token: admin, json: [
                "url": "http://127.0.0.1:9/x", "events": ["booking.created", "booking.created", "block.created"], "description": "Cleaners",
            ])
            #expect(created.status == .created)
            let id = try #require(created["id"]?.uuid)
            #expect(created["events"] == ["booking.created", "block.created"] && created["enabled"] == true && created["description"] == "Cleaners")
            #expect(created["agency_id"]?.uuid == agency.id)
            // The secret is shown once: never by get, list or patch.
            let got = try await api.send(.get, "/api/v1/webhook-endpoints/\(id)", token: admin)
            #expect(got.status == .ok && got["secret"] == nil && !got.raw.contains("whsec_"))
            let list = try await api.send(.get, "/api/v1/webhook-endpoints", token: admin)
            #expect(list.data.map { $0["id"]?.uuid } == [id] && !list.raw.contains("whsec_"))
            let patched = try await api.send(.patch, "/api/v1/webhook-endpoints/\(id)", token: admin, json: ["description": "Locks",
                "events": ["booking.cancelled"]])
            #expect(patched["description"] == "Locks" && patched["events"] == ["booking.cancelled"] && patched["url"] == "http://127.0.0.1:9/x")
            #expect(!patched.raw.contains("whsec_"))
            #expect(fields(try await api.send(.patch, "/api/v1/webhook-endpoints/\(id)", token: admin, json: ["url": nil, "events": nil,
                "enabled": "no"]))
                    == ["enabled", "events", "url"])

            // The deliveries log pages with the shared cursor.
            for _ in 0..<3 { #expect(try await api.send(.post, "/api/v1/webhook-endpoints/\(id)/test", token: admin).status == .accepted) }
            let page1 = try await api.send(.get, "/api/v1/webhook-endpoints/\(id)/deliveries?limit=2", token: admin)
            let cursor = try #require(page1["next_cursor"]?.stringValue)
            let page2 = try await api.send(.get, "/api/v1/webhook-endpoints/\(id)/deliveries?limit=2&cursor=\(cursor)", token: admin)
            #expect(page1.data.count == 2 && page2.data.count == 1 && page2["next_cursor"] == .null)
            #expect(Set((page1.data + page2.data).compactMap { $0["id"]?.uuid }).count == 3)
            #expect(try await api.send(.get, "/api/v1/webhook-endpoints/\(id)/deliveries?status=succeeded", token: admin).data.isEmpty)
            #expect(fields(try await api.send(.get, "/api/v1/webhook-endpoints/\(id)/deliveries?status=lost", token: admin)) == ["status"])

            // Another agency's endpoint does not exist for this one.
            for (method, path) in [(HTTPRequest.Method.get, ""), (.patch, ""), (.delete, ""), (.post, "/rotate-secret"), (.post, "/test"), (.get,
                "/deliveries")] {
                let r = try await api.send(method, "/api/v1/webhook-endpoints/\(id)\(path)", token: other.admin.token,
                                           json: method == .patch ? ["description": "x"] : nil)
                #expect(r.status == .notFound && r.errorCode == "WEBHOOK_ENDPOINT_NOT_FOUND", "\(method) \(path): \(r.raw)")
            }
            #expect(try await api.send(.get, "/api/v1/webhook-endpoints", token: other.admin.token).data.isEmpty)

            #expect(try await api.send(.delete, "/api/v1/webhook-endpoints/\(id)", token: admin).status == .noContent)
            #expect(try await api.send(.get, "/api/v1/webhook-endpoints/\(id)", token: admin).errorCode == "WEBHOOK_ENDPOINT_NOT_FOUND")
            #expect(try await api.send(.delete, "/api/v1/webhook-endpoints/\(id)", token: admin).errorCode == "WEBHOOK_ENDPOINT_NOT_FOUND")
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries") == 0)
            let actions = try await api.auditEntries(agency, "resource_id=\(id)").compactMap { $0["action"]?.stringValue }
            #expect(actions == ["webhook_endpoint.delete", "webhook_endpoint.update", "webhook_endpoint.create"])
        }
    }

    @Test func creatingPostsAreIdempotent() async throws {
        try await withApp(env: privateURLs) { api in
            let agency = try await api.makeAgency()
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "wh-\(UUID().uuidString)"]
            let body: JSONValue = ["url": "http://127.0.0.1:9/i", "events": ["booking.created"]]
            let first = try await api.send(.post, "/api/v1/webhook-endpoints", token: agency.admin.token, json: body, headers: key)
            let again = try await api.send(.post, "/api/v1/webhook-endpoints", token: agency.admin.token, json: body, headers: key)
            #expect(first.status == .created && again.status == .created && first.raw == again.raw)
            #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            let id = try #require(first["id"]?.uuid)
            let testKey: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "wt-\(UUID().uuidString)"]
            let t1 = try await api.send(.post, "/api/v1/webhook-endpoints/\(id)/test", token: agency.admin.token, headers: testKey)
            let t2 = try await api.send(.post, "/api/v1/webhook-endpoints/\(id)/test", token: agency.admin.token, headers: testKey)
            #expect(t1.status == .accepted && t1.raw == t2.raw)
            #expect(try await api.deliveries(agency, endpoint: id).count == 1)
        }
    }
}
