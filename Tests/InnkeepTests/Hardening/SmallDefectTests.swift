import Foundation
import HTTPTypes
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import Innkeep

#if canImport(Glibc)
import Glibc
#endif

/// SPEC §1, §14 and small defects: secrets never printed, bounded worker purges, migration checksums and
/// `migrate down`, URL decoding, explicit nulls, and owner scope in shadow mode.
@Suite struct SmallDefectTests {
    @Test func configurationErrorsNeverPrintValues() async throws {
        let secret = "s3cret-PASSWORD-\(UUID().uuidString.prefix(6))"
        let cases: [String: String] = [
            "REDIS_URL": "redis://:\(secret)@127.0.0.1:notaport", "DATABASE_URL": "mysql://u:\(secret)@h/db",
            "TRUSTED_PROXIES": "10.0.0.0/99,\(secret)", "AUTH_RATE_LIMIT_PER_MINUTE": "\(secret)",
        ]
        for (name, bad) in cases {
            var env = TestEnv.environment(database: "x")
            env[name] = bad
            #expect(throws: ConfigError.self) { _ = try AppConfig(environment: env) }
            do { _ = try AppConfig(environment: env) } catch {
                #expect(error.description.contains(name))
                #expect(!error.description.contains(secret), "\(error.description)")
            }
        }
        // The real binary: exit 2 with one line naming REDIS_URL, not its password.
        let env = MigrationFixture.serveEnvironment("no_such_database", ["REDIS_URL": cases["REDIS_URL"]!])
        let r = try await MigrationFixture.innkeep("serve", env: env)
        #expect(r.status == 2)
        #expect(r.lines.count == 1, "\(r.lines)")
        #expect(r.lines.first?.contains("REDIS_URL") == true)
        #expect(!r.lines.joined().contains(secret))
    }

    @Test func urlCredentialsArePercentDecodedOnce() throws {
        let url = try #require(PostgresURL("postgres://us%25er:p%2541ss%40word@127.0.0.1:5432/db"))
        #expect(url.user == "us%er")
        #expect(url.password == "p%41ss@word")
    }

    @Test func trustedProxiesAndClientAddresses() throws {
        let trusted = try #require(["10.0.0.0/8", "::1", "192.168.1.7"].map(IPNetwork.init) as? [IPNetwork])
        #expect(ClientAddress.resolve(peer: "203.0.113.9", forwardedFor: "1.2.3.4", trusted: trusted) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: "10.1.1.1", forwardedFor: "1.2.3.4, 5.6.7.8", trusted: trusted) == "5.6.7.8")
        #expect(ClientAddress.resolve(peer: "10.1.1.1", forwardedFor: "1.2.3.4, 10.9.9.9", trusted: trusted) == "1.2.3.4")
        #expect(ClientAddress.resolve(peer: "::1", forwardedFor: "2001:db8::5", trusted: trusted) == "2001:db8::5")
        #expect(ClientAddress.resolve(peer: "::ffff:192.168.1.7", forwardedFor: "9.9.9.9", trusted: trusted) == "9.9.9.9")
        #expect(ClientAddress.resolve(peer: "10.1.1.1", forwardedFor: "garbage", trusted: trusted) == "10.1.1.1")
        #expect(IPNetwork("10.0.0.0/33") == nil && IPNetwork("nonsense") == nil)
    }

    @Test func explicitNullsForRequiredCompanionsAre422() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let ical = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "channel": "ical", "external_listing_id": "X-1", "ical_url": nil,
                ]
            )
            #expect(ical.status == .unprocessableContent, "\(ical.raw)")
            #expect(ical.raw.contains("ical_url"))
            var body = HardeningBodies.booking(property)
            body["total_amount_cents"] = 100
            body["currency"] = nil
            let booking = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: .object(body))
            #expect(booking.status == .unprocessableContent, "\(booking.raw)")
            #expect(booking.raw.contains("currency"))
        }
    }

    @Test func ownersInShadowModeCannotChangePropertiesTheyCannotSee() async throws {
        try await withApp(env: ["ENFORCE_RBAC": "false"]) { api in
            let agency = try await api.makeAgency()
            let owner = agency.members[.owner]!
            let mine = try await api.createProperty(agency, name: "Mine", owner: owner.id)
            let other = try await api.createProperty(agency, name: "Other")
            let patch = try await api.send(.patch, "/api/v1/properties/\(other)", token: owner.token, json: ["name": "Taken"])
            #expect(patch.errorCode == "PROPERTY_NOT_FOUND", "\(patch.raw)")
            let delete = try await api.send(.delete, "/api/v1/properties/\(other)", token: owner.token)
            #expect(delete.errorCode == "PROPERTY_NOT_FOUND", "\(delete.raw)")
            #expect(try await api.send(.get, "/api/v1/properties/\(other)", token: agency.admin.token)["name"] == "Other")
            // Their own is still theirs to change in shadow mode (the denial is logged and counted).
            #expect(try await api.send(.patch, "/api/v1/properties/\(mine)", token: owner.token, json: ["name": "Mine 2"]).status == .ok)
        }
    }

    @Test func migrateDownRefusesANegativeCount() async throws {
        try await SharedDatabase.shared.prepare()
        let r = try await MigrationFixture.innkeep("migrate down -- -1", env: MigrationFixture.serveEnvironment(SharedDatabase.name))
        #expect(r.status != 0)
        #expect(r.status < 128, "crashed: \(r.status)")
        #expect(r.lines.joined(separator: " ").contains("positive"), "\(r.lines)")
        await #expect(throws: MigrationError.self) {
            try await MigrationFixture.withConnection(TestEnv.ownerURL(SharedDatabase.name)) { conn async throws in
                _ = try await Migrator(migrations: MigrationFixture.all, logger: TestEnv.logger).down(conn, steps: -1)
            }
        }
    }

    @Test func legacyUpOnlyChecksumsAreAcceptedThenUpgraded() async throws {
        try await MigrationFixture.withFreshDatabase { db async throws in
            try await MigrationFixture.withConnection(TestEnv.ownerURL(db)) { conn async throws in
                let first = MigrationFixture.all[0]
                try await conn.run("UPDATE schema_migrations SET checksum = \(first.upOnlyChecksum) WHERE version = 1")
                let migrator = Migrator(migrations: MigrationFixture.all, logger: TestEnv.logger)
                #expect(try await migrator.status(conn).pending.isEmpty)
                try await migrator.up(conn)
                let stored = try await conn.run("SELECT checksum FROM schema_migrations WHERE version = 1").collect()[0].decode(String.self)
                #expect(stored == first.checksum)
                // A changed down file is now caught.
                let edited = MigrationFixture.all.map { m in
                    m.version == 1 ? Migration(version: 1, name: m.name, up: m.up, down: m.down + "\n-- x") : m
                }
                await #expect(throws: MigrationError.self) { _ = try await Migrator(migrations: edited, logger: TestEnv.logger).status(conn) }
            }
        }
    }

    /// On a database of its own: the purge takes every expired key, and other suites' tests expire keys on purpose.
    @Test func workerPurgesInBatchesAndResetsAttemptsOnSuccess() async throws {
        let database = SharedDatabase.name + "_purge"
        try await SharedDatabase.shared.prepare()
        try await TestEnv.dropDatabase(database)
        try await TestEnv.prepareDatabase(database)
        try await withApp(database: database) { api in
            let agency = try await api.makeAgency()
            let db = api.services.db
            try await db.transaction(.tenant(agency.id, user: agency.admin.id)) { conn in
                try await conn.run(
                    """
                    INSERT INTO idempotency_keys (agency_id, user_id, key, request_method, request_path, request_hash, expires_at)
                    SELECT \(agency.id), \(agency.admin.id), 'old-' || g, 'POST', '/x', 'h', now() - interval '1 hour' FROM generate_series(1, 2500) g
                    """
                )
            }
            let worker = Worker(db: db, logger: TestEnv.logger, id: "test-batch-\(UUID().uuidString.prefix(8))")
            let purged = try await worker.purgeExpiredKeys(batchSize: 1000)
            #expect(purged == 2500)
            let left = try await db.transaction(.tenant(agency.id, user: nil)) { conn in
                try await conn.run("SELECT count(*) FROM idempotency_keys WHERE agency_id = \(agency.id)").collect()[0].decode(Int.self)
            }
            #expect(left == 0)

            // The counter: a recurring job that failed before and now succeeds starts again from zero.
            let name = "test-reset-\(UUID())"
            try await db.transaction(.worker) { conn in
                try await conn.run(
                    """
                    INSERT INTO jobs (kind, unique_name, attempts, last_error, run_at)
                    VALUES ('noop', \(name), 3, 'earlier failure', now() - interval '1 day')
                    """
                )
            }
            #expect(try await worker.runNextJob())
            let (attempts, error) = try await db.transaction(.worker) { conn in
                try await conn.run("SELECT attempts, last_error FROM jobs WHERE unique_name = \(name)").collect()[0]
                    .decode((Int32, String?).self)
            }
            #expect(attempts == 0)
            #expect(error == nil)
            try await db.transaction(.worker) { conn in try await conn.run("DELETE FROM jobs WHERE unique_name = \(name)") }
        }
    }
}
