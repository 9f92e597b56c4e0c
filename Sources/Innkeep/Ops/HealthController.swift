import Foundation

/// `GET /health` and `GET /health/live` (SPEC §6).
struct HealthController {
    func addRoutes(to routes: RouteBuilder) {
        routes.anonymous(API.healthLive) { _ in .json(["status": "ok"]) }
        routes.anonymous(API.health, health)
    }

    /// 200 ok, 200 degraded (Redis down), or 503 with the error envelope inside (database down). The check
    /// is shared by the requests of a few milliseconds (`HealthProbe`).
    @Sendable func health(_ call: Call) async throws -> Reply {
        let probe = await call.services.health.result()
        let redisStatus = probe.redis
        guard probe.db else {
            call.services.metrics.degradedResponse(code: .databaseUnavailable)
            let error = APIError.databaseUnavailable
            var body: [String: JSONValue] = ["status": "unavailable", "db": "unavailable", "redis": .string(redisStatus.rawValue)]
            body["error"] = error.envelope(requestId: call.context.requestId)["error"]
            return Reply(status: error.status, body: JSONValue.object(body).serialized, headers: error.headers)
        }
        return .json(["status": redisStatus == .unavailable ? "degraded" : "ok", "db": "ok", "redis": .string(redisStatus.rawValue)])
    }
}
