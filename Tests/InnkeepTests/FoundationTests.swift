import Foundation
import HTTPTypes
import NIOCore
import Testing

@testable import Innkeep

/// The error envelope, request ids and configuration (SPEC §1, §5).
@Suite struct EnvelopeTests {
    @Test func unknownRouteAnswers404InTheEnvelope() async throws {
        try await withApp { api in
            let r = try await api.send(.get, "/no/such/route")
            #expect(r.status == .notFound)
            #expect(r.errorCode == "ROUTE_NOT_FOUND")
            let requestId = try #require(r.headers[HTTPField.Name("X-Request-Id")!])
            #expect(r.json["error"]?["request_id"]?.stringValue == requestId)
            #expect(r.headers[.contentType]?.hasPrefix("application/json") == true)
        }
    }

    @Test func wrongMethodAnswers405WithAllow() async throws {
        try await withApp { api in
            let r = try await api.send(.delete, "/health")
            #expect(r.status == .methodNotAllowed)
            #expect(r.errorCode == "METHOD_NOT_ALLOWED")
            #expect(r.headers[.allow] == "GET")
            let p = try await api.send(.put, "/api/v1/properties/\(UUID())")
            #expect(p.status == .methodNotAllowed)
            #expect(p.headers[.allow]?.contains("PATCH") == true)
        }
    }

    @Test func validInboundRequestIdIsEchoedAndInvalidOneReplaced() async throws {
        try await withApp { api in
            let echoed = try await api.send(.get, "/health/live", headers: [HTTPField.Name("X-Request-Id")!: "trace-abc-123"])
            #expect(echoed.headers[HTTPField.Name("X-Request-Id")!] == "trace-abc-123")
            let long = String(repeating: "x", count: 500)
            let replaced = try await api.send(.get, "/nope", headers: [HTTPField.Name("X-Request-Id")!: long])
            let id = try #require(replaced.headers[HTTPField.Name("X-Request-Id")!])
            #expect(id != long)
            #expect(UUID(uuidString: id) != nil)
            #expect(replaced.json["error"]?["request_id"]?.stringValue == id)
        }
    }

    @Test func healthReportsDatabaseAndRedis() async throws {
        try await withApp { api in
            let r = try await api.send(.get, "/health")
            #expect(r.status == .ok)
            #expect(r.json == ["status": "ok", "db": "ok", "redis": "ok"])
            #expect(try await api.send(.get, "/health/live").status == .ok)
        }
    }

    @Test func redisNotConfiguredIsReportedDisabled() async throws {
        try await withApp(redisPort: nil) { api in
            let r = try await api.send(.get, "/health")
            #expect(r.json == ["status": "ok", "db": "ok", "redis": "disabled"])
        }
    }

    @Test func unexpectedErrorsBecomeOpaque500s() {
        struct Boom: Error, CustomStringConvertible { var description: String { "SELECT secret FROM pg_authid; stack at Foo.swift:12" } }
        let error = RequestMiddleware.apiError(
            for: Boom(),
            request: .init(head: .init(method: .get, scheme: "http", authority: "x", path: "/"), body: .init(buffer: .init())),
            endpointPath: nil
        )
        #expect(error.code == .internalError)
        let reply = Reply.error(error, requestId: "r1")
        #expect(reply.status == .internalServerError)
        #expect(reply.body?.contains("secret") == false)
        #expect(reply.body?.contains("Foo.swift") == false)
        #expect(
            reply.body
                == #"{"error":{"code":"INTERNAL_ERROR","message":"An unexpected error; it was logged with the request id.","request_id":"r1"}}"#
        )
    }
}

/// Configuration is parsed once; a bad variable stops the start with one line naming it.
@Suite struct ConfigTests {
    let base = TestEnv.environment(database: "x")

    func error(_ overrides: [String: String?]) -> ConfigError? {
        var env = base
        for (k, v) in overrides { env[k] = v }
        do {
            _ = try AppConfig(environment: env)
            return nil
        } catch { return error }
    }

    @Test func validEnvironmentParses() throws {
        let config = try AppConfig(environment: base)
        #expect(config.port == 8080)
        #expect(config.enforceRBAC)
        #expect(config.rateLimitPerMinute == 600)
        #expect(config.redisTimeout == .milliseconds(50))
        #expect(try AppConfig(environment: base.merging(["REDIS_TIMEOUT_MS": "750"]) { $1 }).redisTimeout == .milliseconds(750))
        #expect(config.logFormat == .json)
        #expect(config.databasePoolSize == max(2, 2 * System.coreCount))
        #expect(try AppConfig(environment: base.merging(["DATABASE_POOL_SIZE": "24"]) { $1 }).databasePoolSize == 24)
        #expect(config.migrationDatabaseURL.user == "innkeep_owner")
        #expect(config.databaseURL.user == "innkeep_api")
    }

    @Test(
        arguments: [
            (["DATABASE_URL": nil], "DATABASE_URL"),
            (["DATABASE_URL": "mysql://x"], "DATABASE_URL"),
            (["JWT_SECRET": nil], "JWT_SECRET"),
            (["JWT_SECRET": "too-short-secret"], "JWT_SECRET"),
            (["PORT": "eighty"], "PORT"),
            (["PORT": "70000"], "PORT"),
            (["ENFORCE_RBAC": "maybe"], "ENFORCE_RBAC"),
            (["RATE_LIMIT_PER_MINUTE": "0"], "RATE_LIMIT_PER_MINUTE"),
            (["REDIS_TIMEOUT_MS": "5"], "REDIS_TIMEOUT_MS"),
            (["DATABASE_POOL_SIZE": "0"], "DATABASE_POOL_SIZE"),
            (["DATABASE_POOL_SIZE": "many"], "DATABASE_POOL_SIZE"),
            (["LOG_FORMAT": "xml"], "LOG_FORMAT"),
            (["REDIS_URL": "http://x"], "REDIS_URL"),
            (["MIGRATION_DATABASE_URL": "nope"], "MIGRATION_DATABASE_URL"),
        ] as [([String: String?], String)]
    )
    func badVariableIsNamed(overrides: [String: String?], variable: String) throws {
        let e = try #require(error(overrides))
        #expect(e.variable == variable)
        #expect(e.description.hasPrefix("configuration error: \(variable) "))
        #expect(!e.description.contains("\n"))
    }

    @Test func secretsNeverAppearInConfigErrors() {
        let e = error(["JWT_SECRET": "short-secret-value"])
        #expect(e?.description.contains("short-secret-value") == false)
    }
}

/// /ops/current-commit falls back to the commit embedded at build time by the StampCommit plugin.
@Suite struct BuildInfoTests {
    @Test func embeddedCommitIsTheCheckoutsHead() async throws {
        var env = TestEnv.environment(database: "x")
        env["COMMIT_SHA"] = nil
        let info = BuildInfo(config: try AppConfig(environment: env))
        #expect(info.commitSHA == BuildCommit.sha)
        let head = try await TestEnv.shell("git -C '\(TestEnv.repo.path)' rev-parse HEAD").output.trimmingCharacters(in: .whitespacesAndNewlines)
        // The binary under test was built from this checkout (possibly with uncommitted changes).
        #expect(BuildCommit.sha == head || BuildCommit.sha == head + "-dirty", "\(BuildCommit.sha) vs \(head)")
        env["COMMIT_SHA"] = "abc123"
        #expect(BuildInfo(config: try AppConfig(environment: env)).commitSHA == "abc123")
    }
}
