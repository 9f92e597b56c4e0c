import Foundation
import PostgresNIO

/// The runbook endpoints (SPEC §6): current commit, environment sanity, metrics, and
/// changing an agency's feature entitlements with the ops token (SPEC §7).
struct OpsController {
    /// A worker whose last heartbeat is older than this is reported stale.
    static let workerStaleAfterSeconds = 30

    func addRoutes(to routes: RouteBuilder) {
        routes.ops(API.currentCommit) { call in
            .json(["commit_sha": .string(call.services.build.commitSHA), "deployed_at": .string(call.services.build.deployedAt)])
        }
        routes.ops(API.envSanity, envSanity)
        routes.ops(API.metrics) { call in
            await Self.updateGauges(call.services)
            return Reply(status: .ok, body: nil, headers: [.contentType: "text/plain; version=0.0.4"])
                .with(text: call.services.metrics.render())
        }
        routes.ops(API.setFeature, setFeature)
    }

    @Sendable func envSanity(_ call: Call) async throws -> Reply {
        let services = call.services
        async let redis = services.redis.status()
        let facts = try? await services.db.transaction(.none) { conn in try await Self.databaseFacts(conn, services: services) }
        let env = services.config.setVariables
        let variables: [JSONValue] = AppConfig.variables.map { v in
            ["name": .string(v.name), "required": .bool(v.required), "set": .bool(env.contains(v.name))]
        }
        let requiredSet = AppConfig.variables.allSatisfy { !$0.required || env.contains($0.name) }
        let redisStatus = await redis
        let healthy = facts.map { $0.rlsEnforced && $0.pending == 0 && $0.workerFresh } ?? false
        let body: JSONValue = [
            "db": facts == nil ? "unavailable" : "ok",
            "redis": .string(redisStatus.rawValue),
            "worker": .string(facts.map { $0.workerFresh ? "ok" : "stale" } ?? "unknown"),
            "rls": .string(facts.map { $0.rlsEnforced ? "enforced" : "not_enforced" } ?? "unknown"),
            "migrations": ["applied": JSONValue(facts?.applied), "pending": JSONValue(facts?.pending)],
            "env_vars": .array(variables),
        ]
        return .json(body, status: healthy && requiredSet ? .ok : .serviceUnavailable)
    }

    static func databaseFacts(_ conn: PostgresConnection, services: AppServices) async throws -> DatabaseFacts {
        try await DatabaseFacts.read(conn, migrations: services.migrations, logger: services.logger, workerStaleAfterSeconds: workerStaleAfterSeconds)
    }

    static func updateGauges(_ services: AppServices) async {
        let facts = try? await services.db.transaction(.none) { conn in try await databaseFacts(conn, services: services) }
        services.metrics.gauge("db_up", "1 when the database answers.").set(Double(facts == nil ? 0 : 1))
        services.metrics.gauge("redis_up", "1 when Redis answers (or is disabled).").set(
            Double(await services.redis.status() == .unavailable ? 0 : 1)
        )
        services.metrics.gauge("worker_up", "1 when a worker heartbeat is fresh.").set(Double(facts?.workerFresh == true ? 1 : 0))
        services.metrics.gauge("db_pool_max_connections", "The API's connection pool size.").set(Double(services.db.maximumConnections))
        services.metrics.gauge("db_transactions_in_flight", "Database transactions running now.").set(Double(services.db.inFlight))
        services.metrics.gauge("db_pool_open_connections", "Connections this process holds open to the database now.").set(
            Double(services.db.openConnections)
        )
        // The webhook queue across every agency (a platform figure, read in the worker's scope); not asked of a
        // database that did not answer just now, so a scrape during an outage waits for one deadline, not two.
        if facts != nil,
            let (due, depth, oldest) = try? await services.db.transaction(.worker, { conn in try await WebhookDeliveryRepository.queueStats(conn) })
        {
            services.metrics.gauge("webhook_queue_depth", "Webhook deliveries waiting: due now or scheduled for a retry.").set(Double(depth))
            services.metrics.gauge("webhook_queue_due", "Webhook deliveries due now and not yet sent.").set(Double(due))
            services.metrics.gauge("webhook_oldest_due_age_seconds", "How long the oldest due webhook delivery has waited.").set(oldest)
        }
    }

    /// `PUT /ops/agencies/{agency_id}/features/{name}` `{enabled, config}`: ops token only, audited.
    @Sendable func setFeature(_ call: Call) async throws -> Reply {
        let agencyId = try call.pathId("agency_id")
        guard let feature = call.context.parameters.get("name").flatMap(Feature.init(rawValue:)) else {
            throw APIError(
                .featureNotFound,
                "No feature named '\(call.context.parameters.get("name") ?? "")'; known: \(Feature.allCases.map(\.rawValue).joined(separator: ", "))."
            )
        }
        var body = try call.json()
        let enabled = body.bool("enabled", required: true)
        let config: JSONValue
        switch body.values["config"] {
        case nil, .null?: config = [:]
        case .object?: config = body.values["config"]!
        default:
            config = [:]
            body.fail("config", "must be an object")
        }
        try body.finish()
        return try await call.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
            guard try await AgencyRepository.exists(conn, id: agencyId) else {
                throw APIError(.agencyNotFound)
            }
            let old = try await FeatureRepository.effective(conn, agency: agencyId).first { $0.feature == feature }!
            try await FeatureRepository.set(conn, agency: agencyId, feature: feature, enabled: enabled!, config: config)
            let new = FeatureState(feature: feature, enabled: enabled!, config: config)
            try await AuditLog.record(
                conn,
                agency: agencyId,
                user: nil,
                action: "feature.change",
                resourceType: "feature",
                resourceId: nil,
                details: ["name": .string(feature.rawValue), "old": old.json, "new": new.json]
            )
            return .json(new.json)
        }
    }
}

extension Reply {
    /// The same reply with a plain-text body.
    func with(text: String) -> Reply {
        var copy = self
        copy.body = text
        return copy
    }
}
