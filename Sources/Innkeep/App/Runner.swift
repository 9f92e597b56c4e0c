import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// A reason `serve` will not start, printed as one line.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
}

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
        logger.info("serving", metadata: ["host": "\(config.host)", "port": "\(config.port)", "commit": "\(services.build.commitSHA)"])
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
            throw StartupError(description: "cannot reach the database at \(config.databaseURL.host):\(config.databaseURL.port) to check migrations: \(loggable(error))")
        }
        guard status.pending.isEmpty else {
            let names = status.pending.map { String(format: "%04d_%@", $0.version, $0.name) }.joined(separator: ", ")
            throw StartupError(description: "\(status.pending.count) migration(s) pending (\(names)); apply them with `innkeep migrate up` first")
        }
    }

    public static func worker(config: AppConfig, logger: Logger) async throws {
        try await checkConnection(config.databaseURL, logger: logger)
        let db = Database(url: config.databaseURL, logger: logger, maximumConnections: 8, deadline: .seconds(10))
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
            services.append(.init(service: Application(
                responder: WorkerMetricsResponder(metrics: metrics),
                configuration: .init(address: .hostname(config.host, port: port), serverName: "innkeep-worker"), logger: logger)))
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
    /// (a pool would retry it forever); a server that is merely down is left to the pool's retries.
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

/// `innkeep migrate …` as the owner role.
public enum MigrateCommand {
    public enum Action: Sendable { case up, down(Int), status }

    /// Runs the action as the owner role; errors are thrown for the caller to print as one line.
    public static func run(_ action: Action, config: AppConfig, directory: URL, logger: Logger) async throws {
        let migrator = Migrator(migrations: try Migration.load(from: directory), logger: logger)
        let conn = try await PostgresConnection.open(config.migrationDatabaseURL, logger: logger)
        defer { Task { try? await conn.close() } }
        switch action {
        case .up:
            let applied = try await migrator.up(conn)
            print(applied.isEmpty ? "up to date" : applied.map { String(format: "applied %04d_%@", $0.version, $0.name) }.joined(separator: "\n"))
        case .down(let steps):
            let reverted = try await migrator.down(conn, steps: steps)
            print(reverted.isEmpty ? "nothing to revert" : reverted.map { String(format: "reverted %04d_%@", $0.version, $0.name) }.joined(separator: "\n"))
        case .status:
            let status = try await migrator.status(conn)
            for a in status.applied { print(String(format: "applied  %04d_%@", a.version, a.name)) }
            for p in status.pending { print(String(format: "pending  %04d_%@", p.version, p.name)) }
            print("\(status.applied.count) applied, \(status.pending.count) pending")
        }
    }
}

/// `innkeep migrate new NAME`: the next numbered pair, with a header to fill in.
public enum MigrationFiles {
    public static func create(name: String, in directory: URL) throws -> [URL] {
        guard !name.isEmpty, name.count <= 60, name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }), name.first!.isLetter else {
            throw MigrationError("name must be snake_case, e.g. add_property_photos")
        }
        let next = (try Migration.load(from: directory).last?.version ?? 0) + 1
        let stem = String(format: "%04d_%@", next, name)
        let up = directory.appendingPathComponent(stem + ".up.sql"), down = directory.appendingPathComponent(stem + ".down.sql")
        try """
            -- \(stem): <what this changes and why>
            -- Checklist (migrations/README.md): agency_id NOT NULL, composite keys with agency_id, indexes lead with agency_id,
            -- RLS enabled and forced with a policy, grants to innkeep_app, and a .down.sql that reverses it exactly.

            """.write(to: up, atomically: true, encoding: .utf8)
        try """
            -- Reverts \(stem). If it cannot be exact (data was dropped), say so here.

            """.write(to: down, atomically: true, encoding: .utf8)
        return [up, down]
    }
}

/// `innkeep worker`'s only HTTP answer, on `WORKER_METRICS_PORT`: `GET /metrics` with its own counters
/// (webhook attempts by outcome, their latency). Not part of the API (no router, no endpoint table):
/// it takes no token, so keep `HOST` private (the default is 127.0.0.1) or leave the port unset.
struct WorkerMetricsResponder: HTTPResponder {
    let metrics: AppMetrics

    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        guard request.method == .get, request.uri.path == "/metrics" else { return Response(status: .notFound) }
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                        body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
    }
}

/// `innkeep operator grant|revoke EMAIL`: platform operators (SPEC §14) may use /ops/* and /metrics with
/// their own token. Run as the owner role (MIGRATION_DATABASE_URL): the API's role may only read the list.
public enum OperatorCommand {
    public static func run(grant: Bool, email: String, config: AppConfig, logger: Logger) async throws -> String {
        let conn = try await PostgresConnection.open(config.migrationDatabaseURL, logger: logger)
        defer { Task { try? await conn.close() } }
        guard let userId = try await conn.run("SELECT id FROM auth.users WHERE lower(email) = lower(\(email))")
            .collect().first?.decode(UUID.self)
        else { throw MigrationError("no user has the email \(email)") }
        if grant {
            try await conn.run("INSERT INTO auth.platform_operators (user_id) VALUES (\(userId)) ON CONFLICT (user_id) DO NOTHING")
            return "\(email) is a platform operator"
        }
        try await conn.run("DELETE FROM auth.platform_operators WHERE user_id = \(userId)")
        return "\(email) is not a platform operator"
    }
}
