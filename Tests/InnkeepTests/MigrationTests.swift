import Foundation
@testable import Innkeep
import Logging
import PostgresNIO
import Testing

// Migrations, roles and tenant isolation against the real Postgres (SPEC §8, §9).
// Every database test creates and drops its own `mig_<random>` database, so the tests run in parallel.

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
                        adminURL: TestEnv.adminURL(), owner: TestEnv.ownerURL(name), runtime: TestEnv.runtimeURL(name), logger: TestEnv.logger)
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
    static func scoped<T>(_ conn: PostgresConnection, agency: UUID? = nil, user: UUID? = nil, worker: Bool = false,
                          _ body: () async throws -> T) async throws -> T {
        try await conn.run("BEGIN")
        do {
            try await conn.run("""
                SELECT set_config('app.agency_id', \(agency?.uuidString ?? ""), true),
                       set_config('app.user_id', \(user?.uuidString ?? ""), true),
                       set_config('app.worker', \(worker ? "on" : ""), true)
                """)
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
    static func schemaDump(_ database: String) throws -> String {
        let r = try TestEnv.shell("\(pgDump) --schema-only --no-owner -h 127.0.0.1 -p \(TestEnv.pgPort) -U postgres -d \(database) 2>&1")
        guard r.status == 0 else { throw TestFailure("pg_dump failed (\(r.status)): \(r.output)") }
        return r.output.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("-- Dumped from database version") && !$0.hasPrefix("-- Dumped by pg_dump version")
                && !$0.hasPrefix("\\restrict ") && !$0.hasPrefix("\\unrestrict ") }
            .joined(separator: "\n")
    }

    /// The first line where two dumps differ, for a readable failure.
    static func firstDifference(_ a: String, _ b: String) -> String {
        let x = a.split(separator: "\n", omittingEmptySubsequences: false), y = b.split(separator: "\n", omittingEmptySubsequences: false)
        for i in 0..<max(x.count, y.count) where (i < x.count ? x[i] : "<end>") != (i < y.count ? y[i] : "<end>") {
            return "line \(i + 1): \(i < x.count ? String(x[i]) : "<end>") ≠ \(i < y.count ? String(y[i]) : "<end>")"
        }
        return "identical"
    }

    /// Runs the built `innkeep` binary from an empty folder (so no `.env` is read) with exactly these variables.
    static func innkeep(_ arguments: String, env: [String: String]) throws -> (status: Int32, lines: [String]) {
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw TestFailure("\(binary) is missing: run `swift build --build-tests`") }
        let cwd = FileManager.default.temporaryDirectory.appendingPathComponent("innkeep-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: cwd, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: cwd) }
        let unset = AppConfig.variables.map(\.name) + ["MIGRATIONS_DIR"]
        let r = try TestEnv.shell("cd '\(cwd.path)' && unset \(unset.joined(separator: " ")) && exec timeout 30 env \(env.map { "\($0.key)='\($0.value)'" }.sorted().joined(separator: " ")) '\(binary)' \(arguments)")
        return (r.status, r.output.split(separator: "\n").map(String.init).filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty })
    }

    static func serveEnvironment(_ database: String, _ overrides: [String: String] = [:]) -> [String: String] {
        var env = TestEnv.environment(database: database).merging(["PORT": "0", "LOG_LEVEL": "info", "MIGRATIONS_DIR": TestEnv.migrationsDir.path]) { _, new in new }
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

// MARK: - Applying, reverting, checksums

@Suite struct MigrationTests {
    typealias F = MigrationFixture

    @Test func migrationFilesAreALoadablePairPerVersion() throws {
        let migrations = try Migration.load(from: TestEnv.migrationsDir)
        let upFiles = try FileManager.default.contentsOfDirectory(atPath: TestEnv.migrationsDir.path).filter { $0.hasSuffix(".up.sql") }
        #expect(migrations.count == upFiles.count)
        #expect(migrations.count >= 7)
        #expect(migrations.map(\.version) == Array(1...migrations.count))
        #expect(migrations.first?.name == "identity_and_agencies")
    }

    @Test func upDownAllUpLeavesAnIdenticalSchema() async throws {
        try await F.withFreshDatabase(migrate: false) { db async throws in
            let migrator = Migrator(migrations: F.all, logger: TestEnv.logger)
            try await F.withConnection(TestEnv.ownerURL(db)) { conn async throws in
                let applied = try await migrator.up(conn)
                #expect(applied.map(\.version) == F.all.map(\.version))
                let first = try F.schemaDump(db)
                #expect(first.contains("CREATE TABLE public.bookings"))
                #expect(first.contains("occupancy_no_overlap"))
                #expect(first.contains("ALTER TABLE ONLY public.bookings FORCE ROW LEVEL SECURITY"))
                #expect(first.contains("GRANT SELECT,INSERT ON TABLE public.audit_log TO innkeep_app"))

                let reverted = try await migrator.down(conn, steps: F.all.count)
                #expect(reverted.map(\.version) == F.all.map(\.version).reversed())
                let left = try await F.strings(conn, """
                    SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname IN ('public', 'auth') AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1
                    """)
                #expect(left == ["public.schema_migrations"])
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'auth'") == 0)
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_proc WHERE proname IN ('app_agency_id', 'app_user_id')") == 0)
                #expect(try await F.int(conn, "SELECT count(*) FROM schema_migrations") == 0)
                let status = try await migrator.status(conn)
                #expect(status.applied.isEmpty)
                #expect(status.pending.count == F.all.count)

                try await migrator.up(conn)
                let second = try F.schemaDump(db)
                #expect(first == second, "\(F.firstDifference(first, second))")
            }
        }
    }

    @Test func eachDownExactlyReversesItsUp() async throws {
        try await F.withFreshDatabase(migrate: false) { db async throws in
            try await F.withConnection(TestEnv.ownerURL(db)) { conn async throws in
                try await Migrator(migrations: [], logger: TestEnv.logger).up(conn)  // creates schema_migrations only
                for migration in F.all {
                    let upTo = Migrator(migrations: Array(F.all.prefix(migration.version)), logger: TestEnv.logger)
                    let before = try F.schemaDump(db)
                    #expect(try await upTo.up(conn).map(\.version) == [migration.version])
                    #expect(try F.schemaDump(db) != before)
                    #expect(try await upTo.down(conn, steps: 1).map(\.version) == [migration.version])
                    let after = try F.schemaDump(db)
                    #expect(before == after, "down of \(migration.version)_\(migration.name): \(F.firstDifference(before, after))")
                    try await upTo.up(conn)
                }
            }
        }
    }

    @Test func schemaMigrationsRecordsVersionNameChecksumTimeAndDuration() async throws {
        try await F.withFreshDatabase { db async throws in
            try await F.withConnection(TestEnv.ownerURL(db)) { conn async throws in
                let rows = try await conn.run("""
                    SELECT version, name, checksum, applied_at <= now(), duration_ms >= 0 FROM schema_migrations ORDER BY version
                    """).collect().map { try $0.decode((Int, String, String, Bool, Bool).self) }
                #expect(rows.map(\.0) == F.all.map(\.version))
                #expect(rows.map(\.1) == F.all.map(\.name))
                #expect(rows.map(\.2) == F.all.map(\.checksum))
                #expect(rows.allSatisfy { $0.3 && $0.4 })
                #expect(try await Migrator(migrations: F.all, logger: TestEnv.logger).up(conn).isEmpty)
            }
        }
    }

    @Test func aMigrationWithFunctionBodiesAndCommentsAppliesAndReverts() async throws {
        let up = """
            /* A header /* with a nested comment */ and a semicolon; */
            CREATE FUNCTION public.test_split(n int) RETURNS text LANGUAGE plpgsql AS $fn$
            DECLARE s text := 'a;b';
            BEGIN
                IF n > 0 THEN RETURN s || E'\\';'; END IF; -- a comment; inside
                RETURN $$x;y$$;
            END
            $fn$;
            COMMENT ON FUNCTION public.test_split(int) IS E'it\\'s; split-proof';
            """
        let tricky = Migration(version: F.all.count + 1, name: "tricky", up: up, down: "DROP FUNCTION public.test_split(int); -- done;\n")
        try await F.withFreshDatabase { db async throws in
            try await F.withConnection(TestEnv.ownerURL(db)) { conn async throws in
                let migrator = Migrator(migrations: F.all + [tricky], logger: TestEnv.logger)
                #expect(try await migrator.up(conn).map(\.version) == [tricky.version])
                #expect(try await F.strings(conn, "SELECT public.test_split(1) || '|' || public.test_split(0)") == ["a;b';|x;y"])
                #expect(try await F.strings(conn, "SELECT obj_description('public.test_split(int)'::regprocedure)") == ["it's; split-proof"])
                #expect(try await migrator.down(conn, steps: 1).map(\.version) == [tricky.version])
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_proc WHERE proname = 'test_split'") == 0)
            }
        }
    }

    @Test func threeConcurrentRunnersApplyEachMigrationExactlyOnce() async throws {
        try await F.withFreshDatabase(migrate: false) { db async throws in
            let migrator = Migrator(migrations: F.all, logger: TestEnv.logger)
            var connections: [PostgresConnection] = []
            for _ in 0..<3 { connections.append(try await PostgresConnection.open(TestEnv.ownerURL(db), logger: TestEnv.logger)) }
            let conns = connections
            do {
                let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                    for conn in conns { group.addTask { try await migrator.up(conn).map(\.version) } }
                    var all: [[Int]] = []
                    for try await versions in group { all.append(versions) }
                    return all
                }
                #expect(applied.count == 3)
                #expect(applied.flatMap { $0 }.sorted() == F.all.map(\.version))
                let perVersion = try await conns[0].run("SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version")
                    .collect().map { try $0.decode((Int, Int).self) }
                #expect(perVersion.map(\.0) == F.all.map(\.version))
                #expect(perVersion.allSatisfy { $0.1 == 1 })
                let upFiles = try FileManager.default.contentsOfDirectory(atPath: TestEnv.migrationsDir.path).filter { $0.hasSuffix(".up.sql") }
                #expect(try await F.int(conns[1], "SELECT count(*) FROM schema_migrations") == upFiles.count)
                for conn in conns { #expect(try await migrator.status(conn).pending.isEmpty) }
            } catch {
                for conn in conns { try? await conn.close() }
                throw error
            }
            for conn in conns { try await conn.close() }
        }
    }

    @Test func aChangedAppliedFileStopsStatusAndUp() async throws {
        try await F.withFreshDatabase { db async throws in
            var changed = F.all
            let target = changed[2]
            changed[2] = Migration(version: target.version, name: target.name, up: target.up + "\n-- edited after it was applied\n", down: target.down)
            #expect(changed[2].checksum != target.checksum)
            let migrator = Migrator(migrations: changed, logger: TestEnv.logger)
            try await F.withConnection(TestEnv.ownerURL(db)) { conn async throws in
                for (what, action) in [("status", { _ = try await migrator.status(conn) }), ("up", { _ = try await migrator.up(conn) })]
                    as [(String, () async throws -> Void)] {
                    let error = await F.migrationError(action)
                    let text = try #require(error?.description, "\(what) did not refuse a changed file")
                    #expect(text.contains("0003_channel_connections"), "\(what): \(text)")
                    #expect(text.contains("changed"), "\(what): \(text)")
                }
                // Nothing was applied or reverted by the refused calls.
                #expect(try await F.int(conn, "SELECT count(*) FROM schema_migrations") == F.all.count)

                // An applied migration whose files are gone is refused too.
                let missing = await F.migrationError { _ = try await Migrator(migrations: Array(F.all.dropLast()), logger: TestEnv.logger).status(conn) }
                let last = F.all.last!
                #expect(missing?.description.contains(String(format: "%04d_%@", last.version, last.name)) == true)
                #expect(missing?.description.contains("missing") == true)
            }
        }
    }

    @Test func serveAndMigrateUpRefuseAChangedFile() async throws {
        try await F.withFreshDatabase { db async throws in
            let dir = try F.copyOfMigrations()
            defer { try? FileManager.default.removeItem(at: dir) }
            let file = dir.appendingPathComponent("0002_properties_and_bookings.up.sql")
            try (try String(contentsOf: file, encoding: .utf8) + "\n-- edited\n").write(to: file, atomically: true, encoding: .utf8)
            for command in ["serve", "migrate up", "migrate status"] {
                let r = try F.innkeep(command, env: F.serveEnvironment(db, ["MIGRATIONS_DIR": dir.path]))
                #expect(r.status != 0, "\(command): \(r.lines)")
                #expect(r.lines.contains { $0.contains("0002_properties_and_bookings") && $0.contains("changed") }, "\(command): \(r.lines)")
            }
        }
    }

    @Test func serveRefusesToStartWhileMigrationsArePending() async throws {
        try await F.withFreshDatabase(migrate: false) { db async throws in
            // None applied (right after db init), then some applied.
            for applied in [0, 3] {
                if applied > 0 {
                    try await F.withConnection(TestEnv.ownerURL(db)) { conn async throws in
                        try await Migrator(migrations: Array(F.all.prefix(applied)), logger: TestEnv.logger).up(conn)
                    }
                }
                let r = try F.innkeep("serve", env: F.serveEnvironment(db))
                #expect(r.status == 1, "serve with \(applied) applied exited \(r.status)")
                #expect(r.lines.count == 1, "\(r.lines)")
                let line = try #require(r.lines.first)
                #expect(line.contains("pending"))
                #expect(line.contains("innkeep migrate up"))
                #expect(line.contains("\(F.all.count - applied) migration(s)"), "\(line)")
                #expect(line.contains(String(format: "%04d_%@", F.all.last!.version, F.all.last!.name)))
            }
        }
    }

    @Test func serveRefusesAShortJWTSecretBeforeTouchingTheDatabase() throws {
        let r = try F.innkeep("serve", env: F.serveEnvironment("no_such_database", ["JWT_SECRET": "0123456789"]))
        #expect(r.status == 2)
        #expect(r.lines.count == 1, "\(r.lines)")
        #expect(r.lines.first?.contains("JWT_SECRET") == true)
        #expect(r.lines.first?.contains("configuration error") == true)
        #expect(r.lines.first?.contains("0123456789") == false)
    }

    @Test func migrateCommandAppliesReportsAndReverts() async throws {
        try await F.withFreshDatabase(migrate: false) { db async throws in
            let env = F.serveEnvironment(db)
            // stdout also carries the log lines; the command's own output is the lines it prints.
            let up = try F.innkeep("migrate up", env: env)
            #expect(up.status == 0, "\(up.lines)")
            #expect(up.lines.filter { $0.hasPrefix("applied ") } == F.all.map { String(format: "applied %04d_%@", $0.version, $0.name) })
            #expect(try F.innkeep("migrate up", env: env).lines.last == "up to date")
            let down = try F.innkeep("migrate down 2", env: env)
            #expect(down.status == 0, "\(down.lines)")
            #expect(down.lines.filter { $0.hasPrefix("reverted ") } == F.all.suffix(2).reversed().map { String(format: "reverted %04d_%@", $0.version, $0.name) })
            let status = try F.innkeep("migrate status", env: env)
            #expect(status.status == 0)
            #expect(status.lines.last == "\(F.all.count - 2) applied, 2 pending")
            #expect(status.lines.filter { $0.hasPrefix("pending  ") }.count == 2)
            // The owner role runs migrations, so the runtime role's DATABASE_URL is not what `migrate` uses.
            try await F.withConnection(TestEnv.adminURL(database: db)) { conn async throws in
                let owner = try await F.strings(conn, "SELECT tableowner::text FROM pg_tables WHERE tablename = 'properties'")
                #expect(owner == ["innkeep_owner"])
            }
        }
    }
}

// MARK: - Roles and row-level security

@Suite struct TenantIsolationSchemaTests {
    typealias F = MigrationFixture

    /// The tenant tables and the column that names their agency.
    static let tenantTables: [(table: String, agencyColumn: String)] = [
        ("agencies", "id"), ("properties", "agency_id"), ("bookings", "agency_id"), ("team_members", "agency_id"),
        ("channel_connections", "agency_id"), ("audit_log", "agency_id"), ("idempotency_keys", "agency_id"),
        ("agency_features", "agency_id"), ("jobs", "agency_id"),
        ("webhook_endpoints", "agency_id"), ("webhook_events", "agency_id"), ("webhook_deliveries", "agency_id"),
        ("blocks", "agency_id"), ("occupancy", "agency_id"), ("channel_conflicts", "agency_id"),
        ("invitations", "agency_id"),
    ]

    struct Seeded: Sendable {
        let agency: UUID
        let user: UUID
        let property: UUID
    }

    /// One row in every tenant table for a new agency, inserted as the runtime role with app.agency_id set.
    static func seed(_ conn: PostgresConnection) async throws -> Seeded {
        let agency = UUID()
        return try await F.scoped(conn, agency: agency) { () async throws in
            let email = uniqueEmail("rls")
            let user = try await conn.run("INSERT INTO auth.users (email, password_hash, full_name) VALUES (\(email), 'x', 'RLS Test') RETURNING id")
                .collect().first!.decode(UUID.self)
            try await conn.run("INSERT INTO agencies (id, name) VALUES (\(agency), 'RLS agency')")
            try await conn.run("INSERT INTO team_members (agency_id, user_id, role) VALUES (\(agency), \(user), 'admin')")
            let property = try await conn.run("INSERT INTO properties (agency_id, name, max_guests) VALUES (\(agency), 'Villa', 4) RETURNING id")
                .collect().first!.decode(UUID.self)
            try await conn.run("""
                INSERT INTO bookings (agency_id, property_id, guest_name, check_in, check_out, guests)
                VALUES (\(agency), \(property), 'Guest', '2030-01-01', '2030-01-03', 2)
                """)
            try await conn.run("INSERT INTO channel_connections (agency_id, property_id, channel, external_listing_id) VALUES (\(agency), \(property), 'airbnb', 'L-1')")
            try await conn.run("INSERT INTO audit_log (agency_id, user_id, action) VALUES (\(agency), \(user), 'test.seed')")
            try await conn.run("""
                INSERT INTO idempotency_keys (agency_id, user_id, key, request_method, request_path, request_hash, expires_at)
                VALUES (\(agency), \(user), 'live-key', 'POST', '/api/v1/properties', 'h', now() + interval '1 day'),
                       (\(agency), \(user), 'expired-key', 'POST', '/api/v1/properties', 'h', now() - interval '1 day')
                """)
            try await conn.run("INSERT INTO agency_features (agency_id, feature_name) VALUES (\(agency), 'channel_sync')")
            try await conn.run("INSERT INTO jobs (kind, agency_id) VALUES ('test', \(agency))")
            try await conn.run("""
                WITH w AS (INSERT INTO webhook_endpoints (agency_id, url, events, secret)
                           VALUES (\(agency), 'https://hooks.test/x', '{booking.created}', 'whsec_dGVzdA==') RETURNING id),
                     e AS (INSERT INTO webhook_events (agency_id, type, payload) VALUES (\(agency), 'booking.created', '{}') RETURNING id)
                INSERT INTO webhook_deliveries (agency_id, endpoint_id, event_id) SELECT \(agency), w.id, e.id FROM w, e
                """)
            // A manual block (its trigger adds the occupancy row) and a channel block in conflict with the booking.
            try await conn.run("""
                INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind) VALUES (\(agency), \(property), '2030-02-01', '2030-02-03', 'hold')
                """)
            let connection = try await conn.run("SELECT id FROM channel_connections WHERE agency_id = \(agency)").collect().first!.decode(UUID.self)
            let channelBlock = try await conn.run("""
                INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind, channel_connection_id, external_uid)
                VALUES (\(agency), \(property), '2030-01-02', '2030-01-04', 'channel', \(connection), 'uid-1') RETURNING id
                """).collect().first!.decode(UUID.self)
            try await conn.run("""
                INSERT INTO channel_conflicts (agency_id, property_id, channel_connection_id, block_id, start_date, end_date, conflicting_booking_id)
                SELECT \(agency), \(property), \(connection), \(channelBlock), '2030-01-02', '2030-01-04', id FROM bookings WHERE agency_id = \(agency)
                """)
            try await conn.run("""
                INSERT INTO invitations (agency_id, email, role, expires_at) VALUES (\(agency), \(uniqueEmail("invitee")), 'staff', now() + interval '7 days')
                """)
            return Seeded(agency: agency, user: user, property: property)
        }
    }

    @Test func runtimeRoleIsConfinedByTheCatalog() async throws {
        try await F.withFreshDatabase { db async throws in
            try await F.withConnection(TestEnv.runtimeURL(db)) { conn async throws in
                // Not superuser, not BYPASSRLS, and no role it can become is either.
                let (user, superuser, bypass) = try await conn.run("SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
                    .collect().first!.decode((String, Bool, Bool).self)
                #expect(user == TestEnv.runtimeURL(db).user)
                #expect(!superuser)
                #expect(!bypass)
                #expect(try await F.int(conn, """
                    SELECT count(*) FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER') AND (rolsuper OR rolbypassrls)
                    """) == 0)
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_roles WHERE rolname = 'innkeep_app' AND pg_has_role(current_user, oid, 'MEMBER')") == 1)

                // It owns no table, view, sequence, schema or function, directly or through a role it belongs to.
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_class WHERE pg_has_role(current_user, relowner, 'MEMBER')") == 0)
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_namespace WHERE pg_has_role(current_user, nspowner, 'MEMBER')") == 0)
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_proc WHERE pg_has_role(current_user, proowner, 'MEMBER')") == 0)
                // And it cannot create tables of its own.
                #expect(await F.failure { try await conn.run("CREATE TABLE public.sneaky (id int)") }?.state == "42501")

                // Every table in public/auth with an agency_id column (plus agencies itself) has RLS enabled AND forced,
                // and a policy on app_agency_id(): computed from the catalog, so a new table without them fails here.
                let rows = try await conn.run("""
                    SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity,
                           (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),
                           (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND pg_get_expr(p.polqual, p.polrelid) LIKE '%app_agency_id()%')
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname IN ('public', 'auth') AND c.relkind IN ('r', 'p')
                      AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'agency_id' AND a.attnum > 0 AND NOT a.attisdropped)
                           OR (n.nspname = 'public' AND c.relname = 'agencies'))
                    ORDER BY 1
                    """).collect().map { try $0.decode((String, Bool, Bool, Int, Int).self) }
                #expect(Set(rows.map(\.0)).isSuperset(of: Self.tenantTables.map { "public.\($0.table)" }))
                for (table, enabled, forced, policies, tenantPolicies) in rows {
                    #expect(enabled, "\(table): row level security is not enabled")
                    #expect(forced, "\(table): row level security is not forced")
                    #expect(policies >= 1, "\(table): no policy")
                    #expect(tenantPolicies >= 1, "\(table): no policy on app_agency_id()")
                }
                // Views would bypass RLS (they run as their owner): there are none in the API's schemas.
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_views WHERE schemaname IN ('public', 'auth')") == 0)
            }
        }
    }

    @Test func rowsAreInvisibleWithoutAnAgencyAndAcrossAgencies() async throws {
        try await F.withFreshDatabase { db async throws in
            try await F.withConnection(TestEnv.runtimeURL(db)) { conn async throws in
                let a = try await Self.seed(conn), b = try await Self.seed(conn)

                // The rows exist (a superuser bypasses RLS)...
                try await F.withConnection(TestEnv.adminURL(database: db)) { admin async throws in
                    for (table, column) in Self.tenantTables {
                        for agency in [a.agency, b.agency] {
                            let n = try await F.int(admin, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table) WHERE \(column) = '\(agency.uuidString)'"))
                            #expect(n >= 1, "\(table) has no seeded row")
                        }
                    }
                }
                // ...yet without app.agency_id the runtime role sees none: on this connection after the seeding
                // transactions committed (a local setting does not leak), on a fresh connection, and in a transaction.
                try await F.withConnection(TestEnv.runtimeURL(db)) { fresh async throws in
                    for c in [conn, fresh] {
                        for (table, _) in Self.tenantTables {
                            #expect(try await F.int(c, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)")) == 0, "\(table) visible without an agency")
                        }
                    }
                }
                try await F.scoped(conn) { () async throws in
                    for (table, _) in Self.tenantTables {
                        #expect(try await F.int(conn, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)")) == 0, "\(table) visible with an empty scope")
                    }
                }

                // With agency A: A's rows, never B's.
                try await F.scoped(conn, agency: a.agency) { () async throws in
                    for (table, column) in Self.tenantTables {
                        let (own, other) = try await conn.run(PostgresQuery(unsafeSQL: """
                            SELECT count(*) FILTER (WHERE \(column) = '\(a.agency.uuidString)'), count(*) FILTER (WHERE \(column) <> '\(a.agency.uuidString)') FROM \(table)
                            """)).collect().first!.decode((Int, Int).self)
                        #expect(own >= 1, "\(table): own rows invisible")
                        #expect(other == 0, "\(table): another agency's rows visible")
                    }
                    // B's rows cannot be changed or deleted either: they are filtered out.
                    #expect(try await conn.run("UPDATE properties SET name = 'taken' WHERE agency_id = \(b.agency) RETURNING id").collect().isEmpty)
                    #expect(try await conn.run("DELETE FROM bookings WHERE agency_id = \(b.agency) RETURNING id").collect().isEmpty)
                    #expect(try await conn.run("DELETE FROM team_members WHERE user_id = \(b.user) RETURNING id").collect().isEmpty)
                }

                // With agency A, a row for agency B is rejected by WITH CHECK, table by table, and so is moving a row to B.
                let A = a.agency, B = b.agency
                let crossInserts: [(String, PostgresQuery)] = [
                    ("agencies", "INSERT INTO agencies (id, name) VALUES (\(UUID()), 'Other')"),
                    ("properties", "INSERT INTO properties (agency_id, name, max_guests) VALUES (\(B), 'Villa', 2)"),
                    ("bookings", "INSERT INTO bookings (agency_id, property_id, guest_name, check_in, check_out, guests) VALUES (\(B), \(b.property), 'G', '2031-01-01', '2031-01-02', 1)"),
                    ("team_members", "INSERT INTO team_members (agency_id, user_id, role) VALUES (\(B), \(a.user), 'staff')"),
                    ("channel_connections", "INSERT INTO channel_connections (agency_id, property_id, channel, external_listing_id) VALUES (\(B), \(b.property), 'vrbo', 'L-2')"),
                    ("audit_log", "INSERT INTO audit_log (agency_id, action) VALUES (\(B), 'forged')"),
                    ("idempotency_keys", "INSERT INTO idempotency_keys (agency_id, user_id, key, request_method, request_path, request_hash, expires_at) VALUES (\(B), \(a.user), 'k', 'POST', '/x', 'h', now() + interval '1 hour')"),
                    ("agency_features", "INSERT INTO agency_features (agency_id, feature_name) VALUES (\(B), 'owner_portal')"),
                    ("jobs", "INSERT INTO jobs (kind, agency_id) VALUES ('test', \(B))"),
                    ("webhook_endpoints",
                     "INSERT INTO webhook_endpoints (agency_id, url, events, secret) VALUES (\(B), 'https://h.test', '{booking.created}', 's')"),
                    ("webhook_events", "INSERT INTO webhook_events (agency_id, type, payload) VALUES (\(B), 'booking.created', '{}')"),
                    ("webhook_deliveries", "INSERT INTO webhook_deliveries (agency_id, endpoint_id, event_id) VALUES (\(B), \(UUID()), \(UUID()))"),
                    ("blocks", "INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind) VALUES (\(B), \(b.property), '2031-05-01', '2031-05-02', 'hold')"),
                    ("occupancy", "INSERT INTO occupancy (agency_id, property_id, nights, block_id) VALUES (\(B), \(b.property), '[2031-06-01,2031-06-02)', \(UUID()))"),
                    ("invitations", "INSERT INTO invitations (agency_id, email, role, expires_at) VALUES (\(B), 'x@y.z', 'staff', now() + interval '1 day')"),
                    ("properties (move to B)", "UPDATE properties SET agency_id = \(B) WHERE agency_id = \(A)"),
                ]
                for (table, query) in crossInserts {
                    let failure = await F.failure { try await F.scoped(conn, agency: A) { _ = try await conn.run(query) } }
                    #expect(failure?.state == "42501", "\(table): \(String(describing: failure))")
                    #expect(failure?.message.contains("row-level security") == true, "\(table): \(String(describing: failure))")
                }
                // Nothing of the above landed.
                try await F.withConnection(TestEnv.adminURL(database: db)) { admin async throws in
                    #expect(try await F.int(admin, "SELECT count(*) FROM properties WHERE agency_id = \(B)") == 1)
                    #expect(try await F.int(admin, "SELECT count(*) FROM audit_log WHERE action = 'forged'") == 0)
                    #expect(try await F.int(admin, "SELECT count(*) FROM bookings WHERE agency_id = \(B)") == 1)
                    #expect(try await F.int(admin, "SELECT count(*) FROM team_members WHERE agency_id = \(B)") == 1)
                }
            }
        }
    }

    @Test func auditLogIsAppendOnlyForTheRuntimeRole() async throws {
        try await F.withFreshDatabase { db async throws in
            try await F.withConnection(TestEnv.runtimeURL(db)) { conn async throws in
                let a = try await Self.seed(conn)
                try await F.scoped(conn, agency: a.agency) { () async throws in
                    try await conn.run("INSERT INTO audit_log (agency_id, action) VALUES (\(a.agency), 'test.append')")
                    #expect(try await F.int(conn, "SELECT count(*) FROM audit_log") == 2)
                }
                for (verb, query) in [
                    ("UPDATE", "UPDATE audit_log SET action = 'rewritten'"),
                    ("DELETE", "DELETE FROM audit_log"),
                    ("TRUNCATE", "TRUNCATE audit_log"),
                ] as [(String, PostgresQuery)] {
                    let failure = await F.failure { try await F.scoped(conn, agency: a.agency) { _ = try await conn.run(query) } }
                    #expect(failure?.state == "42501", "\(verb): \(String(describing: failure))")
                    #expect(failure?.message.contains("permission denied") == true, "\(verb): \(String(describing: failure))")
                }
                try await F.scoped(conn, agency: a.agency) { () async throws in
                    #expect(try await F.int(conn, "SELECT count(*) FROM audit_log WHERE action <> 'rewritten'") == 2)
                }
            }
        }
    }

    @Test func documentedExceptionsAreNarrow() async throws {
        try await F.withFreshDatabase { db async throws in
            try await F.withConnection(TestEnv.runtimeURL(db)) { conn async throws in
                let a = try await Self.seed(conn), b = try await Self.seed(conn)
                // A user without an agency sees their own memberships and those agencies, nothing else.
                try await F.scoped(conn, user: a.user) { () async throws in
                    #expect(try await F.strings(conn, "SELECT agency_id::text FROM team_members") == [a.agency.uuidString.lowercased()])
                    #expect(try await F.strings(conn, "SELECT id::text FROM agencies") == [a.agency.uuidString.lowercased()])
                    #expect(try await F.int(conn, "SELECT count(*) FROM properties") == 0)
                }
                // The worker sees every agency's jobs, but only expired idempotency keys, and deletes only those.
                try await F.scoped(conn, worker: true) { () async throws in
                    #expect(try await F.int(conn, "SELECT count(*) FROM jobs WHERE agency_id IN (\(a.agency), \(b.agency))") == 2)
                    #expect(Set(try await F.strings(conn, "SELECT key FROM idempotency_keys")) == ["expired-key"])
                    #expect(try await F.strings(conn, "DELETE FROM idempotency_keys RETURNING key") == ["expired-key", "expired-key"])
                    #expect(try await F.int(conn, "SELECT count(*) FROM properties") == 0)
                    #expect(try await F.int(conn, "SELECT count(*) FROM audit_log") == 0)
                    // Every agency's webhook rows, to deliver them; it may claim deliveries but not add, delete or
                    // change endpoints (outcomes are written in the delivery's own agency).
                    #expect(try await F.int(conn, "SELECT count(*) FROM webhook_deliveries WHERE agency_id IN (\(a.agency), \(b.agency))") == 2)
                    #expect(try await F.int(conn, "SELECT count(*) FROM webhook_endpoints WHERE agency_id IN (\(a.agency), \(b.agency))") == 2)
                    #expect(try await conn.run("UPDATE webhook_deliveries SET locked_by = 'w' RETURNING 1").collect().count == 2)
                    #expect(try await conn.run("DELETE FROM webhook_deliveries RETURNING 1").collect().isEmpty)
                    #expect(try await conn.run("UPDATE webhook_endpoints SET enabled = false RETURNING 1").collect().isEmpty)
                }
                let forged = await F.failure {
                    try await F.scoped(conn, worker: true) {
                        _ = try await conn.run("INSERT INTO webhook_events (agency_id, type, payload) VALUES (\(a.agency), 'booking.created', '{}')")
                    }
                }
                #expect(forged?.state == "42501")
                try await F.withConnection(TestEnv.adminURL(database: db)) { admin async throws in
                    #expect(try await F.strings(admin, "SELECT key FROM idempotency_keys") == ["live-key", "live-key"])
                }
            }
        }
    }
}

// MARK: - Constraints that hold even for direct SQL

@Suite struct BookingConstraintTests {
    typealias F = MigrationFixture

    @Test func confirmedBookingsNeverOverlapAndChildrenNeverCrossAgencies() async throws {
        try await F.withFreshDatabase { db async throws in
            // As the superuser: RLS does not apply, so only the constraints stand in the way.
            try await F.withConnection(TestEnv.adminURL(database: db)) { conn async throws in
                let a = UUID(), b = UUID()
                try await conn.run("INSERT INTO agencies (id, name) VALUES (\(a), 'A'), (\(b), 'B')")
                let pa = try await conn.run("INSERT INTO properties (agency_id, name, max_guests) VALUES (\(a), 'A1', 4) RETURNING id").collect().first!.decode(UUID.self)
                let pa2 = try await conn.run("INSERT INTO properties (agency_id, name, max_guests) VALUES (\(a), 'A2', 4) RETURNING id").collect().first!.decode(UUID.self)
                let pb = try await conn.run("INSERT INTO properties (agency_id, name, max_guests) VALUES (\(b), 'B1', 4) RETURNING id").collect().first!.decode(UUID.self)
                func book(_ agency: UUID, _ property: UUID, _ checkIn: String, _ checkOut: String, cancelled: Bool = false) async throws {
                    try await conn.run("""
                        INSERT INTO bookings (agency_id, property_id, guest_name, check_in, check_out, guests, status, cancelled_at)
                        VALUES (\(agency), \(property), 'G', \(checkIn)::date, \(checkOut)::date, 2,
                                \(cancelled ? "cancelled" : "confirmed"), CASE WHEN \(cancelled) THEN now() END)
                        """)
                }
                try await book(a, pa, "2030-06-01", "2030-06-03")
                try await book(a, pa, "2030-06-03", "2030-06-05")  // back-to-back: [1,3) and [3,5)
                let overlap = await F.failure { try await book(a, pa, "2030-06-02", "2030-06-04") }
                #expect(overlap?.state == "23P01", "\(String(describing: overlap))")
                let inside = await F.failure { try await book(a, pa, "2030-05-20", "2030-07-01") }
                #expect(inside?.state == "23P01")
                try await book(a, pa, "2030-06-02", "2030-06-04", cancelled: true)  // a cancelled overlap is fine
                try await book(a, pa2, "2030-06-02", "2030-06-04")  // another property is fine
                #expect(try await F.int(conn, "SELECT count(*) FROM bookings WHERE property_id = \(pa)") == 3)

                // Composite FK: agency A's booking cannot point at agency B's property (nor a channel connection).
                let crossBooking = await F.failure { try await book(a, pb, "2030-08-01", "2030-08-03") }
                #expect(crossBooking?.state == "23503", "\(String(describing: crossBooking))")
                let crossChannel = await F.failure {
                    try await conn.run("INSERT INTO channel_connections (agency_id, property_id, channel, external_listing_id) VALUES (\(a), \(pb), 'ical', 'x')")
                }
                #expect(crossChannel?.state == "23503")
            }
        }
    }

    @Test func twoRacingTransactionsCannotBothBookTheSameNights() async throws {
        try await F.withFreshDatabase { db async throws in
            let agency = UUID()
            let property = try await F.withConnection(TestEnv.adminURL(database: db)) { conn async throws in
                try await conn.run("INSERT INTO agencies (id, name) VALUES (\(agency), 'A')")
                return try await conn.run("INSERT INTO properties (agency_id, name, max_guests) VALUES (\(agency), 'A1', 4) RETURNING id").collect().first!.decode(UUID.self)
            }
            let insert: PostgresQuery = """
                INSERT INTO bookings (agency_id, property_id, guest_name, check_in, check_out, guests) VALUES (\(agency), \(property), 'G', '2030-09-01', '2030-09-05', 2)
                """
            try await F.withConnection(TestEnv.runtimeURL(db)) { first async throws in
                try await F.withConnection(TestEnv.runtimeURL(db)) { second async throws in
                    try await first.run("BEGIN")
                    try await first.run("SELECT set_config('app.agency_id', \(agency.uuidString), true)")
                    try await first.run(insert)
                    // The second transaction waits on the first's uncommitted row, then fails once it commits.
                    let racer = Task { () async -> (state: String, message: String)? in
                        await F.failure { try await F.scoped(second, agency: agency) { _ = try await second.run(insert) } }
                    }
                    try await Task.sleep(for: .milliseconds(200))
                    try await first.run("COMMIT")
                    let failure = await racer.value
                    #expect(failure?.state == "23P01", "\(String(describing: failure))")
                }
            }
            try await F.withConnection(TestEnv.adminURL(database: db)) { conn async throws in
                #expect(try await F.int(conn, "SELECT count(*) FROM bookings") == 1)
            }
        }
    }
}

// MARK: - db init

@Suite struct DatabaseSetupTests {
    typealias F = MigrationFixture

    @Test func initIsIdempotentAndTheRolesAreNeverPrivileged() async throws {
        let name = F.freshName()
        do {
            try await F.initialize(name)
            try await F.initialize(name)
            try await F.withConnection(TestEnv.adminURL()) { admin async throws in
                #expect(try await F.int(admin, "SELECT count(*) FROM pg_database WHERE datname = \(name)") == 1)
                #expect(try await F.strings(admin, "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = \(name)") == ["innkeep_owner"])
                let roles = try await admin.run("""
                    SELECT rolname::text, rolcanlogin, rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole FROM pg_roles
                    WHERE rolname IN ('innkeep_app', 'innkeep_owner', 'innkeep_api') ORDER BY rolname
                    """).collect().map { try $0.decode((String, Bool, Bool).self) }
                #expect(roles.map(\.0) == ["innkeep_api", "innkeep_app", "innkeep_owner"])
                #expect(roles.map(\.1) == [true, false, true])
                #expect(roles.allSatisfy { !$0.2 })
                #expect(try await F.int(admin, "SELECT count(*) FROM pg_auth_members WHERE roleid = 'innkeep_app'::regrole AND member = 'innkeep_api'::regrole") == 1)
                #expect(try await F.int(admin, "SELECT count(*) FROM pg_auth_members WHERE member = 'innkeep_owner'::regrole") == 0)
            }
            // Both roles log in with the passwords in their URLs, and migrations apply after a second init.
            try await F.withConnection(TestEnv.ownerURL(name)) { conn async throws in
                #expect(try await Migrator(migrations: F.all, logger: TestEnv.logger).up(conn).count == F.all.count)
            }
            try await F.initialize(name)
            try await F.withConnection(TestEnv.runtimeURL(name)) { conn async throws in
                #expect(try await Migrator(migrations: F.all, logger: TestEnv.logger).status(conn).pending.isEmpty)
            }
            try await TestEnv.dropDatabase(name)
        } catch {
            try? await TestEnv.dropDatabase(name)
            throw error
        }
    }

    @Test func initRefusesOneRoleForBothURLs() async throws {
        let name = F.freshName()
        let same = await F.migrationError {
            try await DatabaseSetup.initialize(adminURL: TestEnv.adminURL(), owner: TestEnv.ownerURL(name), runtime: TestEnv.ownerURL(name), logger: TestEnv.logger)
        }
        #expect(same?.description.contains("different roles") == true)
        let otherDatabase = await F.migrationError {
            try await DatabaseSetup.initialize(adminURL: TestEnv.adminURL(), owner: TestEnv.ownerURL(name), runtime: TestEnv.runtimeURL(name + "_x"), logger: TestEnv.logger)
        }
        #expect(otherDatabase?.description.contains("same database") == true)
        // Refused before anything was created.
        try await F.withConnection(TestEnv.adminURL()) { admin async throws in
            #expect(try await F.int(admin, "SELECT count(*) FROM pg_database WHERE datname = \(name)") == 0)
        }
    }
}

// MARK: - Files and SQL splitting (no database)

@Suite struct SQLScriptTests {
    @Test func splitsOnSemicolons() {
        #expect(SQLScript.statements("SELECT 1; SELECT 2;\nSELECT 3") == ["SELECT 1", "SELECT 2", "SELECT 3"])
        #expect(SQLScript.statements("  ;;\n ; ") == [])
        #expect(SQLScript.statements("") == [])
    }

    @Test func ignoresSemicolonsInQuotesAndIdentifiers() {
        #expect(SQLScript.statements("SELECT 'a;b'; SELECT 2") == ["SELECT 'a;b'", "SELECT 2"])
        #expect(SQLScript.statements("SELECT 'it''s; fine'; SELECT 2") == ["SELECT 'it''s; fine'", "SELECT 2"])
        #expect(SQLScript.statements(#"CREATE TABLE "we;ird" (id int); SELECT 1"#) == [#"CREATE TABLE "we;ird" (id int)"#, "SELECT 1"])
        #expect(SQLScript.statements(#"SELECT "a""b;c" FROM t; SELECT 2"#) == [#"SELECT "a""b;c" FROM t"#, "SELECT 2"])
    }

    @Test func keepsDollarQuotedBodiesWhole() {
        let function = """
            CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1; PERFORM 2;
            END
            $$
            """
        #expect(SQLScript.statements(function + ";\nSELECT 1;") == [function, "SELECT 1"])
        let tagged = "DO $body$ BEGIN RAISE NOTICE '$$;'; END $body$"
        #expect(SQLScript.statements(tagged + "; SELECT 2") == [tagged, "SELECT 2"])
        // Positional parameters are not dollar quotes.
        #expect(SQLScript.statements("PREPARE p AS SELECT $1; SELECT 2") == ["PREPARE p AS SELECT $1", "SELECT 2"])
    }

    @Test func ignoresSemicolonsInComments() {
        #expect(SQLScript.statements("-- first; still a comment\nSELECT 1; -- trailing; comment\nSELECT 2;")
            == ["-- first; still a comment\nSELECT 1", "-- trailing; comment\nSELECT 2"])
        #expect(SQLScript.statements("SELECT /* a; b */ 1; SELECT 2") == ["SELECT /* a; b */ 1", "SELECT 2"])
        #expect(SQLScript.statements("SELECT 1;\n-- only a comment; here\n") == ["SELECT 1"])
        #expect(SQLScript.statements("-- 0008 header\n-- another line\n") == [])
    }

    @Test func followsPostgresLexicalRulesAtTheEdges() {
        // Block comments nest; a trailing comment is not a statement of its own.
        #expect(SQLScript.statements("SELECT /* outer /* inner */ still; comment */ 1; SELECT 2") == ["SELECT /* outer /* inner */ still; comment */ 1", "SELECT 2"])
        #expect(SQLScript.statements("SELECT 1; /* trailing; */") == ["SELECT 1"])
        #expect(SQLScript.statements("/* only */ -- comments\n/* here */") == [])
        // E'' strings escape with a backslash; plain strings do not.
        #expect(SQLScript.statements(#"SELECT E'it\'s; fine'; SELECT 2"#) == [#"SELECT E'it\'s; fine'"#, "SELECT 2"])
        #expect(SQLScript.statements(#"SELECT 'C:\'; SELECT 2"#) == [#"SELECT 'C:\'"#, "SELECT 2"])
        // `$` inside an identifier is not a dollar quote.
        #expect(SQLScript.statements("SELECT a$b$c FROM t; SELECT 2") == ["SELECT a$b$c FROM t", "SELECT 2"])
    }

    @Test func everyMigrationSplitsIntoCompleteStatements() {
        for migration in MigrationFixture.all {
            for statement in SQLScript.statements(migration.up) + SQLScript.statements(migration.down) {
                #expect(!statement.hasSuffix(";"))
                let code = statement.split(separator: "\n").map { $0.components(separatedBy: "--")[0] }.joined(separator: "\n")
                #expect(code.filter { $0 == "'" }.count % 2 == 0, "\(migration.name): \(statement)")
                #expect(statement.components(separatedBy: "$$").count % 2 == 1, "\(migration.name): \(statement)")
            }
        }
    }
}

@Suite struct MigrationFileTests {
    func withTempDir<T>(_ files: [String: String], _ body: (URL) throws -> T) throws -> T {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("innkeep-mig-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, text) in files { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return try body(dir)
    }

    func loadError(_ files: [String: String]) throws -> String? {
        try withTempDir(files) { dir in
            do {
                _ = try Migration.load(from: dir)
                return nil
            } catch let error as MigrationError {
                return error.description
            }
        }
    }

    @Test func loadsPairsInVersionOrder() throws {
        let migrations = try withTempDir([
            "0002_second.up.sql": "SELECT 2;", "0002_second.down.sql": "SELECT -2;",
            "0001_first.up.sql": "SELECT 1;", "0001_first.down.sql": "SELECT -1;", "README.md": "not a migration",
        ]) { try Migration.load(from: $0) }
        #expect(migrations.map(\.version) == [1, 2])
        #expect(migrations.map(\.name) == ["first", "second"])
        #expect(migrations[0].up == "SELECT 1;")
        #expect(migrations[0].down == "SELECT -1;")
    }

    @Test(arguments: ["1_first.up.sql", "0001-first.up.sql", "0001_First.up.sql", "00001_first.up.sql", "0001_first.sql", "0001_first.UP.sql"])
    func rejectsABadFileName(_ file: String) throws {
        let error = try loadError(["0001_first.down.sql": "SELECT 1;", file: "SELECT 1;"])
        let text = try #require(error, "\(file) was accepted")
        #expect(text.contains(file))
    }

    @Test func rejectsAMissingDownFile() throws {
        let error = try loadError(["0001_first.up.sql": "SELECT 1;", "0001_first.down.sql": "SELECT 1;", "0002_second.up.sql": "SELECT 2;"])
        #expect(error == "0002_second needs both .up.sql and .down.sql")
        let onlyDown = try loadError(["0001_first.down.sql": "SELECT 1;"])
        #expect(onlyDown == "0001_first needs both .up.sql and .down.sql")
    }

    @Test func rejectsAGapAndTwoNamesForOneVersion() throws {
        let gap = try loadError(["0001_a.up.sql": "", "0001_a.down.sql": "", "0003_c.up.sql": "", "0003_c.down.sql": ""])
        #expect(gap?.contains("without gaps") == true)
        let twoNames = try loadError(["0001_a.up.sql": "", "0001_b.down.sql": ""])
        #expect(twoNames?.contains("two names") == true)
    }

    /// SPEC §14: the checksum covers both files; the older up-only one is still recognised (and upgraded by `up`).
    @Test func checksumCoversBothFiles() {
        let m = Migration(version: 1, name: "x", up: "abc", down: "")
        #expect(m.upOnlyChecksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(m.checksum.hasPrefix("v2:") && m.checksum != m.upOnlyChecksum)
        #expect(Migration(version: 1, name: "x", up: "abc", down: "changed").checksum != m.checksum)
        #expect(Migration(version: 1, name: "x", up: "abd", down: "").checksum != m.checksum)
        // Moving text from one file to the other is a change too.
        #expect(Migration(version: 1, name: "x", up: "ab", down: "c").checksum != Migration(version: 1, name: "x", up: "a", down: "bc").checksum)
    }

    @Test func migrateNewWritesTheNextPair() throws {
        let dir = try MigrationFixture.copyOfMigrations()
        defer { try? FileManager.default.removeItem(at: dir) }
        let count = MigrationFixture.all.count
        let next = String(format: "%04d_add_things", count + 1)
        let r = try MigrationFixture.innkeep("migrate new add_things --dir '\(dir.path)'", env: [:])
        #expect(r.status == 0, "\(r.lines)")
        #expect(r.lines == [dir.appendingPathComponent(next + ".up.sql").path, dir.appendingPathComponent(next + ".down.sql").path])
        let loaded = try Migration.load(from: dir)
        #expect(loaded.count == count + 1)
        #expect(loaded.last?.version == count + 1)
        #expect(loaded.last?.name == "add_things")
        // The stubs hold only comments: applying them as they are does nothing.
        #expect(SQLScript.statements(loaded.last!.up).isEmpty)
        #expect(SQLScript.statements(loaded.last!.down).isEmpty)
        #expect(loaded.last!.up.contains("Checklist"))

        // The library call behind it numbers on from there, and refuses a name that is not snake_case.
        let files = try MigrationFiles.create(name: "more_things", in: dir)
        #expect(files.map(\.lastPathComponent) == [String(format: "%04d_more_things.up.sql", count + 2), String(format: "%04d_more_things.down.sql", count + 2)])
        for bad in ["Add-Things", "", "1things", "add things"] {
            #expect(throws: MigrationError.self) { try MigrationFiles.create(name: bad, in: dir) }
        }
        let bad = try MigrationFixture.innkeep("migrate new Bad-Name --dir '\(dir.path)'", env: [:])
        #expect(bad.status != 0)
        #expect(bad.lines.first?.contains("snake_case") == true)
        #expect(try Migration.load(from: dir).count == count + 2)
    }
}
