import Foundation
import PostgresNIO
import Testing

@testable import Innkeep

/// SPEC §8: the keys are ready for a Postgres sharded by `agency_id` (Citus, docs/ops/scaling.md). Citus enforces a
/// primary key, unique or exclusion constraint on a distributed table only when it includes the distribution column,
/// and a foreign key between two distributed tables only when it pairs their distribution columns. This check reads
/// the catalog of the migrated database, so a table a future migration adds is held to it without being listed.
///
/// A tenant table is any table of the API's schemas (`public`, `auth`) with an `agency_id` column; `agencies` is the
/// tenant root, keyed by its own `id` (distributed by it, colocated with the rest).
@Suite struct DistributionKeyTests {
    /// Justified exceptions, `table constraint`. Each must still be reported (a stale entry fails the test).
    static let exceptions: Set<String> = [
        // The platform job queue: it holds jobs of no agency (the recurring idempotency purge has agency_id NULL, and a
        // distribution column cannot be NULL) and every worker claims across agencies with SKIP LOCKED. Under Citus it
        // stays a local table on the coordinator (docs/ops/scaling.md, "The job queue"), so its keys need no agency_id.
        "public.jobs jobs_pkey",
        "public.jobs jobs_unique_name_key",
    ]

    /// One line per constraint or unique index that would keep the schema from being distributed by agency_id:
    /// `table constraint: definition — problem`.
    static func violations(_ conn: PostgresConnection, schemas: [String]) async throws -> [(key: String, detail: String)] {
        try await conn.run(
            """
            WITH tenant AS (
                SELECT c.oid, n.nspname || '.' || c.relname AS name, a.attnum AS key
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'agency_id' AND a.attnum > 0 AND NOT a.attisdropped
                WHERE n.nspname = ANY(\(schemas)) AND c.relkind IN ('r', 'p')
                UNION ALL
                SELECT c.oid, 'public.agencies', a.attnum
                FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id'
                WHERE n.nspname = 'public' AND c.relname = 'agencies' AND 'public' = ANY(\(schemas))
            ), found AS (
                -- Primary key, unique and exclusion constraints that leave out agency_id.
                SELECT t.name, con.conname::text AS what, pg_get_constraintdef(con.oid) AS def, 'leaves out agency_id' AS problem
                FROM tenant t JOIN pg_constraint con ON con.conrelid = t.oid
                WHERE con.contype IN ('p', 'u', 'x') AND NOT (t.key = ANY(con.conkey))
                UNION ALL
                -- An exclusion constraint must compare agency_id with = (rows of two agencies never conflict).
                SELECT t.name, con.conname::text, pg_get_constraintdef(con.oid), 'does not compare agency_id with ='
                FROM tenant t JOIN pg_constraint con ON con.conrelid = t.oid
                WHERE con.contype = 'x' AND t.key = ANY(con.conkey) AND NOT EXISTS (
                    SELECT 1 FROM unnest(con.conkey, con.conexclop) AS e(attnum, op) JOIN pg_operator o ON o.oid = e.op
                    WHERE e.attnum = t.key AND o.oprname = '=')
                UNION ALL
                -- Unique indexes that are not constraints (expressions, partial indexes) count too.
                SELECT t.name, ic.relname::text, pg_get_indexdef(i.indexrelid), 'leaves out agency_id'
                FROM tenant t JOIN pg_index i ON i.indrelid = t.oid JOIN pg_class ic ON ic.oid = i.indexrelid
                WHERE i.indisunique AND NOT (t.key = ANY(i.indkey::int2[]))
                  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.conrelid = t.oid)
                UNION ALL
                -- A foreign key between tenant tables must pair agency_id with agency_id (agencies.id for the root).
                SELECT t.name, con.conname::text, pg_get_constraintdef(con.oid), 'does not pair agency_id with ' || r.name || '''s agency_id'
                FROM tenant t JOIN pg_constraint con ON con.conrelid = t.oid AND con.contype = 'f' JOIN tenant r ON r.oid = con.confrelid
                WHERE NOT EXISTS (SELECT 1 FROM unnest(con.conkey, con.confkey) AS k(a, b) WHERE k.a = t.key AND k.b = r.key)
                UNION ALL
                -- A table without agency_id (a reference table under Citus) cannot reference a tenant table.
                SELECT n.nspname || '.' || c.relname, con.conname::text, pg_get_constraintdef(con.oid),
                       'references tenant table ' || r.name || ' from a table without agency_id'
                FROM pg_constraint con JOIN tenant r ON r.oid = con.confrelid
                JOIN pg_class c ON c.oid = con.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE con.contype = 'f' AND n.nspname = ANY(\(schemas)) AND con.conrelid NOT IN (SELECT oid FROM tenant)
            )
            SELECT name || ' ' || what, name || ' ' || what || ': ' || def || ' — ' || problem FROM found ORDER BY 1, 2
            """
        ).collect().map { try $0.decode((String, String).self) }.map { (key: $0.0, detail: $0.1) }
    }

    @Test func everyTenantKeyAndForeignKeyIncludesAgencyId() async throws {
        try await SharedDatabase.shared.prepare()
        try await MigrationFixture.withConnection(TestEnv.adminURL(database: SharedDatabase.name)) { conn async throws in
            // The check sees the tenant tables at all (a query that matched nothing would pass anything).
            let tenantTables = try await conn.run(
                """
                SELECT count(*)::int8 FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE a.attname = 'agency_id' AND n.nspname IN ('public', 'auth') AND c.relkind IN ('r', 'p')
                """
            ).collect()[0].decode(Int.self)
            #expect(tenantTables >= TenantIsolationSchemaTests.tenantTables.count - 1)

            let found = try await Self.violations(conn, schemas: ["public", "auth"])
            let unexpected = found.filter { !Self.exceptions.contains($0.key) }
            #expect(unexpected.isEmpty, "not distributable by agency_id:\n\(unexpected.map(\.detail).joined(separator: "\n"))")
            let stale = Self.exceptions.subtracting(found.map(\.key))
            #expect(stale.isEmpty, "exceptions that no longer apply (remove them): \(stale.sorted())")
        }
    }

    /// The check itself: tables made to break each rule, in a scratch schema inside a transaction that is rolled back.
    @Test func theCheckReportsADeliberatelyBadTable() async throws {
        try await SharedDatabase.shared.prepare()
        let schema = "scratch_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        try await MigrationFixture.withConnection(TestEnv.adminURL(database: SharedDatabase.name)) { conn async throws in
            try await conn.run("BEGIN")
            do {
                for statement in [
                    "CREATE SCHEMA \(schema)",
                    // Right: every key and reference carries agency_id.
                    """
                    CREATE TABLE \(schema).parent (agency_id uuid NOT NULL, id uuid NOT NULL, code text,
                        PRIMARY KEY (agency_id, id), UNIQUE (agency_id, code))
                    """,
                    """
                    CREATE TABLE \(schema).good (agency_id uuid NOT NULL, id uuid NOT NULL, parent_id uuid, code text, nights daterange,
                        PRIMARY KEY (agency_id, id), FOREIGN KEY (agency_id, parent_id) REFERENCES \(schema).parent (agency_id, id),
                        EXCLUDE USING gist (agency_id WITH =, nights WITH &&))
                    """,
                    "CREATE UNIQUE INDEX good_lower_idx ON \(schema).good (agency_id, lower(code))",
                    // Wrong, once per rule.
                    "ALTER TABLE \(schema).parent ADD CONSTRAINT parent_id_key UNIQUE (id)",
                    """
                    CREATE TABLE \(schema).bad (id uuid PRIMARY KEY, agency_id uuid NOT NULL, parent_id uuid, code text, nights daterange,
                        CONSTRAINT bad_code_key UNIQUE (code),
                        CONSTRAINT bad_parent_fkey FOREIGN KEY (parent_id) REFERENCES \(schema).parent (id),
                        CONSTRAINT bad_no_overlap EXCLUDE USING gist (nights WITH &&),
                        CONSTRAINT bad_agency_overlap EXCLUDE USING gist (agency_id WITH <>, nights WITH &&))
                    """,
                    "CREATE UNIQUE INDEX bad_lower_code_idx ON \(schema).bad (lower(code))",
                    """
                    CREATE TABLE \(schema).lookup (parent_agency uuid, parent_id uuid, FOREIGN KEY (parent_agency, \
                    parent_id) REFERENCES \(schema).parent (agency_id, id))
                    """,
                ] {
                    try await conn.run(PostgresQuery(unsafeSQL: statement))
                }
                let found = try await Self.violations(conn, schemas: [schema])
                let keys = Set(found.map(\.key))
                #expect(
                    keys == [
                        "\(schema).bad bad_pkey", "\(schema).bad bad_code_key", "\(schema).bad bad_parent_fkey", "\(schema).bad bad_no_overlap",
                        "\(schema).bad bad_agency_overlap", "\(schema).bad bad_lower_code_idx", "\(schema).parent parent_id_key",
                        "\(schema).lookup lookup_parent_agency_parent_id_fkey",
                    ],
                    "\(found.map(\.detail).joined(separator: "\n"))"
                )
                #expect(found.contains { $0.key == "\(schema).bad bad_agency_overlap" && $0.detail.contains("does not compare agency_id with =") })
                #expect(!keys.contains { $0.hasPrefix("\(schema).good ") }, "a correct table is not reported")
            } catch {
                _ = try? await conn.run("ROLLBACK")
                throw TestFailure(String(reflecting: error))  // the default description hides the server's message
            }
            try await conn.run("ROLLBACK")
        }
    }
}
