import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing

@testable import Innkeep

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
            try await verifyWithReferenceLibrary(got, secrets: [secret])

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
            try await verifyWithReferenceLibrary(got, secrets: [secret])
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
            let redirect = receiver.url("redirect", tag)
            let target = receiver.url("ok", tag)
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
            try await verifyWithReferenceLibrary(got, secrets: [secret])
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
            try await verifyWithReferenceLibrary(receiver.requests(to: url), secrets: [secret])
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
            let slow = receiver.url("slow")
            let fast = receiver.url("ok")
            let (slowId, _) = try await api.createEndpoint(agency, url: slow, events: ["webhook.test"])
            let (_, fastSecret) = try await api.createEndpoint(agency, url: fast, events: ["booking.created"])
            // Ten slow deliveries queued first (oldest), then ten fast ones.
            for _ in 0..<10 {
                let r = try await api.send(.post, "/api/v1/webhook-endpoints/\(slowId)/test", token: agency.admin.token)
                #expect(r.status == .accepted)
            }
            let property = try await api.createProperty(agency)
            for i in 0..<10 {
                _ = try await api.createBooking(
                    agency,
                    property: property,
                    checkIn: futureDay(10 * i, year: 2034),
                    checkOut: futureDay(10 * i + 1, year: 2034)
                )
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
                    try await api.count(
                        agency.id,
                        "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = '\(slowId)' AND status = 'retrying'"
                    ) >= 2
                }
            }
            try await verifyWithReferenceLibrary(receiver.requests(to: fast), secrets: [fastSecret])
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
                let r = try await api.createBooking(
                    agency,
                    property: property,
                    checkIn: futureDay(3 * i, year: 2035),
                    checkOut: futureDay(3 * i + 1, year: 2035)
                )
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
            try await verifyWithReferenceLibrary(got, secrets: [secret])
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
                    try await Outbox.emit(conn, agency: agency.id, type: .bookingCreated, data: ["n": .int(Int64(i))] as JSONValue)
                }
                events.append(try #require(id))
            }
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_deliveries") == 200)
            let a = api.dispatcher(agency) { $0.batch = 4 }
            let b = api.dispatcher(agency) { $0.batch = 4 }
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
                try await verifyWithReferenceLibrary(got, secrets: [secret])
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
            try await verifyWithReferenceLibrary(got, secrets: [old, new])
            #expect(try await api.auditEntries(agency, "action=webhook_endpoint.rotate").count == 1)
            #expect(!(try await api.auditEntries(agency, "resource_id=\(endpoint)").map(\.serialized).joined().contains("whsec_")))
        }
    }
}
