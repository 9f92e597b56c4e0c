import Foundation
import Logging
import PostgresNIO
import Testing

@testable import Innkeep

// Migrations against the real Postgres (SPEC §8, §9): a fresh `mig_<random>` database per test (MigrationFixture).

@Suite struct DatabaseSetupTests {
    typealias F = MigrationFixture

    @Test func initIsIdempotentAndTheRolesAreNeverPrivileged() async throws {
        let name = F.freshName()
        do {
            try await F.initialize(name)
            try await F.initialize(name)
            try await F.withConnection(TestEnv.adminURL()) { admin async throws in
                #expect(try await F.int(admin, "SELECT count(*) FROM pg_database WHERE datname = \(name)") == 1)
                #expect(
                    try await F.strings(admin, "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = \(name)") == ["innkeep_owner"]
                )
                let roles = try await admin.run(
                    """
                    SELECT rolname::text, rolcanlogin, rolsuper OR rolbypassrls OR rolcreatedb OR rolcreaterole FROM pg_roles
                    WHERE rolname IN ('innkeep_app', 'innkeep_owner', 'innkeep_api') ORDER BY rolname
                    """
                ).collect().map { try $0.decode((String, Bool, Bool).self) }
                #expect(roles.map(\.0) == ["innkeep_api", "innkeep_app", "innkeep_owner"])
                #expect(roles.map(\.1) == [true, false, true])
                #expect(roles.allSatisfy { !$0.2 })
                #expect(
                    try await F.int(
                        admin,
                        "SELECT count(*) FROM pg_auth_members WHERE roleid = 'innkeep_app'::regrole AND member = 'innkeep_api'::regrole"
                    ) == 1
                )
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
            try await DatabaseSetup.initialize(
                adminURL: TestEnv.adminURL(),
                owner: TestEnv.ownerURL(name),
                runtime: TestEnv.ownerURL(name),
                logger: TestEnv.logger
            )
        }
        #expect(same?.description.contains("different roles") == true)
        let otherDatabase = await F.migrationError {
            try await DatabaseSetup.initialize(
                adminURL: TestEnv.adminURL(),
                owner: TestEnv.ownerURL(name),
                runtime: TestEnv.runtimeURL(name + "_x"),
                logger: TestEnv.logger
            )
        }
        #expect(otherDatabase?.description.contains("same database") == true)
        // Refused before anything was created.
        try await F.withConnection(TestEnv.adminURL()) { admin async throws in
            #expect(try await F.int(admin, "SELECT count(*) FROM pg_database WHERE datname = \(name)") == 0)
        }
    }
}
