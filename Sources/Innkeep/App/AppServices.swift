import Foundation
import InnkeepRedis
import Logging

/// Everything a handler depends on, built once at start and passed explicitly.
public struct AppServices: Sendable {
    public let config: AppConfig
    public let db: Database
    public let redis: RedisGuard
    /// `GET /health`'s check, shared by the requests of a few milliseconds.
    let health: HealthProbe
    public let jwt: JWTSigner
    public let metrics: AppMetrics
    public let logger: Logger
    public let rateLimiter: RateLimiter
    /// The limits of the anonymous auth endpoints (per client address, failed logins per email).
    public let authRateLimiter: RateLimiter
    public let build: BuildInfo
    public let passwords: PasswordHasher
    /// Releases idempotency keys of failed requests, retrying until the database is back.
    public let idempotencyReleaser: IdempotencyReleaser
    /// The migration files this build knows, for the pending check and env-sanity.
    public let migrations: [Migration]
    /// The text of openapi.yaml, served at `GET /openapi.yaml` (nil when it could not be read).
    public let openAPIDocument: String?

    /// - Parameters:
    ///   - databasePoolSize: nil: `DATABASE_POOL_SIZE`; tests set their own.
    ///   - databaseDeadline: how long a request may wait for the database before 503 (SPEC §6 wants < 2 s);
    ///     tests that do not measure degraded mode lengthen it, since dozens of them share two cores.
    ///   - redisTimeout: how long a request's rate-limit call may wait for Redis; nil: `REDIS_TIMEOUT_MS`
    ///     (SPEC §14: ~50 ms). Tests lengthen it for the same reason.
    public init(
        config: AppConfig,
        logger: Logger,
        migrations: [Migration],
        passwords: PasswordHasher = PasswordHasher(),
        openAPIDocument: String? = OpenAPIDocument.loadDefault(),
        databasePoolSize: Int? = nil,
        databaseDeadline: Duration = .milliseconds(1500),
        redisTimeout: Duration? = nil
    ) throws {
        let redisTimeout = redisTimeout ?? config.redisTimeout
        self.migrations = migrations
        self.openAPIDocument = openAPIDocument
        self.config = config
        self.logger = logger
        metrics = AppMetrics()
        db = Database(config: config, logger: logger, maximumConnections: databasePoolSize ?? config.databasePoolSize, deadline: databaseDeadline)
        func redisClient(timeout: Duration) throws -> RedisClient? {
            try config.redisURL.map { url in
                var configuration = try RedisClient.Configuration(url: url)
                configuration.connectTimeout = timeout
                configuration.commandTimeout = timeout
                // RedisGuard reports an outage with one warning (SPEC §1); the client's own "connect
                // failed" warning would be a second line for the same outage, so it logs errors only.
                var clientLogger = logger
                clientLogger.logLevel = max(logger.logLevel, .error)
                return RedisClient(configuration: configuration, logger: clientLogger)
            }
        }
        // Every tenant request pays the per-user limit: a hung Redis may cost it at most this much before the
        // circuit opens (SPEC §14: ~50 ms).
        redis = RedisGuard(client: try redisClient(timeout: redisTimeout), logger: logger, metrics: metrics)
        rateLimiter = RateLimiter(redis: redis, leases: LeaseBook())
        health = HealthProbe(db: db, redis: redis)
        // The anonymous auth endpoints' limits are what stops password guessing, and each of those requests
        // costs a bcrypt (hundreds of ms) anyway: their own connection, a longer timeout that a flood of logins
        // loading the event loops does not trip, and no circuit (one slow answer must not switch the limits off
        // for everyone for two seconds).
        // An outage is reported once, by the main guard (SPEC §1); this one only counts its fail-opens.
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .error)
        authRateLimiter = RateLimiter(
            redis: RedisGuard(
                client: try redisClient(timeout: max(redisTimeout, .milliseconds(250))),
                logger: quiet,
                metrics: metrics,
                openFor: nil
            )
        )
        jwt = JWTSigner(secret: config.jwtSecret, jwks: config.jwksSource.map { JWKSKeys(source: $0, logger: logger) })
        build = BuildInfo(config: config)
        self.passwords = passwords
        idempotencyReleaser = IdempotencyReleaser(db: db, logger: logger)
    }
}

extension AppServices {
    /// What must be read before serving: the JWKS keys, when `JWT_JWKS_URL` is set.
    public func loadKeys() async throws(StartupError) {
        do throws(JWKSKeys.LoadError) {
            try await jwt.jwks?.load()
        } catch {
            throw StartupError(description: error.description)
        }
    }
}
