import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The API's handle on PostgreSQL. Every query runs in a transaction that first sets the
/// request's agency and user (`app.agency_id`, `app.user_id`), so forced row-level security
/// holds even if a query forgot its `agency_id` filter. Every call is bounded by a deadline, so a
/// lost database answers 503 fast instead of hanging on the pool.
///
/// It is a `Service`: run it (in the application's or worker's service group) for as long as it is used.
public struct Database: Sendable, Service {
    private let pool: ConnectionPool
    let logger: Logger
    /// The longest a request waits for the database, pool lease included (SPEC §6: 503 within 2 s).
    let deadline: Duration
    /// The pool's size.
    public var maximumConnections: Int { pool.maximum }
    /// `FixedStatement`s go as named prepared statements (`AppConfig.preparedStatements`).
    let preparedStatements: Bool
    private let running = InFlightCounter()

    public init(
        url: PostgresURL,
        logger: Logger,
        maximumConnections: Int = 16,
        deadline: Duration = .milliseconds(1500),
        preparedStatements: Bool = true
    ) {
        // The TLS context and its trust roots (with `sslrootcert=system`, the whole system CA bundle) are read once, not
        // on every connect: a failover retries every 100 ms per waiting request. A context that cannot be built is
        // tried again (and reported) by each open.
        let tls = try? url.connectionTLS()
        self.pool = ConnectionPool(maximum: maximumConnections, logger: logger) {
            try await PostgresConnection.open(
                url,
                logger: logger,
                connectTimeout: .seconds(1),
                startupParameters: Self.startupParameters,
                tls: tls,
                on: PostgresConnection.defaultEventLoopGroup.next()
            )
        }
        self.logger = logger
        self.deadline = deadline
        self.preparedStatements = preparedStatements
    }

    /// The database `config` names, with its settings (`DATABASE_URL`, `DATABASE_PREPARED_STATEMENTS`).
    public init(config: AppConfig, logger: Logger, maximumConnections: Int, deadline: Duration) {
        self.init(
            url: config.databaseURL,
            logger: logger,
            maximumConnections: maximumConnections,
            deadline: deadline,
            preparedStatements: config.preparedStatements
        )
    }

    /// Runs the connection pool (its idle sweep) until cancelled or shut down gracefully.
    public func run() async {
        await pool.run()
    }

    /// Transactions running now (a pool gauge for /metrics).
    public var inFlight: Int { running.value.load(ordering: .relaxed) }
    /// Connections open or being opened now, idle or leased (a pool gauge for /metrics).
    public var openConnections: Int { pool.openCount }

    /// Every pooled connection's session settings.
    static let startupParameters = [
        ("application_name", "innkeep"),
        // A cancelled request must not leave a transaction holding locks.
        ("statement_timeout", "5000"),
        ("idle_in_transaction_session_timeout", "5000"),
    ]

    /// Who the queries run for: the settings row-level security reads.
    public struct Scope: Sendable {
        var agencyId: UUID?
        var userId: UUID?
        var worker = false
        /// The transaction's first statement is `RequestTransaction.enter` (`app_enter_request`), which sets
        /// the settings and returns the caller's memberships in one round trip; `transaction` sends no
        /// `set_config` of its own. A body that did not enter runs with no agency and no user: row-level
        /// security then shows it nothing (it fails closed).
        var entering = false

        /// A tenant request before its caller's membership is known: `userId` from a verified token,
        /// `agencyId` from `X-Agency-Id` (nil without it). See `RequestTransaction.enter`.
        public static func entering(user: UUID, agency: UUID?) -> Scope {
            Scope(agencyId: agency, userId: user, entering: true)
        }

        /// A request inside one agency.
        public static func tenant(_ agencyId: UUID, user: UUID?) -> Scope { Scope(agencyId: agencyId, userId: user) }
        /// A signed-in user before an agency is chosen: sees only their own memberships.
        public static func user(_ userId: UUID) -> Scope { Scope(agencyId: nil, userId: userId) }
        /// No tenant at all: only non-tenant tables (auth.users, schema_migrations) are visible.
        public static let none = Scope()
        /// The background worker, which serves every agency (see the jobs and idempotency policies).
        public static let worker = Scope(worker: true)
    }

    /// Runs `body` in one transaction with the scope's settings; commits when it returns.
    @discardableResult
    public func transaction<T: Sendable>(
        _ scope: Scope,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        let logger = logger
        return try await leased { conn in
            try await conn.query("BEGIN", logger: logger)
            do {
                if !scope.entering { try await Self.apply(scope, on: conn, logger: logger) }
                let result = try await body(conn)
                // Past the deadline the caller was already answered 503 (and an idempotency key
                // released): an abandoned transaction must roll back, never commit behind its back.
                try Task.checkCancellation()
                try await conn.query("COMMIT", logger: logger)
                return result
            } catch {
                // A connection whose transaction did not end must not be leased again (to another agency).
                do { try await conn.query("ROLLBACK", logger: logger) } catch { try? await conn.close() }
                throw error
            }
        }
    }

    /// Runs `body`, which sends exactly one statement, outside a transaction block: the statement is a
    /// transaction of its own (no BEGIN, no COMMIT). Only for a statement that sets the settings
    /// row-level security reads itself, such as `app_list_properties_json` (`TenantEntry`), or that reads no
    /// tenant table (`SELECT 1`).
    ///
    /// A prepared statement refused before it ran (`failedBeforeRunning`) closed its connection (`send`): it is tried
    /// again, on another, while a quarter of the deadline lasts (so the request still ends within 1.25 deadlines). After
    /// a migration that changed its result type every pooled connection may hold it stale; each such try closes one.
    public func statement<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        var tries = 1
        while true {
            do {
                return try await leased(body)
            } catch let error
                where preparedStatements && Self.failedBeforeRunning(error) && tries <= maximumConnections
                && ContinuousClock.now - started < deadline / 4
            {
                tries += 1
            }
        }
    }

    /// Sends a fixed statement on `conn`: named and prepared once per connection when `preparedStatements`, else
    /// unnamed (parsed on every call, as every other statement is).
    func send<S: FixedStatement>(_ statement: S, on conn: PostgresConnection) async throws -> [PostgresRow] {
        guard preparedStatements else {
            return try await conn.query(PostgresQuery(unsafeSQL: S.sql, binds: statement.makeBindings()), logger: conn.logger).collect()
        }
        do {
            var rows: [PostgresRow] = []
            for try await row in try await conn.execute(statement, logger: conn.logger) { rows.append(row) }
            return rows
        } catch let error as PSQLError where Self.closesConnection(error) {
            // The statement's preparation may have failed, whose error PostgresNIO keeps for the connection's life, or
            // a migration changed its result type, which fails every call: a new connection prepares it afresh.
            try? await conn.close()
            throw error
        }
    }

    /// Any server error but the two kinds a preparation cannot raise and a hot statement raises as an answer: our SQL
    /// functions' own (class IK: not admitted, left to the full path) and a constraint's (class 23: a race lost).
    /// Even a 57014 may come from a preparation (cancelled, `statement_timeout`).
    static func closesConnection(_ error: PSQLError) -> Bool {
        guard let state = error.sqlState else { return false }
        return !(state.hasPrefix("IK") || state.hasPrefix("23"))
    }

    /// A prepared statement that changed its result type (0A000) or that a pooler lost (26000): Postgres refused it
    /// at Bind, before it ran.
    static func failedBeforeRunning(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError else { return false }
        return error.sqlState == SQLState.featureNotSupported || error.sqlState == SQLState.invalidStatementName
    }

    /// A pooled connection for `body`, within the deadline (lease included); counted in `inFlight`.
    private func leased<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let pool = pool
        running.value.add(1, ordering: .relaxed)
        defer { running.value.subtract(1, ordering: .relaxed) }
        do {
            return try await withDeadline(deadline) { try await pool.withConnection(body) }
        } catch let error where Self.isUnavailable(error) || error is CancellationError {
            // A cancelled caller (shutdown), waiting for a connection or for its statements, is answered as one
            // that got none, not as a 500.
            throw DatabaseUnavailable(underlying: error)
        }
    }

    /// Sets the scope's settings for the current transaction: what row-level security reads.
    static func apply(_ scope: Scope, on conn: PostgresConnection, logger: Logger) async throws {
        let agency = scope.agencyId?.uuidString ?? ""
        let user = scope.userId?.uuidString ?? ""
        let worker = scope.worker ? "on" : ""
        try await conn.query(
            """
            SELECT set_config('app.agency_id', \(agency), true), set_config('app.user_id', \(user), true), set_config('app.worker', \(worker), true)
            """,
            logger: logger
        )
    }

    /// Moves an open transaction into `agencyId` (RLS reads `app.agency_id`): once the caller's membership
    /// chose the agency, or an invitation admits its invitee.
    static func enterAgency(_ agencyId: UUID, on conn: PostgresConnection) async throws {
        try await conn.query("SELECT set_config('app.agency_id', \(agencyId.uuidString), true)", logger: conn.logger)
    }

    /// `SELECT 1` within the deadline: the health check. One statement on its own (no transaction, no
    /// settings: it reads no table), so the check costs one round trip.
    public func ping() async -> Bool {
        let logger = logger
        do {
            _ = try await statement { conn in try await conn.query("SELECT 1", logger: logger) }
            return true
        } catch {
            return false
        }
    }

    /// True for errors that mean "the database cannot be reached", as opposed to a bad query.
    static func isUnavailable(_ error: any Error) -> Bool {
        if error is DeadlineExceeded || error is DatabaseUnavailable { return true }
        if let error = error as? PSQLError {
            switch error.code {
            case .connectionError, .serverClosedConnection, .uncleanShutdown, .poolClosed, .clientClosedConnection, .queryCancelled:
                return true
            case .server:
                // Class 08 connection exception, 53 insufficient resources, 57 operator intervention (shutdown).
                let state = error.serverInfo?[.sqlState] ?? ""
                return state.hasPrefix("08") || state.hasPrefix("53") || state.hasPrefix("57")
            default:
                return false
            }
        }
        return error is ChannelError || error is IOError || error is DatabaseConnectError || error is ConnectionPool.PoolClosed
    }
}

extension PSQLError {
    /// The SQLSTATE of a server error, such as 23505 unique_violation.
    public var sqlState: String? { serverInfo?[.sqlState] }
    public var constraintName: String? { serverInfo?[.constraintName] }
}

/// Matches a database error by SQLSTATE (and optionally constraint name).
public func isPostgresError(_ error: any Error, state: String, constraint: String? = nil) -> Bool {
    guard let e = error as? PSQLError, e.sqlState == state else { return false }
    return constraint == nil || e.constraintName == constraint
}

extension PostgresConnection {
    /// Runs a query with the connection's logger; the one way repositories talk to Postgres.
    @discardableResult
    public func run(_ query: PostgresQuery, file: String = #fileID, line: Int = #line) async throws -> PostgresRowSequence {
        try await self.query(query, logger: logger, file: file, line: line)
    }
}
