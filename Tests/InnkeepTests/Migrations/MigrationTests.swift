import Foundation
import Logging
import PostgresNIO
import Testing

@testable import Innkeep

// Migrations against the real Postgres (SPEC §8, §9): a fresh `mig_<random>` database per test (MigrationFixture).

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
                let first = try await F.schemaDump(db)
                #expect(first.contains("CREATE TABLE public.bookings"))
                #expect(first.contains("occupancy_no_overlap"))
                #expect(first.contains("ALTER TABLE ONLY public.bookings FORCE ROW LEVEL SECURITY"))
                #expect(first.contains("GRANT SELECT,INSERT ON TABLE public.audit_log TO innkeep_app"))

                let reverted = try await migrator.down(conn, steps: F.all.count)
                #expect(reverted.map(\.version) == F.all.map(\.version).reversed())
                let left = try await F.strings(
                    conn,
                    """
                    SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname IN ('public', 'auth') AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1
                    """
                )
                #expect(left == ["public.schema_migrations"])
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'auth'") == 0)
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_proc WHERE proname IN ('app_agency_id', 'app_user_id')") == 0)
                #expect(try await F.int(conn, "SELECT count(*) FROM schema_migrations") == 0)
                let status = try await migrator.status(conn)
                #expect(status.applied.isEmpty)
                #expect(status.pending.count == F.all.count)

                try await migrator.up(conn)
                let second = try await F.schemaDump(db)
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
                    let before = try await F.schemaDump(db)
                    #expect(try await upTo.up(conn).map(\.version) == [migration.version])
                    #expect(try await F.schemaDump(db) != before)
                    #expect(try await upTo.down(conn, steps: 1).map(\.version) == [migration.version])
                    let after = try await F.schemaDump(db)
                    #expect(before == after, "down of \(migration.version)_\(migration.name): \(F.firstDifference(before, after))")
                    try await upTo.up(conn)
                }
            }
        }
    }

    @Test func schemaMigrationsRecordsVersionNameChecksumTimeAndDuration() async throws {
        try await F.withFreshDatabase { db async throws in
            try await F.withConnection(TestEnv.ownerURL(db)) { conn async throws in
                let rows = try await conn.run(
                    """
                    SELECT version, name, checksum, applied_at <= now(), duration_ms >= 0 FROM schema_migrations ORDER BY version
                    """
                ).collect().map { try $0.decode((Int, String, String, Bool, Bool).self) }
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
            changed[2] = Migration(
                version: target.version,
                name: target.name,
                up: target.up + "\n-- edited after it was applied\n",
                down: target.down
            )
            #expect(changed[2].checksum != target.checksum)
            let migrator = Migrator(migrations: changed, logger: TestEnv.logger)
            try await F.withConnection(TestEnv.ownerURL(db)) { conn async throws in
                for (what, action) in [("status", { _ = try await migrator.status(conn) }), ("up", { _ = try await migrator.up(conn) })]
                    as [(String, () async throws -> Void)]
                {
                    let error = await F.migrationError(action)
                    let text = try #require(error?.description, "\(what) did not refuse a changed file")
                    #expect(text.contains("0003_channel_connections"), "\(what): \(text)")
                    #expect(text.contains("changed"), "\(what): \(text)")
                }
                // Nothing was applied or reverted by the refused calls.
                #expect(try await F.int(conn, "SELECT count(*) FROM schema_migrations") == F.all.count)

                // An applied migration whose files are gone is refused too.
                let missing = await F.migrationError {
                    _ = try await Migrator(migrations: Array(F.all.dropLast()), logger: TestEnv.logger).status(conn)
                }
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
                let r = try await F.innkeep(command, env: F.serveEnvironment(db, ["MIGRATIONS_DIR": dir.path]))
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
                let r = try await F.innkeep("serve", env: F.serveEnvironment(db))
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

    @Test func serveRefusesAShortJWTSecretBeforeTouchingTheDatabase() async throws {
        let r = try await F.innkeep("serve", env: F.serveEnvironment("no_such_database", ["JWT_SECRET": "0123456789"]))
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
            let up = try await F.innkeep("migrate up", env: env)
            #expect(up.status == 0, "\(up.lines)")
            #expect(up.lines.filter { $0.hasPrefix("applied ") } == F.all.map { String(format: "applied %04d_%@", $0.version, $0.name) })
            #expect(try await F.innkeep("migrate up", env: env).lines.last == "up to date")
            let down = try await F.innkeep("migrate down 2", env: env)
            #expect(down.status == 0, "\(down.lines)")
            #expect(
                down.lines.filter { $0.hasPrefix("reverted ") }
                    == F.all.suffix(2).reversed().map { String(format: "reverted %04d_%@", $0.version, $0.name) }
            )
            let status = try await F.innkeep("migrate status", env: env)
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
