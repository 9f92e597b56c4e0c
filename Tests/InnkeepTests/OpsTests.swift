import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import Innkeep

/// The runbook endpoints (SPEC §6) — current commit, env-sanity, metrics, who may call them, that
/// no secret ever leaves the process — and the worker: two of them never run a job twice, and the
/// recurring purge removes only expired idempotency keys.
@Suite struct OpsTests {
    /// Values that must never appear in a response or a log line.
    static let secrets = LogCapture.secrets

    static func expectNoSecrets(_ responses: [APIResponse], sourceLocation: SourceLocation = #_sourceLocation) {
        for r in responses {
            let headers = r.headers.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
            for secret in secrets {
                #expect(!r.raw.contains(secret) && !headers.contains(secret), "secret in a response: \(r.raw)", sourceLocation: sourceLocation)
            }
        }
    }

    @Suite struct Endpoints {
        @Test func currentCommitReportsTheCommitAndDeployTime() async throws {
            try await withApp { api in
                let r = try await api.send(.get, "/ops/current-commit", token: TestEnv.opsToken)
                #expect(r.status == .ok)
                #expect(r["commit_sha"] == "test-commit")
                let deployed = try #require(r["deployed_at"]?.stringValue)
                #expect(ISO8601DateFormatter().date(from: deployed) != nil || deployed.contains("T"), "\(deployed)")
                guard case .object(let keys)? = Optional(r.json) else {
                    Issue.record("not an object: \(r.raw)")
                    return
                }
                #expect(Set(keys.keys) == ["commit_sha", "deployed_at"])
            }
            try await withApp(env: ["DEPLOYED_AT": "2030-01-02T03:04:05Z"]) { api in
                let r = try await api.send(.get, "/ops/current-commit", token: TestEnv.opsToken)
                #expect(r.json == ["commit_sha": "test-commit", "deployed_at": "2030-01-02T03:04:05Z"])
            }
        }

        /// On a database of its own, so no other test's worker heartbeat makes it fresh.
        @Test func envSanityReportsNamesOnlyAndTheWorkerHeartbeat() async throws {
            let database = SharedDatabase.name + "_sanity"
            try await TestEnv.dropDatabase(database)
            try await TestEnv.prepareDatabase(database)
            try await withApp(database: database) { api in
                let stale = try await api.send(.get, "/ops/env-sanity", token: TestEnv.opsToken)
                #expect(stale.status == .serviceUnavailable, "\(stale.raw)")
                #expect(stale["worker"] == "stale")
                Self.expectShape(stale)

                try await Worker(db: api.services.db, logger: TestEnv.logger).heartbeat()
                let fresh = try await api.send(.get, "/ops/env-sanity", token: TestEnv.opsToken)
                #expect(fresh.status == .ok, "\(fresh.raw)")
                #expect(fresh["worker"] == "ok")
                Self.expectShape(fresh)
                OpsTests.expectNoSecrets([stale, fresh])
            }
        }

        static func expectShape(_ r: APIResponse, sourceLocation: SourceLocation = #_sourceLocation) {
            guard case .object(let body) = r.json else {
                Issue.record("not an object: \(r.raw)", sourceLocation: sourceLocation)
                return
            }
            #expect(Set(body.keys) == ["db", "redis", "worker", "rls", "migrations", "env_vars"], sourceLocation: sourceLocation)
            #expect(r["db"] == "ok", sourceLocation: sourceLocation)
            #expect(r["redis"] == "ok", sourceLocation: sourceLocation)
            #expect(r["rls"] == "enforced", sourceLocation: sourceLocation)
            let migrations = (try? Migration.load(from: TestEnv.migrationsDir).count) ?? -1
            #expect(r["migrations"] == ["applied": .int(Int64(migrations)), "pending": 0], sourceLocation: sourceLocation)
            let vars = r["env_vars"]?.arrayValue ?? []
            #expect(vars.count == AppConfig.variables.count, sourceLocation: sourceLocation)
            let set: Set<String> = [
                "DATABASE_URL", "MIGRATION_DATABASE_URL", "REDIS_URL", "JWT_SECRET", "OPS_TOKEN", "COMMIT_SHA",
                "AUTH_RATE_LIMIT_PER_MINUTE",
            ]
            for (v, expected) in zip(vars, AppConfig.variables) {
                guard case .object(let entry) = v else {
                    Issue.record("env var entry \(v)", sourceLocation: sourceLocation)
                    continue
                }
                #expect(Set(entry.keys) == ["name", "required", "set"], sourceLocation: sourceLocation)
                #expect(v["name"] == .string(expected.name), sourceLocation: sourceLocation)
                #expect(v["required"] == .bool(expected.required), sourceLocation: sourceLocation)
                #expect(v["set"] == .bool(set.contains(expected.name)), "\(expected.name)", sourceLocation: sourceLocation)
            }
        }

        /// SPEC §14: the ops token or a platform operator (granted with the real `innkeep operator` CLI); agency
        /// admins, whom anyone can become by signing up, are customers and get 403 like every other role.
        @Test func opsEndpointsTakeTheOpsTokenOrAPlatformOperatorNeverAnAgencyAdmin() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let operatorUser = try await api.signup()
                let cli = MigrationFixture.serveEnvironment(SharedDatabase.name)
                let granted = try await MigrationFixture.innkeep("operator grant \(operatorUser.email.uppercased())", env: cli)
                #expect(granted.status == 0, "\(granted.lines)")
                var responses: [APIResponse] = []
                for path in ["/ops/current-commit", "/ops/env-sanity", "/metrics"] {
                    let ops = try await api.send(.get, path, token: TestEnv.opsToken)
                    #expect(ops.status == .ok || (path == "/ops/env-sanity" && ops.status == .serviceUnavailable), "\(path): \(ops.raw)")
                    let op = try await api.send(.get, path, token: operatorUser.token)
                    #expect(op.status == ops.status || path == "/ops/env-sanity", "\(path): \(op.raw)")
                    #expect(op.errorCode == nil, "\(path): \(op.raw)")
                    for role in Role.allCases {
                        let denied = try await api.send(.get, path, token: agency.token(role))
                        #expect(denied.status == .forbidden, "\(path) as \(role): \(denied.raw)")
                        #expect(denied.errorCode == "INSUFFICIENT_ROLE")
                        responses.append(denied)
                    }
                    let anonymous = try await api.send(.get, path)
                    #expect(anonymous.status == .unauthorized)
                    #expect(anonymous.errorCode == "AUTH_REQUIRED")
                    let wrong = try await api.send(.get, path, token: TestEnv.opsToken + "x")
                    #expect(wrong.status == .unauthorized)
                    #expect(wrong.errorCode == "INVALID_TOKEN")
                    responses += [ops, op, anonymous, wrong]
                }
                // Changing an agency's features: the operator may, the agency's own admin may not.
                let feature = try await api.send(
                    .put,
                    "/ops/agencies/\(agency.id)/features/owner_portal",
                    token: agency.admin.token,
                    json: ["enabled": true]
                )
                #expect(feature.status == .forbidden, "\(feature.raw)")
                #expect(feature.errorCode == "INSUFFICIENT_ROLE")
                let byOperator = try await api.send(
                    .put,
                    "/ops/agencies/\(agency.id)/features/owner_portal",
                    token: operatorUser.token,
                    json: ["enabled": true]
                )
                #expect(byOperator.status == .ok, "\(byOperator.raw)")
                // Revoked: the next request is refused.
                let revoked = try await MigrationFixture.innkeep("operator revoke \(operatorUser.email)", env: cli)
                #expect(revoked.status == 0, "\(revoked.lines)")
                let after = try await api.send(.get, "/metrics", token: operatorUser.token)
                #expect(after.errorCode == "INSUFFICIENT_ROLE")
                let unknown = try await MigrationFixture.innkeep("operator grant nobody-\(UUID())@x.io", env: cli)
                #expect(unknown.status != 0)
                #expect(unknown.lines.last?.contains("no user has the email") == true, "\(unknown.lines)")
                OpsTests.expectNoSecrets(responses + [feature, after])
            }
        }

        @Test func metricsArePrometheusTextByRouteTemplate() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                #expect(try await api.send(.get, "/api/v1/properties", token: agency.admin.token).status == .ok)
                #expect(try await api.send(.get, "/api/v1/properties/\(property)", token: agency.admin.token).status == .ok)
                let denied = try await api.send(.post, "/api/v1/properties", token: agency.token(.staff), json: ["name": "No", "max_guests": 2])
                #expect(denied.status == .forbidden)
                _ = try await api.send(.get, "/no/such/route/\(UUID())")

                let r = try await api.send(.get, "/metrics", token: TestEnv.opsToken)
                #expect(r.status == .ok)
                #expect(r.headers[.contentType]?.hasPrefix("text/plain") == true)
                let text = r.raw
                #expect(text.contains("# TYPE http_requests_total counter"))
                #expect(text.contains(#"http_requests_total{route="/api/v1/properties",method="GET",status="200"}"#), "\(text)")
                #expect(text.contains(#"route="/api/v1/properties/{id}""#) || text.contains(#"route="/api/v1/properties/:id""#))
                #expect(text.contains(#"route="unmatched""#))
                // Route templates only: no raw id ever becomes a label.
                #expect(!text.lowercased().contains(property.uuidString.lowercased()))
                #expect(text.contains("http_request_duration_seconds_bucket"))
                #expect(text.contains(#"rbac_denials_total{enforced="true"}"#))
                #expect(text.contains("db_pool_max_connections \(api.services.db.maximumConnections)"))
                #expect(text.contains("db_up 1"))
                #expect(text.contains("worker_up"))
                #expect(text.contains("db_transactions_in_flight"))
                // This request's own transactions opened at least one connection, and never more than the pool's size.
                let open = text.split(separator: "\n").first { $0.hasPrefix("db_pool_open_connections ") }
                let count = open.flatMap { Double($0.split(separator: " ").last ?? "") }
                #expect(count.map { $0 >= 1 && $0 <= Double(api.services.db.maximumConnections) } == true, "\(open ?? "none")")
                OpsTests.expectNoSecrets([r])
            }
        }

        /// A database that is not there at all: 503 fast, counted in degraded_responses_total.
        @Test func unreachableDatabaseIsCountedAsDegraded() async throws {
            try await withApp(database: "innkeep_nowhere", port: 1, databaseDeadline: TestEnv.productionDeadline) { api in
                let token = await api.services.jwt.sign(subject: UUID(), lifetime: 60)
                for (method, path) in [(HTTPRequest.Method.get, "/health"), (.get, "/api/v1/properties"), (.get, "/api/v1/me")] {
                    let (r, elapsed) = try await timed { try await api.send(method, path, token: token) }
                    #expect(r.status == .serviceUnavailable, "\(path): \(r.raw)")
                    #expect(elapsed < .seconds(2), "\(path) took \(elapsed)")
                }
                #expect(try await api.send(.get, "/health/live").status == .ok)
                let metrics = try await api.send(.get, "/metrics", token: TestEnv.opsToken)
                #expect(metrics.raw.contains(#"degraded_responses_total{code="DATABASE_UNAVAILABLE"} 3"#), "\(metrics.raw)")
                #expect(metrics.raw.contains("db_up 0"))
            }
        }

        /// Every response and every log line (debug level, driver included) of a busy session.
        @Test func noSecretInAnyResponseOrLogLine() async throws {
            let logs = LogCapture()
            try await withApp(logger: logs.logger(level: .trace)) { api in
                let agency = try await api.makeAgency()
                let email = agency.admin.email
                var responses: [APIResponse] = []
                responses.append(try await api.send(.post, "/api/v1/auth/login", json: ["email": .string(email), "password": "wrong password!"]))
                responses.append(
                    try await api.send(.post, "/api/v1/auth/login", json: ["email": .string(email), "password": .string(agency.admin.password)])
                )
                responses.append(try await api.send(.get, "/api/v1/properties", token: "not.a.jwt"))
                responses.append(try await api.send(.get, "/api/v1/properties", token: TestEnv.jwtSecret))
                for path in ["/health", "/health/live", "/ops/current-commit", "/ops/env-sanity", "/metrics", "/api/v1/me"] {
                    responses.append(try await api.send(.get, path, token: TestEnv.opsToken))
                    responses.append(try await api.send(.get, path, token: agency.admin.token))
                }
                responses.append(try await api.send(.post, "/api/v1/properties", token: agency.admin.token, rawBody: "{not json"))
                OpsTests.expectNoSecrets(responses)
                logs.expectNoSecrets()
            }
        }
    }

    /// Jobs share one table: serialized, and on a database of their own, so no other test's
    /// worker (the idempotency purge tests run one) takes these jobs.
    @Suite(.serialized) struct WorkerJobs {
        static let database = SharedDatabase.name + "_jobs"
        static let prepared = Task {
            try await TestEnv.dropDatabase(database)
            try await TestEnv.prepareDatabase(database)
        }

        static func withJobsApp<T: Sendable>(_ body: @Sendable (APIClient) async throws -> T) async throws -> T {
            try await prepared.value
            return try await withApp(database: database, body)
        }

        static func drain(_ worker: Worker) async throws -> Int {
            var ran = 0
            while try await worker.runNextJob() { ran += 1 }
            return ran
        }

        @Test func twoWorkersNeverRunTheSameJobTwice() async throws {
            try await Self.withJobsApp { api in
                let db = api.services.db
                let ids = try await db.transaction(.worker) { conn in
                    try await conn.run("INSERT INTO jobs (kind) SELECT 'noop' FROM generate_series(1, 40) RETURNING id")
                        .collect().map { try $0.decode(UUID.self) }
                }
                #expect(ids.count == 40)
                let first = Worker(db: db, logger: TestEnv.logger, id: "test-a-\(UUID().uuidString.prefix(8))")
                let second = Worker(db: db, logger: TestEnv.logger, id: "test-b-\(UUID().uuidString.prefix(8))")
                async let a = Self.drain(first)
                async let b = Self.drain(second)
                let (ranA, ranB) = try await (a, b)
                #expect(ranA + ranB >= 40)

                let rows = try await db.transaction(.worker) { conn in
                    try await conn.run("SELECT id, attempts, finished_at IS NOT NULL, locked_by FROM jobs WHERE id = ANY(\(ids))")
                        .collect().map { try $0.decode((UUID, Int32, Bool, String?).self) }
                }
                #expect(rows.count == 40)
                for (id, attempts, finished, _) in rows {
                    #expect(attempts == 1, "job \(id) was claimed \(attempts) times")
                    #expect(finished, "job \(id) did not finish")
                }
                let byWorker = Dictionary(grouping: rows, by: { $0.3 ?? "nobody" }).mapValues(\.count)
                #expect(Set(byWorker.keys) == [first.id, second.id], "\(byWorker)")
                #expect(byWorker.values.allSatisfy { $0 > 0 }, "\(byWorker)")
            }
        }

        @Test func recurringPurgeDeletesOnlyExpiredIdempotencyKeys() async throws {
            try await Self.withJobsApp { api in
                let db = api.services.db
                let agency = try await api.makeAgency()
                let expired = "expired-\(UUID())"
                let live = "live-\(UUID())"
                try await db.transaction(.tenant(agency.id, user: nil)) { conn in
                    try await conn.run(
                        """
                        INSERT INTO idempotency_keys (agency_id, user_id, key, request_method, request_path, request_hash, response_status,
                            expires_at)
                        VALUES (\(agency.id), \(agency.admin.id), \(expired), 'POST', '/api/v1/bookings', 'h1', 201, now() - interval '1 hour'),
                               (\(agency.id), \(agency.admin.id), \(live), 'POST', '/api/v1/bookings', 'h2', 201, now() + interval '1 day')
                        """
                    )
                }
                let worker = Worker(db: db, logger: TestEnv.logger, id: "test-purge-\(UUID().uuidString.prefix(8))")
                // The heartbeat queues the recurring purge; make it due now even if an earlier run rescheduled it.
                try await worker.heartbeat()
                try await db.transaction(.worker) { conn in
                    try await conn.run("UPDATE jobs SET run_at = now() WHERE unique_name = 'purge_idempotency_keys'")
                }
                _ = try await Self.drain(worker)

                let keys = try await db.transaction(.tenant(agency.id, user: nil)) { conn in
                    try await conn.run("SELECT key FROM idempotency_keys WHERE agency_id = \(agency.id) ORDER BY key")
                        .collect().map { try $0.decode(String.self) }
                }
                #expect(keys == [live])
                let job = try await db.transaction(.worker) { conn in
                    try await conn.run(
                        """
                        SELECT finished_at IS NULL, locked_by IS NULL, run_at > now(), last_error FROM jobs WHERE unique_name =
                            'purge_idempotency_keys'
                        """
                    ).collect().first?.decode((Bool, Bool, Bool, String?).self)
                }
                let (pending, unlocked, later, error) = try #require(job)
                #expect(pending && unlocked && later, "the purge is rescheduled, not finished")
                #expect(error == nil)
            }
        }

        @Test func webhookEventsPastRetentionGoOnceTheirDeliveriesAreFinal() async throws {
            try await Self.withJobsApp { api in
                let db = api.services.db
                let agency = try await api.makeAgency()
                let days = Outbox.retentionDays
                let (old, oldRetrying, recent) = try await db.transaction(.tenant(agency.id, user: nil)) { conn in
                    let endpoint = try await conn.run(
                        """
                        INSERT INTO webhook_endpoints (agency_id, url, events, secret)
                        VALUES (\(agency.id), 'https://hooks.example.com/x', ARRAY['booking.created'], 'whsec_test') RETURNING id
                        """
                    ).collect()[0].decode(UUID.self)
                    func event(ageDays: Int, status: String) async throws -> UUID {
                        let id = try await conn.run(
                            """
                            INSERT INTO webhook_events (agency_id, type, payload, created_at)
                            VALUES (\(agency.id), 'booking.created', '{}', now() - make_interval(days => \(ageDays)::int)) RETURNING id
                            """
                        ).collect()[0].decode(UUID.self)
                        try await conn.run(
                            """
                            INSERT INTO webhook_deliveries (agency_id, endpoint_id, event_id, status, next_attempt_at)
                            VALUES (\(agency.id), \(endpoint), \(id), \(status),
                                    CASE WHEN \(status)::text IN ('pending', 'retrying') THEN now() + interval '1 hour' END)
                            """
                        )
                        return id
                    }
                    return (
                        try await event(ageDays: days + 1, status: "succeeded"), try await event(ageDays: days + 1, status: "retrying"),
                        try await event(ageDays: days - 1, status: "failed")
                    )
                }
                let worker = Worker(db: db, logger: TestEnv.logger, id: "test-webhook-purge-\(UUID().uuidString.prefix(8))")
                try await worker.heartbeat()
                try await db.transaction(.worker) { conn in
                    try await conn.run("UPDATE jobs SET run_at = now() WHERE unique_name = 'purge_webhook_events'")
                }
                _ = try await Self.drain(worker)

                let (events, deliveries) = try await db.transaction(.tenant(agency.id, user: nil)) { conn in
                    (
                        try await conn.run("SELECT id FROM webhook_events WHERE agency_id = \(agency.id)").collect().map { try $0.decode(UUID.self) },
                        try await conn.run("SELECT event_id FROM webhook_deliveries WHERE agency_id = \(agency.id)").collect()
                            .map { try $0.decode(UUID.self) }
                    )
                }
                #expect(Set(events) == [oldRetrying, recent], "only the old event whose delivery is final goes")
                #expect(Set(deliveries) == [oldRetrying, recent], "its delivery goes with it")
                #expect(!events.contains(old))
                let later = try await db.transaction(.worker) { conn in
                    try await conn.run("SELECT run_at > now() + interval '30 minutes' FROM jobs WHERE unique_name = 'purge_webhook_events'")
                        .collect().first?.decode(Bool.self)
                }
                #expect(later == true, "the webhook purge runs hourly")
            }
        }
    }
}
