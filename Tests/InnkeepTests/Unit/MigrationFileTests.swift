import Foundation
import Testing

@testable import Innkeep

extension Unit {
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

        @Test func migrateNewWritesTheNextPair() async throws {
            let dir = try MigrationFixture.copyOfMigrations()
            defer { try? FileManager.default.removeItem(at: dir) }
            let count = MigrationFixture.all.count
            let next = String(format: "%04d_add_things", count + 1)
            let r = try await MigrationFixture.innkeep("migrate new add_things --dir '\(dir.path)'", env: [:])
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
            #expect(
                files.map(\.lastPathComponent)
                    == [String(format: "%04d_more_things.up.sql", count + 2), String(format: "%04d_more_things.down.sql", count + 2)]
            )
            for bad in ["Add-Things", "", "1things", "add things"] {
                #expect(throws: MigrationError.self) { try MigrationFiles.create(name: bad, in: dir) }
            }
            let bad = try await MigrationFixture.innkeep("migrate new Bad-Name --dir '\(dir.path)'", env: [:])
            #expect(bad.status != 0)
            #expect(bad.lines.first?.contains("snake_case") == true)
            #expect(try Migration.load(from: dir).count == count + 2)
        }
    }
}
