import Foundation
import Logging

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
    public var host: String
    public var port: Int
    public var logLevel: Logger.Level
    public var logFormat: LogFormat
    /// Which of `variables` are set (env-sanity reports names only, never values).
    public var setVariables: Set<String>

    /// Every variable the service reads, for env-sanity (names only, never values).
    public static let variables: [(name: String, required: Bool)] = [
        ("DATABASE_URL", true), ("MIGRATION_DATABASE_URL", false), ("REDIS_URL", false),
        ("JWT_SECRET", true), ("JWT_JWKS_URL", false), ("COMMIT_SHA", false), ("DEPLOYED_AT", false), ("OPS_TOKEN", false),
        ("ENFORCE_RBAC", false), ("RATE_LIMIT_PER_MINUTE", false), ("HOST", false), ("PORT", false),
        ("LOG_LEVEL", false), ("LOG_FORMAT", false),
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
        migrationDatabaseURL = try value("MIGRATION_DATABASE_URL").map { raw throws(ConfigError) in
            try postgresURL("MIGRATION_DATABASE_URL", raw)
        } ?? databaseURL
        redisURL = value("REDIS_URL")
        if let redisURL, !(redisURL.hasPrefix("redis://")) {
            throw ConfigError(variable: "REDIS_URL", problem: "must start with redis://")
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
        switch value("ENFORCE_RBAC")?.lowercased() {
        case nil, "true", "1", "yes": enforceRBAC = true
        case "false", "0", "no": enforceRBAC = false
        default: throw ConfigError(variable: "ENFORCE_RBAC", problem: "must be true or false")
        }
        rateLimitPerMinute = try Self.integer(value("RATE_LIMIT_PER_MINUTE"), name: "RATE_LIMIT_PER_MINUTE", default: 600, range: 1...1_000_000)
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
    }

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

/// The parts of a postgres:// URL that PostgresNIO needs, with libpq's `sslmode` and `sslrootcert` (SPEC §15).
public struct PostgresURL: Sendable, Equatable {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode = .prefer
    /// A PEM file of trusted CA certificates, or `system` for the system's; nil: the system's.
    public var sslRootCert: String?
    /// Where the URL came from (`DATABASE_URL`, `--admin-url`…): connection errors name it, never the URL.
    public var source = "the database URL"

    public init?(_ string: String) {
        guard let c = URLComponents(string: string), c.scheme == "postgres" || c.scheme == "postgresql",
              let host = c.host, !host.isEmpty, let user = c.user, !user.isEmpty
        else { return nil }
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { return nil }
        self.user = user.removingPercentEncoding ?? user
        self.password = c.password.map { $0.removingPercentEncoding ?? $0 }
        self.host = host
        self.port = c.port ?? 5432
        self.database = database
        guard (try? readTLSParameters(c.queryItems ?? [])) != nil else { return nil }
    }

    /// Like `init?`, but says what is wrong (never quoting the URL, which may hold a password).
    public static func parse(_ string: String, source: String) throws(ConfigError) -> PostgresURL {
        let shape = "must be a URL like postgres://user:password@host:5432/database[?sslmode=verify-full&sslrootcert=/path/ca.pem]"
        guard var url = PostgresURL(string) else {
            if let c = URLComponents(string: string), let items = c.queryItems {
                var probe = PostgresURL("postgres://u@h/d")!
                do { try probe.readTLSParameters(items) } catch { throw ConfigError(variable: source, problem: error.problem) }
            }
            throw ConfigError(variable: source, problem: shape)
        }
        url.source = source
        return url
    }

    /// `sslmode` and `sslrootcert` from the query; other parameters are ignored (poolers add their own).
    private mutating func readTLSParameters(_ items: [URLQueryItem]) throws(ConfigError) {
        for item in items {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw ConfigError(variable: "", problem: "has an unknown sslmode (use disable, prefer, require, verify-ca or verify-full)")
                }
                sslMode = mode
            case "sslrootcert":
                guard let path = item.value?.removingPercentEncoding, !path.isEmpty else {
                    throw ConfigError(variable: "", problem: "has an empty sslrootcert")
                }
                if path != "system", !FileManager.default.isReadableFile(atPath: path) {
                    throw ConfigError(variable: "", problem: "names an sslrootcert file that cannot be read: \(path)")
                }
                sslRootCert = path
            default: continue
            }
        }
    }

    /// The same server and credentials, another database.
    public func with(database: String) -> PostgresURL {
        var copy = self
        copy.database = database
        return copy
    }
}
