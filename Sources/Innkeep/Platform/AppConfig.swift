import Foundation
import InnkeepRedis
import Logging
import NIOCore

/// Configuration read once at start from the environment (SPEC §1).
public struct AppConfig: Sendable {
    public enum LogFormat: String, Sendable { case json, text }

    public var databaseURL: PostgresURL
    public var migrationDatabaseURL: PostgresURL
    public var redisURL: String?
    public var jwtSecret: [UInt8]
    /// `JWT_JWKS_URL`: a JWKS URL or file whose ES256/RS256 keys also sign access tokens (SPEC §15).
    public var jwksSource: JWKSKeys.Source?
    public var commitSHA: String?
    public var deployedAt: String?
    public var opsToken: String?
    public var enforceRBAC: Bool
    public var rateLimitPerMinute: Int
    /// `REDIS_TIMEOUT_MS`: how long a request's rate-limit call may wait for Redis before failing open (SPEC §14: ~50 ms).
    public var redisTimeout: Duration
    /// Sign-ups and logins per client address per minute (SPEC §14).
    public var authRateLimitPerMinute: Int
    /// Peers whose `X-Forwarded-For` is believed (load balancers, reverse proxies).
    public var trustedProxies: [IPNetwork]
    public var host: String
    public var port: Int
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// Outbound requests (webhooks, later iCal imports) may reach loopback/private/link-local addresses
    /// (development and tests only; see `OutboundURLPolicy`).
    public var allowPrivateURLs: Bool
    /// Where clients reach this API, for absolute URLs it hands out (iCal `export_url`); no trailing slash.
    public var publicBaseURL: String
    /// Seconds to wait before each webhook retry (SPEC §13); `WEBHOOK_RETRY_SCHEDULE` overrides it.
    public var webhookRetrySchedule: [Int]
    /// `innkeep worker` serves its own `/metrics` (webhook attempts, latency) on this port when set.
    public var workerMetricsPort: Int?
    /// `EVENT_LOOP_THREADS`: the event loops that run the process's I/O and Swift tasks (default:
    /// `defaultEventLoopThreads`). Read once more, before anything else, by `EventLoopExecutor.install`.
    public var eventLoopThreads: Int
    /// `DATABASE_PREPARED_STATEMENTS` (default true): the hot paths' fixed statements go as named prepared statements,
    /// parsed once per connection (`FixedStatement`). False behind a pooler that cannot keep them (PgBouncer before
    /// 1.21, or with `max_prepared_statements = 0`: docs/ops/scaling.md).
    public var preparedStatements: Bool
    /// `DATABASE_POOL_SIZE`: the most connections `innkeep serve` holds to the database (default: two per core,
    /// `defaultDatabasePoolSize`). Requests beyond it wait in line, within their deadline.
    public var databasePoolSize: Int
    /// Which of `variables` are set (env-sanity reports names only, never values).
    public var setVariables: Set<String>

    /// Every variable the service reads, for env-sanity (names only, never values).
    public static let variables: [(name: String, required: Bool)] = [
        ("DATABASE_URL", true), ("MIGRATION_DATABASE_URL", false), ("REDIS_URL", false),
        ("JWT_SECRET", true), ("JWT_JWKS_URL", false), ("COMMIT_SHA", false), ("DEPLOYED_AT", false), ("OPS_TOKEN", false),
        ("ENFORCE_RBAC", false), ("RATE_LIMIT_PER_MINUTE", false), ("AUTH_RATE_LIMIT_PER_MINUTE", false),
        ("REDIS_TIMEOUT_MS", false), ("TRUSTED_PROXIES", false), ("HOST", false), ("PORT", false), ("LOG_LEVEL", false), ("LOG_FORMAT", false),
        ("ALLOW_PRIVATE_URLS", false), ("PUBLIC_BASE_URL", false), ("WEBHOOK_RETRY_SCHEDULE", false), ("WORKER_METRICS_PORT", false),
        ("EVENT_LOOP_THREADS", false), ("DATABASE_PREPARED_STATEMENTS", false), ("DATABASE_POOL_SIZE", false),
    ]

    /// Parses the environment; the error names the first bad variable in one line.
    public init(environment env: [String: String]) throws(ConfigError) {
        func value(_ name: String) -> String? {
            guard let v = env[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        func required(_ name: String) throws(ConfigError) -> String {
            guard let v = value(name) else { throw ConfigError(variable: name, problem: "is required but not set") }
            return v
        }
        func postgresURL(_ name: String, _ raw: String) throws(ConfigError) -> PostgresURL {
            try PostgresURL.parse(raw, source: name)
        }

        setVariables = Set(Self.variables.map(\.name).filter { value($0) != nil })
        databaseURL = try postgresURL("DATABASE_URL", required("DATABASE_URL"))
        migrationDatabaseURL =
            try value("MIGRATION_DATABASE_URL").map { raw throws(ConfigError) in
                try postgresURL("MIGRATION_DATABASE_URL", raw)
            } ?? databaseURL
        redisURL = value("REDIS_URL")
        // Never the value, nor the parser's reason quoting it: the URL may carry a password.
        if let redisURL, !redisURL.hasPrefix("redis://") || (try? RedisClient.Configuration(url: redisURL)) == nil {
            throw ConfigError(variable: "REDIS_URL", problem: "must be a URL like redis://[:password@]host:port[/db]")
        }
        let secret = Array(try required("JWT_SECRET").utf8)
        guard secret.count >= 32 else {
            throw ConfigError(variable: "JWT_SECRET", problem: "must be at least 32 bytes long (got \(secret.count))")
        }
        jwtSecret = secret
        jwksSource = try value("JWT_JWKS_URL").map { raw throws(ConfigError) in
            guard let source = JWKSKeys.Source(raw) else {
                throw ConfigError(variable: "JWT_JWKS_URL", problem: "must be an http(s):// URL, a file:// URL or a file path")
            }
            return source
        }
        commitSHA = value("COMMIT_SHA")
        deployedAt = value("DEPLOYED_AT")
        opsToken = value("OPS_TOKEN")
        if let opsToken, opsToken.utf8.count < 16 {
            throw ConfigError(variable: "OPS_TOKEN", problem: "must be at least 16 characters when set")
        }
        func boolean(_ name: String, default fallback: Bool) throws(ConfigError) -> Bool {
            switch value(name)?.lowercased() {
            case nil: return fallback
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw ConfigError(variable: name, problem: "must be true or false")
            }
        }
        enforceRBAC = try boolean("ENFORCE_RBAC", default: true)
        rateLimitPerMinute = try Self.integer(value("RATE_LIMIT_PER_MINUTE"), name: "RATE_LIMIT_PER_MINUTE", default: 600, range: 1...1_000_000)
        authRateLimitPerMinute = try Self.integer(
            value("AUTH_RATE_LIMIT_PER_MINUTE"),
            name: "AUTH_RATE_LIMIT_PER_MINUTE",
            default: 30,
            range: 1...1_000_000
        )
        redisTimeout = .milliseconds(try Self.integer(value("REDIS_TIMEOUT_MS"), name: "REDIS_TIMEOUT_MS", default: 50, range: 10...10_000))
        var proxies: [IPNetwork] = []
        for entry in (value("TRUSTED_PROXIES") ?? "").split(separator: ",") {
            guard let network = IPNetwork(entry.trimmingCharacters(in: .whitespaces)) else {
                throw ConfigError(variable: "TRUSTED_PROXIES", problem: "must be a comma-separated list of IP addresses or CIDR networks")
            }
            proxies.append(network)
        }
        trustedProxies = proxies
        host = value("HOST") ?? "127.0.0.1"
        port = try Self.integer(value("PORT"), name: "PORT", default: 8080, range: 0...65535)
        guard let level = Logger.Level(rawValue: value("LOG_LEVEL")?.lowercased() ?? "info") else {
            throw ConfigError(variable: "LOG_LEVEL", problem: "must be one of trace, debug, info, notice, warning, error, critical")
        }
        logLevel = level
        guard let format = LogFormat(rawValue: value("LOG_FORMAT")?.lowercased() ?? "json") else {
            throw ConfigError(variable: "LOG_FORMAT", problem: "must be json or text")
        }
        logFormat = format
        allowPrivateURLs = try boolean("ALLOW_PRIVATE_URLS", default: false)
        if let raw = value("PUBLIC_BASE_URL") {
            guard let c = URLComponents(string: raw), c.scheme == "http" || c.scheme == "https", c.host?.isEmpty == false,
                c.query == nil, c.fragment == nil
            else { throw ConfigError(variable: "PUBLIC_BASE_URL", problem: "must be an http(s) URL such as https://pms.example.com") }
            publicBaseURL = raw.hasSuffix("/") ? String(raw.dropLast()) : raw
        } else {
            publicBaseURL = "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
        if let raw = value("WEBHOOK_RETRY_SCHEDULE") {
            let parts = raw.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, parts.count <= 50, parts.allSatisfy({ $0 != nil && (0...604_800).contains($0!) }) else {
                throw ConfigError(variable: "WEBHOOK_RETRY_SCHEDULE", problem: "must be seconds, comma-separated, each 0...604800 (e.g. 5,300,1800)")
            }
            webhookRetrySchedule = parts.map { $0! }
        } else {
            webhookRetrySchedule = Self.defaultWebhookRetrySchedule
        }
        workerMetricsPort = try value("WORKER_METRICS_PORT").map { raw throws(ConfigError) in
            try Self.integer(raw, name: "WORKER_METRICS_PORT", default: 0, range: 1...65535)
        }
        eventLoopThreads = try Self.eventLoopThreads(in: env)
        preparedStatements = try boolean("DATABASE_PREPARED_STATEMENTS", default: true)
        databasePoolSize = try Self.integer(
            value("DATABASE_POOL_SIZE"),
            name: "DATABASE_POOL_SIZE",
            default: Self.defaultDatabasePoolSize,
            range: 1...1000
        )
    }

    /// Two connections per core of this host, at least 2. More statements at once than the cores can run only
    /// take turns on them, stretching every statement's time: on 2 cores a pool of 16 let 8 requests' statements
    /// share them, and the searches' p99 doubled (docs/benchmarks.md, thirteenth pass). Waiting in the pool's
    /// line costs a request nothing meanwhile.
    /// The cores are NIO's count, which a container's CPU limit lowers (cgroup v1 and v2), as for the event loops.
    public static var defaultDatabasePoolSize: Int { max(2, 2 * System.coreCount) }

    /// `EVENT_LOOP_THREADS` (1–64), else the default for `DATABASE_URL`'s host; also read by `EventLoopExecutor.install`
    /// before the rest.
    static func eventLoopThreads(in env: [String: String]) throws(ConfigError) -> Int {
        guard let raw = env["EVENT_LOOP_THREADS"]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else {
            let url = env["DATABASE_URL"].map { $0.trimmingCharacters(in: .whitespaces) }.flatMap(PostgresURL.init)
            let databaseHere = url?.isOnThisMachine ?? false
            return defaultEventLoopThreads(databaseOnThisMachine: databaseHere)
        }
        return try integer(raw, name: "EVENT_LOOP_THREADS", default: 0, range: 1...64)
    }

    /// One event loop per core, or half the cores (at least one) when the database runs on this machine: its backends
    /// need the other half, and a second loop there mostly adds wake-ups between threads. On this 2-core machine one
    /// loop cost about a third less CPU per request than two at 8 connections (docs/benchmarks.md, fourteenth pass).
    /// The cores are NIO's count, as for the pool.
    static func defaultEventLoopThreads(databaseOnThisMachine: Bool, cores: Int = System.coreCount) -> Int {
        databaseOnThisMachine ? max(1, cores / 2) : cores
    }

    /// SPEC §13: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    public static let defaultWebhookRetrySchedule = [5, 300, 1800, 7200, 18000, 36000, 36000]

    private static func integer(_ raw: String?, name: String, default fallback: Int, range: ClosedRange<Int>) throws(ConfigError) -> Int {
        guard let raw else { return fallback }
        guard let n = Int(raw), range.contains(n) else {
            throw ConfigError(variable: name, problem: "must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    /// The process environment, with a `.env` file in the working directory filling gaps (development only).
    public static func processEnvironment() -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        if let text = try? String(contentsOfFile: ".env", encoding: .utf8) {
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                if parts.count == 2, env[parts[0]] == nil { env[parts[0]] = parts[1] }
            }
        }
        return env
    }
}

/// A missing or malformed setting; `description` is the one line printed before exiting.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let variable: String
    public let problem: String
    public var description: String { "configuration error: \(variable) \(problem)" }
}
