import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing

@testable import Innkeep

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
            #expect(
                try await api.createBooking(
                    agency,
                    property: property,
                    checkIn: "2036-02-05",
                    checkOut: "2036-02-01"
                ).status == .unprocessableContent
            )
            #expect(try await api.count(agency.id, "SELECT count(*) FROM webhook_events") == 2)
            // A transaction that emits and then fails leaves no event and no delivery.
            struct Boom: Error {}
            await #expect(throws: Boom.self) {
                try await api.services.db.transaction(.tenant(agency.id, user: nil)) { conn in
                    let event = try await Outbox.emit(conn, agency: agency.id, type: .bookingCreated, data: ["x": 1] as JSONValue)
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
            #expect(
                try await api.send(
                    .patch,
                    "/api/v1/webhook-endpoints/\(off)",
                    token: agency.admin.token,
                    json: ["enabled": false]
                )["enabled"] == false
            )
            let property = try await api.createProperty(agency)
            let booking = try #require(
                try await api.createBooking(
                    agency,
                    property: property,
                    checkIn: "2036-03-01",
                    checkOut: "2036-03-02"
                )["id"]?.uuid
            )
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
        let refused = [
            "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "0.0.0.0", "100.64.0.1",
            "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "::ffff:127.0.0.1",
            "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1", "2002:a00:1::1", "2001:db8::1", "192.0.2.1",
        ]
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
        let header = WebhookSignature.header(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
            timestamp: 1_614_265_330,
            body: #"{"test": 2432232314}"#,
            secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
        )
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
        #expect(try AppConfig(environment: base).eventLoopThreads == max(1, System.coreCount / 2), "the tests' database is local")
        var elsewhere = base
        elsewhere["DATABASE_URL"] = " " + base["DATABASE_URL"]! + " "
        #expect(try AppConfig(environment: elsewhere).eventLoopThreads == max(1, System.coreCount / 2), "read as DATABASE_URL is")
        elsewhere["DATABASE_URL"] = "postgres://innkeep_api:pw@db.example.com:5432/innkeep"
        #expect(try AppConfig(environment: elsewhere).eventLoopThreads == System.coreCount)
        env["EVENT_LOOP_THREADS"] = "1"
        #expect(try AppConfig(environment: env).eventLoopThreads == 1)
        for (name, bad) in [
            ("WEBHOOK_RETRY_SCHEDULE", "5,,6"), ("WEBHOOK_RETRY_SCHEDULE", "soon"), ("WEBHOOK_RETRY_SCHEDULE", "-1"),
            ("ALLOW_PRIVATE_URLS", "maybe"), ("WORKER_METRICS_PORT", "70000"),
            ("EVENT_LOOP_THREADS", "0"), ("EVENT_LOOP_THREADS", "65"), ("EVENT_LOOP_THREADS", "two"),
        ] {
            var e = base
            e[name] = bad
            #expect(throws: ConfigError.self, "\(name)=\(bad)") { try AppConfig(environment: e) }
            do { _ = try AppConfig(environment: e) } catch {
                #expect(error.variable == name && !error.description.contains(bad))
            }
        }
        let config = try AppConfig(environment: base)
        let d = WebhookDispatcher(
            config: config,
            db: Database(url: config.databaseURL, logger: TestEnv.logger),
            logger: TestEnv.logger,
            metrics: AppMetrics()
        )
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
            for url in [
                "https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook", "https://[::ffff:10.0.0.1]/hook",
                "https://169.254.169.254/latest/meta-data", "https://10.0.0.5/", "http://93.184.216.34/hook", "ftp://93.184.216.34/",
                "not a url", "https://",
            ] {
                let r = try await api.send(
                    .post,
                    "/api/v1/webhook-endpoints",
                    token: agency.admin.token,
                    json: [
                        "url": .string(url),
                        "events": ["booking.created"],
                    ]
                )
                #expect(r.status == .unprocessableContent, "\(url): \(r.raw)")
                #expect(fields(r) == ["url"], "\(url): \(r.raw)")
            }
            let ok = try await api.send(
                .post,
                "/api/v1/webhook-endpoints",
                token: agency.admin.token,
                json: ["url": "https://93.184.216.34/hook", "events": ["booking.created"]]
            )
            #expect(ok.status == .created)
            let patch = try await api.send(
                .patch,
                "/api/v1/webhook-endpoints/\(try #require(ok["id"]?.uuid))",
                token: agency.admin.token,
                json: ["url": "https://192.168.0.10/"]
            )
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
            let bad = try await api.send(
                .post,
                "/api/v1/webhook-endpoints",
                token: admin,
                json: ["url": "gopher://x", "events": ["booking.created", "booking.exploded"], "description": 5]
            )
            #expect(bad.status == .unprocessableContent && fields(bad) == ["description", "events", "url"])
            #expect(fields(try await api.send(.post, "/api/v1/webhook-endpoints", token: admin, json: [:])) == ["events", "url"])
            #expect(
                fields(
                    try await api.send(
                        .post,
                        "/api/v1/webhook-endpoints",
                        token: admin,
                        json: [
                            "url": "http://127.0.0.1:9/",
                            "events": [],
                        ]
                    )
                ) == ["events"]
            )

            let created = try await api.send(
                .post,
                "/api/v1/webhook-endpoints",
                token: admin,
                json: [
                    "url": "http://127.0.0.1:9/x", "events": ["booking.created", "booking.created", "block.created"], "description": "Cleaners",
                ]
            )
            #expect(created.status == .created)
            let id = try #require(created["id"]?.uuid)
            #expect(created["events"] == ["booking.created", "block.created"] && created["enabled"] == true && created["description"] == "Cleaners")
            #expect(created["agency_id"]?.uuid == agency.id)
            // The secret is shown once: never by get, list or patch.
            let got = try await api.send(.get, "/api/v1/webhook-endpoints/\(id)", token: admin)
            #expect(got.status == .ok && got["secret"] == nil && !got.raw.contains("whsec_"))
            let list = try await api.send(.get, "/api/v1/webhook-endpoints", token: admin)
            #expect(list.data.map { $0["id"]?.uuid } == [id] && !list.raw.contains("whsec_"))
            let patched = try await api.send(
                .patch,
                "/api/v1/webhook-endpoints/\(id)",
                token: admin,
                json: [
                    "description": "Locks",
                    "events": ["booking.cancelled"],
                ]
            )
            #expect(patched["description"] == "Locks" && patched["events"] == ["booking.cancelled"] && patched["url"] == "http://127.0.0.1:9/x")
            #expect(!patched.raw.contains("whsec_"))
            #expect(
                fields(
                    try await api.send(
                        .patch,
                        "/api/v1/webhook-endpoints/\(id)",
                        token: admin,
                        json: [
                            "url": nil, "events": nil,
                            "enabled": "no",
                        ]
                    )
                )
                    == ["enabled", "events", "url"]
            )

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
            for (method, path) in [
                (HTTPRequest.Method.get, ""), (.patch, ""), (.delete, ""), (.post, "/rotate-secret"), (.post, "/test"),
                (
                    .get,
                    "/deliveries"
                ),
            ] {
                let r = try await api.send(
                    method,
                    "/api/v1/webhook-endpoints/\(id)\(path)",
                    token: other.admin.token,
                    json: method == .patch ? ["description": "x"] : nil
                )
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
