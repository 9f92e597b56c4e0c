import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PostgresNIO

@testable import Innkeep

/// Where the real services are: started by scripts/test (scripts/stack up) before `swift test`.
enum TestEnv {
    static let env = ProcessInfo.processInfo.environment
    static let pgPort = Int(env["INNKEEP_PG_PORT"] ?? "") ?? 54329
    static let redisPort = Int(env["INNKEEP_REDIS_PORT"] ?? "") ?? 63799
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    static let migrationsDir = repo.appendingPathComponent("migrations")
    static let stackScript = repo.appendingPathComponent("scripts/stack").path
    static let logger: Logger = {
        var l = Logger(label: "innkeep.test")
        l.logLevel = .critical
        return l
    }()

    static func adminURL(port: Int = pgPort, database: String = "postgres") -> PostgresURL {
        PostgresURL("postgres://postgres@127.0.0.1:\(port)/\(database)")!
    }
    static func ownerURL(_ database: String, port: Int = pgPort) -> PostgresURL {
        PostgresURL("postgres://innkeep_owner:owner-test-password@127.0.0.1:\(port)/\(database)")!
    }
    static func runtimeURL(_ database: String, port: Int = pgPort) -> PostgresURL {
        PostgresURL("postgres://innkeep_api:api-test-password@127.0.0.1:\(port)/\(database)")!
    }

    /// The production deadline (SPEC §6: 503 within 2 s), for the tests that measure degraded mode.
    static let productionDeadline: Duration = .milliseconds(1500)
    /// Functional tests run dozens at once on two cores; a slow moment must not read as an outage.
    static let functionalDeadline: Duration = .seconds(10)

    static let jwtSecret = "test-jwt-secret-that-is-long-enough-0123"
    static let opsToken = "test-ops-token-0123456789"

    /// The environment a test app runs with; `overrides` replace or (with nil) remove variables.
    static func environment(
        database: String,
        port: Int = pgPort,
        redisPort: Int? = redisPort,
        _ overrides: [String: String?] = [:]
    ) -> [String: String] {
        var e: [String: String] = [
            "DATABASE_URL": "postgres://innkeep_api:api-test-password@127.0.0.1:\(port)/\(database)",
            "MIGRATION_DATABASE_URL": "postgres://innkeep_owner:owner-test-password@127.0.0.1:\(port)/\(database)",
            "JWT_SECRET": jwtSecret, "OPS_TOKEN": opsToken, "COMMIT_SHA": "test-commit",
            // Every in-process request comes from one (unknown) address; the per-address limit has tests of its own.
            "AUTH_RATE_LIMIT_PER_MINUTE": "1000000",
        ]
        if let redisPort { e["REDIS_URL"] = "redis://127.0.0.1:\(redisPort)" }
        for (k, v) in overrides { e[k] = v }
        return e
    }

    /// Creates (idempotently) a database with the two roles and applies every migration.
    static func prepareDatabase(_ name: String, port: Int = pgPort) async throws {
        try await DatabaseSetup.initialize(
            adminURL: adminURL(port: port),
            owner: ownerURL(name, port: port),
            runtime: runtimeURL(name, port: port),
            logger: logger
        )
        let conn = try await PostgresConnection.open(ownerURL(name, port: port), logger: logger)
        do {
            try await Migrator(migrations: Migration.load(from: migrationsDir), logger: logger).up(conn)
        } catch {
            // A connection dropped unclosed traps in a debug build and hides this error behind the trap.
            try? await conn.close()
            throw error
        }
        try await conn.close()
    }

    /// Drops a database (and its connections) so a test can start from nothing.
    static func dropDatabase(_ name: String, port: Int = pgPort) async throws {
        let admin = try await PostgresConnection.open(adminURL(port: port), logger: logger)
        try await admin.run(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \"\(name)\" WITH (FORCE)"))
        try await admin.close()
    }

    /// Runs a shell command and returns its exit status and output (stderr joined to stdout, in order).
    @discardableResult
    static func shell(_ command: String, env extra: [String: String] = [:]) async throws -> (status: Int32, output: String) {
        let environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        let r = try await child("/bin/bash", ["-c", "exec 2>&1\n" + command], environment: environment)
        return (r.status, String(decoding: r.out, as: UTF8.self))
    }

    /// A child process's exit status and what it wrote.
    struct ChildResult: Sendable {
        let status: Int32
        let out: Data
        let err: Data
    }

    /// Runs `executable` to its end, with `input` on its stdin (nil: /dev/null). Every test helper that runs a
    /// child goes through here, because of where it waits: on a thread of its own (`offPool`). Waiting on the
    /// cooperative pool (two threads here) for a child that runs seconds stalled every in-process server, and
    /// Postgres killed their open transactions (`idle_in_transaction_session_timeout`).
    static func child(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String],
        directory: URL? = nil,
        input: Data? = nil
    ) async throws -> ChildResult {
        try await offPool {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: executable)
            p.arguments = arguments
            p.environment = environment
            if let directory { p.currentDirectoryURL = directory }
            let stdin = Pipe()
            let out = Pipe()
            let err = Pipe()
            p.standardInput = input == nil ? FileHandle.nullDevice : stdin
            p.standardOutput = out
            p.standardError = err
            try p.run()
            if let input {
                stdin.fileHandleForWriting.write(input)
                try stdin.fileHandleForWriting.close()
            }
            let o = out.fileHandleForReading.readDataToEndOfFile()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return ChildResult(status: p.terminationStatus, out: o, err: e)
        }
    }
}

/// The shared, migrated database most tests use; each test isolates itself with its own agencies.
actor SharedDatabase {
    static let shared = SharedDatabase()
    /// `INNKEEP_TEST_DB` lets two test runs share one cluster without dropping each other's database.
    static let name = ProcessInfo.processInfo.environment["INNKEEP_TEST_DB"] ?? "innkeep_test"
    private var ready: Task<Void, any Error>?

    func prepare() async throws {
        if ready == nil {
            ready = Task {
                try await TestEnv.dropDatabase(Self.name)
                try await TestEnv.prepareDatabase(Self.name)
            }
        }
        try await ready!.value
    }
}
