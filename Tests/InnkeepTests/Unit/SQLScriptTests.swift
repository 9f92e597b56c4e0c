import Foundation
import Testing

@testable import Innkeep

extension Unit {
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
            #expect(
                SQLScript.statements("-- first; still a comment\nSELECT 1; -- trailing; comment\nSELECT 2;")
                    == ["-- first; still a comment\nSELECT 1", "-- trailing; comment\nSELECT 2"]
            )
            #expect(SQLScript.statements("SELECT /* a; b */ 1; SELECT 2") == ["SELECT /* a; b */ 1", "SELECT 2"])
            #expect(SQLScript.statements("SELECT 1;\n-- only a comment; here\n") == ["SELECT 1"])
            #expect(SQLScript.statements("-- 0008 header\n-- another line\n") == [])
        }

        @Test func followsPostgresLexicalRulesAtTheEdges() {
            // Block comments nest; a trailing comment is not a statement of its own.
            #expect(
                SQLScript.statements("SELECT /* outer /* inner */ still; comment */ 1; SELECT 2")
                    == ["SELECT /* outer /* inner */ still; comment */ 1", "SELECT 2"]
            )
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
}
