import Foundation
import Logging
import PostgresNIO
import Testing

@testable import Innkeep

// Every database test of the migration suites creates and drops its own `mig_<random>` database, so they run in parallel.

/// A fresh database per test, and the helpers the suites below share.
enum MigrationFixture {
    static let all: [Migration] = (try? Migration.load(from: TestEnv.migrationsDir)) ?? []
    static let binary = TestEnv.repo.appendingPathComponent(".build/debug/innkeep").path
    static let pgDump = "/usr/lib/postgresql/15/bin/pg_dump"
    static let setup = MigrationSetupQueue()

    static func freshName() -> String {
        "mig_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    }

    /// `innkeep db init` for `name`. The roles are cluster-wide and concurrent ALTER ROLEs collide ("tuple concurrently
    /// updated"), so in this process they run one at a time, after the shared database's own init (other suites), and
    /// across processes (another test run initializing its database) they are retried.
    static func initialize(_ name: String) async throws {
        try await setup.run { () async throws -> Void in
            try await SharedDatabase.shared.prepare()
            var attempt = 0
            while true {
                do {
                    return try await DatabaseSetup.initialize(
                        adminURL: TestEnv.adminURL(),
                        owner: TestEnv.ownerURL(name),
                        runtime: TestEnv.runtimeURL(name),
                        logger: TestEnv.logger
                    )
                } catch let error as PSQLError where attempt < 5 && ["XX000", "23505", "42710"].contains(error.sqlState ?? "") {
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(100 * attempt))
                }
            }
        }
    }

    /// Runs `body` with a new database (roles set up; every migration applied when `migrate`), then drops it.
    static func withFreshDatabase<T>(migrate: Bool = true, _ body: (String) async throws -> T) async throws -> T {
        let name = freshName()
        do {
            try await initialize(name)
            if migrate {
                try await withConnection(TestEnv.ownerURL(name)) { conn async throws in
                    try await Migrator(migrations: all, logger: TestEnv.logger).up(conn)
                }
            }
            let result = try await body(name)
            try await TestEnv.dropDatabase(name)
            return result
        } catch let error as PSQLError {
            try? await TestEnv.dropDatabase(name)
            throw TestFailure(String(reflecting: error))  // the default description hides the server's message
        } catch {
            try? await TestEnv.dropDatabase(name)
            throw error
        }
    }

    @discardableResult
    static func withConnection<T>(_ url: PostgresURL, _ body: (PostgresConnection) async throws -> T) async throws -> T {
        let conn = try await PostgresConnection.open(url, logger: TestEnv.logger)
        do {
            let result = try await body(conn)
            try await conn.close()
            return result
        } catch {
            try? await conn.close()
            throw error
        }
    }

    /// One transaction with the request settings row-level security reads (what Database.transaction does).
    @discardableResult
    static func scoped<T>(
        _ conn: PostgresConnection,
        agency: UUID? = nil,
        user: UUID? = nil,
        worker: Bool = false,
        _ body: () async throws -> T
    ) async throws -> T {
        try await conn.run("BEGIN")
        do {
            try await conn.run(
                """
                SELECT set_config('app.agency_id', \(agency?.uuidString ?? ""), true),
                       set_config('app.user_id', \(user?.uuidString ?? ""), true),
                       set_config('app.worker', \(worker ? "on" : ""), true)
                """
            )
            let result = try await body()
            try await conn.run("COMMIT")
            return result
        } catch {
            _ = try? await conn.run("ROLLBACK")
            throw error
        }
    }

    /// The SQLSTATE and message the body failed with, or nil when it succeeded.
    static func failure(_ body: () async throws -> Void) async -> (state: String, message: String)? {
        do {
            try await body()
            return nil
        } catch let error as PSQLError {
            return (error.sqlState ?? "none", error.serverInfo?[.message] ?? String(reflecting: error))
        } catch {
            return ("not-a-PSQLError", String(reflecting: error))
        }
    }

    static func migrationError(_ body: () async throws -> Void) async -> MigrationError? {
        do {
            try await body()
            return nil
        } catch let error as MigrationError {
            return error
        } catch {
            Issue.record("expected a MigrationError, got \(String(reflecting: error))")
            return nil
        }
    }

    static func int(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> Int {
        let rows = try await conn.run(query).collect()
        return try #require(rows.first).decode(Int.self)
    }

    static func strings(_ conn: PostgresConnection, _ query: PostgresQuery) async throws -> [String] {
        try await conn.run(query).collect().map { try $0.decode(String.self) }
    }

    /// `pg_dump --schema-only --no-owner`, minus only the lines that differ between two dumps of one schema:
    /// the version banner and pg_dump 15.14+'s `\restrict KEY` / `\unrestrict KEY` (a random key per dump).
    static func schemaDump(_ database: String) async throws -> String {
        let r = try await TestEnv.shell("\(pgDump) --schema-only --no-owner -h 127.0.0.1 -p \(TestEnv.pgPort) -U postgres -d \(database) 2>&1")
        guard r.status == 0 else { throw TestFailure("pg_dump failed (\(r.status)): \(r.output)") }
        return r.output.split(separator: "\n", omittingEmptySubsequences: false)
            .filter {
                !$0.hasPrefix("-- Dumped from database version") && !$0.hasPrefix("-- Dumped by pg_dump version")
                    && !$0.hasPrefix("\\restrict ") && !$0.hasPrefix("\\unrestrict ")
            }
            .joined(separator: "\n")
    }

    /// The first line where two dumps differ, for a readable failure.
    static func firstDifference(_ a: String, _ b: String) -> String {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false)
        let y = b.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(x.count, y.count) where (i < x.count ? x[i] : "<end>") != (i < y.count ? y[i] : "<end>") {
            return "line \(i + 1): \(i < x.count ? String(x[i]) : "<end>") ≠ \(i < y.count ? String(y[i]) : "<end>")"
        }
        return "identical"
    }

    /// Runs the built `innkeep` binary from an empty folder (so no `.env` is read) with exactly these variables.
    static func innkeep(_ arguments: String, env: [String: String]) async throws -> (status: Int32, lines: [String]) {
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw TestFailure("\(binary) is missing: run `swift build --build-tests`") }
        let cwd = FileManager.default.temporaryDirectory.appendingPathComponent("innkeep-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: cwd) }
        let unset = AppConfig.variables.map(\.name) + ["MIGRATIONS_DIR"]
        let r = try await TestEnv.shell(
            """
            cd '\(cwd.path)' && unset \(unset.joined(separator: " ")) && exec timeout 30 env \
            \(env.map { "\($0.key)='\($0.value)'" }.sorted().joined(separator: " ")) '\(binary)' \(arguments)
            """
        )
        return (r.status, r.output.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
    }

    static func serveEnvironment(_ database: String, _ overrides: [String: String] = [:]) -> [String: String] {
        var env = TestEnv.environment(database: database).merging(["PORT": "0", "LOG_LEVEL": "info", "MIGRATIONS_DIR": TestEnv.migrationsDir.path]) {
            _,
            new in new
        }
        for (k, v) in overrides { env[k] = v }
        return env
    }

    /// A copy of migrations/ in a temp folder, for tests that add or change files.
    static func copyOfMigrations() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("innkeep-migrations-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: TestEnv.migrationsDir, to: dir)
        return dir
    }
}

/// Runs bodies one at a time, in order (an actor alone would interleave them at every await).
actor MigrationSetupQueue {
    private var tail: Task<Void, Never>?

    func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let previous = tail
        let task = Task { () async throws -> T in
            await previous?.value
            return try await body()
        }
        tail = Task { _ = try? await task.value }
        return try await task.value
    }
}
