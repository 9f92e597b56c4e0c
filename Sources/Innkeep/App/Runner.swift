import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle

/// Runs the long-lived processes, each as a ServiceGroup that shuts down gracefully on SIGTERM/SIGINT.
public enum Runner {
    public static func serve(config: AppConfig, migrationsDirectory: URL, logger: Logger) async throws {
        let migrations: [Migration]
        do { migrations = try Migration.load(from: migrationsDirectory) } catch {
            throw StartupError(description: "cannot read migrations in \(migrationsDirectory.path): \(error)")
        }
        try await checkMigrations(config: config, migrations: migrations, logger: logger)
        let openAPIPath = OpenAPIDocument.defaultPath()
        let openAPI: String
        do { openAPI = try OpenAPIDocument.load(from: openAPIPath) } catch {
            throw StartupError(description: "cannot read the API document \(openAPIPath.path) (set OPENAPI_PATH): \(error)")
        }
        let services = try AppServices(config: config, logger: logger, migrations: migrations, openAPIDocument: openAPI)
        try await services.loadKeys()
        let app = buildApplication(services)
        // A graceful shutdown waits for requests in flight, but never for a client: a half-sent request or a
        // silent connection is cut when the graceful period ends, and the process is gone within ~15 s.
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = HTTPLimits.gracefulShutdown
        configuration.maximumCancellationDuration = HTTPLimits.cancellation
        let group = ServiceGroup(configuration: configuration)
        // The loop count and the pool's size follow the machine and DATABASE_URL unless set: say what they came to.
        logger.info(
            "serving",
            metadata: [
                "host": "\(config.host)", "port": "\(config.port)", "commit": "\(services.build.commitSHA)",
                "event_loops": "\(NIOSingletons.groupLoopCountSuggestion)", "db_pool_size": "\(services.db.maximumConnections)",
            ]
        )
        try await group.run()
    }

    /// Refuses to start while migrations are pending (SPEC §9).
    static func checkMigrations(config: AppConfig, migrations: [Migration], logger: Logger) async throws {
        let status: Migrator.Status
        do {
            let conn = try await PostgresConnection.open(config.databaseURL, logger: logger)
            defer { Task { try? await conn.close() } }
            status = try await Migrator(migrations: migrations, logger: logger).status(conn)
        } catch let error as MigrationError {
            throw StartupError(description: error.description)
        } catch let error as DatabaseConnectError {
            throw StartupError(description: error.description)
        } catch {
            throw StartupError(
                description:
                    "cannot reach the database at \(config.databaseURL.endpoint) to check migrations: \(loggable(error))"
            )
        }
        guard status.pending.isEmpty else {
            let names = status.pending.map { String(format: "%04d_%@", $0.version, $0.name) }.joined(separator: ", ")
            throw StartupError(description: "\(status.pending.count) migration(s) pending (\(names)); apply them with `innkeep migrate up` first")
        }
    }

    public static func worker(config: AppConfig, logger: Logger) async throws {
        try await checkConnection(config.databaseURL, logger: logger)
        let db = Database(config: config, logger: logger, maximumConnections: 8, deadline: .seconds(10))
        let worker = Worker(db: db, logger: logger)
        let metrics = AppMetrics()
        let webhooks = WebhookDispatcher(config: config, db: db, logger: logger, metrics: metrics)
        let channels = ChannelSyncer(config: config, db: db, logger: logger, metrics: metrics)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: db), .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: webhooks, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: channels, successTerminationBehavior: .gracefullyShutdownGroup),
        ]
        // The worker's own counters (webhook attempts by outcome, their latency) on a port of its own, if asked.
        if let port = config.workerMetricsPort {
            services.append(
                .init(
                    service: Application(
                        responder: WorkerMetricsResponder(metrics: metrics),
                        configuration: .init(address: .hostname(config.host, port: port), serverName: "innkeep-worker"),
                        logger: logger
                    )
                )
            )
        }
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A job, sync or delivery in flight gets the same bounded grace as a request: nothing stuck can hold the shutdown.
        configuration.maximumGracefulShutdownDuration = HTTPLimits.gracefulShutdown
        configuration.maximumCancellationDuration = HTTPLimits.cancellation
        try await ServiceGroup(configuration: configuration).run()
    }
}

extension Runner {
    /// Opens and closes one connection: a TLS or login misconfiguration stops the process with one line
    /// (a pool would retry it forever); a server that is merely down is left to the pool, which connects on demand.
    static func checkConnection(_ url: PostgresURL, logger: Logger) async throws {
        do {
            let conn = try await PostgresConnection.open(url, logger: logger, connectTimeout: .seconds(5))
            try? await conn.close()
        } catch let error as DatabaseConnectError {
            guard error.isMisconfiguration else {
                logger.warning("database not reachable at start; will retry", metadata: ["error": "\(error.description)"])
                return
            }
            throw StartupError(description: error.description)
        }
    }
}
