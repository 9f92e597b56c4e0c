import Foundation
import InnkeepRedis
import Logging

/// Everything a handler depends on, built once at start and passed explicitly.
public struct AppServices: Sendable {
    public let config: AppConfig
    public let db: Database
    public let redis: RedisGuard
    public let jwt: JWTSigner
    public let metrics: AppMetrics
    public let logger: Logger
    public let rateLimiter: RateLimiter
    public let build: BuildInfo
    public let passwords: PasswordHasher
    /// The migration files this build knows, for the pending check and env-sanity.
    public let migrations: [Migration]

    public init(config: AppConfig, logger: Logger, migrations: [Migration], passwords: PasswordHasher = PasswordHasher()) throws {
        self.migrations = migrations
        self.config = config
        self.logger = logger
        metrics = AppMetrics()
        db = Database(url: config.databaseURL, logger: logger)
        let redisClient = try config.redisURL.map { url in
            var configuration = try RedisClient.Configuration(url: url)
            configuration.connectTimeout = .milliseconds(250)
            configuration.commandTimeout = .milliseconds(250)
            return RedisClient(configuration: configuration, logger: logger)
        }
        redis = RedisGuard(client: redisClient, logger: logger)
        rateLimiter = RateLimiter(redis: redis)
        jwt = JWTSigner(secret: config.jwtSecret)
        build = BuildInfo(config: config)
        self.passwords = passwords
    }
}

/// What /ops/current-commit reports: `COMMIT_SHA`/`DEPLOYED_AT`, else the build's commit and the start time.
public struct BuildInfo: Sendable {
    public let commitSHA: String
    public let deployedAt: String

    init(config: AppConfig) {
        commitSHA = config.commitSHA ?? BuildCommit.sha
        deployedAt = config.deployedAt ?? RFC3339.format(Date())
    }
}
