import Crypto
import Foundation
import Logging
import PostgresNIO

public struct MigrationError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Applies and reverts migrations. Each runs in its own transaction under an advisory lock, so
/// concurrent runners apply every migration exactly once.
public struct Migrator: Sendable {
    public let migrations: [Migration]
    let logger: Logger
    static let lockKey: Int64 = 0x1AA_BEEF

    public init(migrations: [Migration], logger: Logger) {
        self.migrations = migrations
        self.logger = logger
    }

    public struct Applied: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let checksum: String
    }

    public struct Status: Sendable {
        public let applied: [Applied]
        public let pending: [Migration]
    }

    /// Applied and pending migrations; throws when an applied file changed or disappeared.
    public func status(_ conn: PostgresConnection) async throws -> Status {
        let applied = try await appliedMigrations(conn)
        try verify(applied)
        let done = Set(applied.map(\.version))
        return Status(applied: applied, pending: migrations.filter { !done.contains($0.version) })
    }

    /// Applies every pending migration; returns those applied by this call.
    @discardableResult
    public func up(_ conn: PostgresConnection) async throws -> [Migration] {
        try await withLock(conn) {
            try await ensureTable(conn)
            let status = try await status(conn)
            // Rows recorded with the older up-only checksum get the one that covers both files.
            for applied in status.applied {
                guard let file = migrations.first(where: { $0.version == applied.version }), applied.checksum != file.checksum else { continue }
                try await conn.run("UPDATE schema_migrations SET checksum = \(file.checksum) WHERE version = \(applied.version)")
            }
            for migration in status.pending {
                let start = ContinuousClock.now
                try await transaction(conn) {
                    for statement in SQLScript.statements(migration.up) { try await conn.run(PostgresQuery(unsafeSQL: statement)) }
                    let ms = Int((ContinuousClock.now - start) / .milliseconds(1))
                    try await conn.run(
                        """
                        INSERT INTO schema_migrations (version, name, checksum, duration_ms)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum), \(ms))
                        """
                    )
                }
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
            return status.pending
        }
    }

    /// Reverts the last `steps` applied migrations, newest first.
    @discardableResult
    public func down(_ conn: PostgresConnection, steps: Int) async throws -> [Migration] {
        guard steps >= 1 else { throw MigrationError("migrate down takes a positive number of migrations to revert (got \(steps))") }
        return try await withLock(conn) {
            let status = try await status(conn)
            let toRevert = status.applied.suffix(steps).reversed().map { a in migrations.first { $0.version == a.version }! }
            for migration in toRevert {
                try await transaction(conn) {
                    for statement in SQLScript.statements(migration.down) { try await conn.run(PostgresQuery(unsafeSQL: statement)) }
                    try await conn.run("DELETE FROM schema_migrations WHERE version = \(migration.version)")
                }
                logger.info("reverted migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
            return toRevert
        }
    }

    private func verify(_ applied: [Applied]) throws {
        for a in applied {
            guard let file = migrations.first(where: { $0.version == a.version }) else {
                throw MigrationError(String(format: "migration %04d_%@ is applied but its files are missing", a.version, a.name))
            }
            guard file.checksum == a.checksum || file.upOnlyChecksum == a.checksum else {
                throw MigrationError(
                    String(
                        format:
                            """
                            migration %04d_%@ was changed after it was applied (checksum %@ in the database, \
                            %@ on disk); add a new migration instead
                            """,
                        a.version,
                        a.name,
                        String(a.checksum.prefix(12)),
                        String(file.checksum.prefix(12))
                    )
                )
            }
        }
    }

    private func ensureTable(_ conn: PostgresConnection) async throws {
        try await conn.run(
            """
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version     integer PRIMARY KEY,
                name        text NOT NULL,
                checksum    text NOT NULL,
                applied_at  timestamptz NOT NULL DEFAULT now(),
                duration_ms integer NOT NULL
            )
            """
        )
        // The runtime role reads it for `serve`'s pending check and env-sanity.
        try await conn.run("GRANT SELECT ON schema_migrations TO innkeep_app")
    }

    private func appliedMigrations(_ conn: PostgresConnection) async throws -> [Applied] {
        let exists = try await conn.run("SELECT to_regclass('schema_migrations') IS NOT NULL").collect()
        guard try exists.first?.decode(Bool.self) == true else { return [] }
        return try await conn.run("SELECT version, name, checksum FROM schema_migrations ORDER BY version").collect().map {
            let (v, n, c) = try $0.decode((Int, String, String).self)
            return Applied(version: v, name: n, checksum: c)
        }
    }

    private func withLock<T: Sendable>(_ conn: PostgresConnection, _ body: () async throws -> T) async throws -> T {
        try await conn.run("SELECT pg_advisory_lock(\(Self.lockKey))")
        do {
            let result = try await body()
            try await conn.run("SELECT pg_advisory_unlock(\(Self.lockKey))")
            return result
        } catch {
            _ = try? await conn.run("SELECT pg_advisory_unlock(\(Self.lockKey))")
            throw error
        }
    }

    private func transaction(_ conn: PostgresConnection, _ body: () async throws -> Void) async throws {
        try await conn.run("BEGIN")
        do {
            try await body()
            try await conn.run("COMMIT")
        } catch {
            _ = try? await conn.run("ROLLBACK")
            throw error
        }
    }
}
