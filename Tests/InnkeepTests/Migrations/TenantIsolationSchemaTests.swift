import Foundation
import Logging
import PostgresNIO
import Testing

@testable import Innkeep

// Migrations against the real Postgres (SPEC §8, §9): a fresh `mig_<random>` database per test (MigrationFixture).

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
            try await conn.run(
                """
                INSERT INTO bookings (agency_id, property_id, guest_name, check_in, check_out, guests)
                VALUES (\(agency), \(property), 'Guest', '2030-01-01', '2030-01-03', 2)
                """
            )
            try await conn.run(
                """
                INSERT INTO channel_connections (agency_id, property_id, channel, external_listing_id) VALUES (\(agency), \(property), 'airbnb', \
                'L-1')
                """
            )
            try await conn.run("INSERT INTO audit_log (agency_id, user_id, action) VALUES (\(agency), \(user), 'test.seed')")
            try await conn.run(
                """
                INSERT INTO idempotency_keys (agency_id, user_id, key, request_method, request_path, request_hash, expires_at)
                VALUES (\(agency), \(user), 'live-key', 'POST', '/api/v1/properties', 'h', now() + interval '1 day'),
                       (\(agency), \(user), 'expired-key', 'POST', '/api/v1/properties', 'h', now() - interval '1 day')
                """
            )
            try await conn.run("INSERT INTO agency_features (agency_id, feature_name) VALUES (\(agency), 'channel_sync')")
            try await conn.run("INSERT INTO jobs (kind, agency_id) VALUES ('test', \(agency))")
            try await conn.run(
                """
                WITH w AS (INSERT INTO webhook_endpoints (agency_id, url, events, secret)
                           VALUES (\(agency), 'https://hooks.test/x', '{booking.created}', 'whsec_dGVzdA==') RETURNING id),
                     e AS (INSERT INTO webhook_events (agency_id, type, payload) VALUES (\(agency), 'booking.created', '{}') RETURNING id)
                INSERT INTO webhook_deliveries (agency_id, endpoint_id, event_id) SELECT \(agency), w.id, e.id FROM w, e
                """
            )
            // A manual block (its trigger adds the occupancy row) and a channel block in conflict with the booking.
            try await conn.run(
                """
                INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind) VALUES (\(agency), \(property), '2030-02-01',
                    '2030-02-03', 'hold')
                """
            )
            let connection = try await conn.run("SELECT id FROM channel_connections WHERE agency_id = \(agency)").collect().first!.decode(UUID.self)
            let channelBlock = try await conn.run(
                """
                INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind, channel_connection_id, external_uid)
                VALUES (\(agency), \(property), '2030-01-02', '2030-01-04', 'channel', \(connection), 'uid-1') RETURNING id
                """
            ).collect().first!.decode(UUID.self)
            try await conn.run(
                """
                INSERT INTO channel_conflicts (agency_id, property_id, channel_connection_id, block_id, start_date, end_date, conflicting_booking_id)
                SELECT \(agency), \(property), \(connection), \(channelBlock), '2030-01-02', '2030-01-04',
                    id FROM bookings WHERE agency_id = \(agency)
                """
            )
            try await conn.run(
                """
                INSERT INTO invitations (agency_id, email, role, expires_at)
                VALUES (\(agency), \(uniqueEmail("invitee")), 'staff', now() + interval '7 days')
                """
            )
            return Seeded(agency: agency, user: user, property: property)
        }
    }

    @Test func runtimeRoleIsConfinedByTheCatalog() async throws {
        try await F.withFreshDatabase { db async throws in
            try await F.withConnection(TestEnv.runtimeURL(db)) { conn async throws in
                // Not superuser, not BYPASSRLS, and no role it can become is either.
                let (user, superuser, bypass) = try await conn.run(
                    "SELECT current_user::text, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
                )
                .collect().first!.decode((String, Bool, Bool).self)
                #expect(user == TestEnv.runtimeURL(db).user)
                #expect(!superuser)
                #expect(!bypass)
                #expect(
                    try await F.int(
                        conn,
                        """
                        SELECT count(*) FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER') AND (rolsuper OR rolbypassrls)
                        """
                    ) == 0
                )
                #expect(
                    try await F.int(conn, "SELECT count(*) FROM pg_roles WHERE rolname = 'innkeep_app' AND pg_has_role(current_user, oid, 'MEMBER')")
                        == 1
                )

                // It owns no table, view, sequence, schema or function, directly or through a role it belongs to.
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_class WHERE pg_has_role(current_user, relowner, 'MEMBER')") == 0)
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_namespace WHERE pg_has_role(current_user, nspowner, 'MEMBER')") == 0)
                #expect(try await F.int(conn, "SELECT count(*) FROM pg_proc WHERE pg_has_role(current_user, proowner, 'MEMBER')") == 0)
                // And it cannot create tables of its own.
                #expect(await F.failure { try await conn.run("CREATE TABLE public.sneaky (id int)") }?.state == "42501")

                // Every table in public/auth with an agency_id column (plus agencies itself) has RLS enabled AND forced,
                // and a policy on app_agency_id(): computed from the catalog, so a new table without them fails here.
                let rows = try await conn.run(
                    """
                    SELECT n.nspname || '.' || c.relname, c.relrowsecurity, c.relforcerowsecurity,
                           (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid),
                           (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid AND pg_get_expr(p.polqual, p.polrelid) LIKE '%app_agency_id()%')
                    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                    WHERE n.nspname IN ('public', 'auth') AND c.relkind IN ('r', 'p')
                      AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'agency_id' AND a.attnum > 0 AND NOT
                          a.attisdropped)
                           OR (n.nspname = 'public' AND c.relname = 'agencies'))
                    ORDER BY 1
                    """
                ).collect().map { try $0.decode((String, Bool, Bool, Int, Int).self) }
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
                let a = try await Self.seed(conn)
                let b = try await Self.seed(conn)

                // The rows exist (a superuser bypasses RLS)...
                try await F.withConnection(TestEnv.adminURL(database: db)) { admin async throws in
                    for (table, column) in Self.tenantTables {
                        for agency in [a.agency, b.agency] {
                            let n = try await F.int(
                                admin,
                                PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table) WHERE \(column) = '\(agency.uuidString)'")
                            )
                            #expect(n >= 1, "\(table) has no seeded row")
                        }
                    }
                }
                // ...yet without app.agency_id the runtime role sees none: on this connection after the seeding
                // transactions committed (a local setting does not leak), on a fresh connection, and in a transaction.
                try await F.withConnection(TestEnv.runtimeURL(db)) { fresh async throws in
                    for c in [conn, fresh] {
                        for (table, _) in Self.tenantTables {
                            #expect(
                                try await F.int(c, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)")) == 0,
                                "\(table) visible without an agency"
                            )
                        }
                    }
                }
                try await F.scoped(conn) { () async throws in
                    for (table, _) in Self.tenantTables {
                        #expect(
                            try await F.int(conn, PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(table)")) == 0,
                            "\(table) visible with an empty scope"
                        )
                    }
                }

                // With agency A: A's rows, never B's.
                try await F.scoped(conn, agency: a.agency) { () async throws in
                    for (table, column) in Self.tenantTables {
                        let (own, other) = try await conn.run(
                            PostgresQuery(
                                unsafeSQL: """
                                    SELECT count(*) FILTER (WHERE \(column) = '\(a.agency.uuidString)'),
                                        count(*) FILTER (WHERE \(column) <> '\(a.agency.uuidString)') FROM \(table)
                                    """
                            )
                        ).collect().first!.decode((Int, Int).self)
                        #expect(own >= 1, "\(table): own rows invisible")
                        #expect(other == 0, "\(table): another agency's rows visible")
                    }
                    // B's rows cannot be changed or deleted either: they are filtered out.
                    #expect(try await conn.run("UPDATE properties SET name = 'taken' WHERE agency_id = \(b.agency) RETURNING id").collect().isEmpty)
                    #expect(try await conn.run("DELETE FROM bookings WHERE agency_id = \(b.agency) RETURNING id").collect().isEmpty)
                    #expect(try await conn.run("DELETE FROM team_members WHERE user_id = \(b.user) RETURNING id").collect().isEmpty)
                }

                // With agency A, a row for agency B is rejected by WITH CHECK, table by table, and so is moving a row to B.
                let A = a.agency
                let B = b.agency
                let crossInserts: [(String, PostgresQuery)] = [
                    ("agencies", "INSERT INTO agencies (id, name) VALUES (\(UUID()), 'Other')"),
                    ("properties", "INSERT INTO properties (agency_id, name, max_guests) VALUES (\(B), 'Villa', 2)"),
                    (
                        "bookings",
                        """
                        INSERT INTO bookings (agency_id, property_id, guest_name, check_in, check_out, guests) VALUES (\(B), \(b.property), 'G', \
                        '2031-01-01', '2031-01-02', 1)
                        """
                    ),
                    ("team_members", "INSERT INTO team_members (agency_id, user_id, role) VALUES (\(B), \(a.user), 'staff')"),
                    (
                        "channel_connections",
                        """
                        INSERT INTO channel_connections (agency_id, property_id, channel, external_listing_id) VALUES (\(B), \(b.property), \
                        'vrbo', 'L-2')
                        """
                    ),
                    ("audit_log", "INSERT INTO audit_log (agency_id, action) VALUES (\(B), 'forged')"),
                    (
                        "idempotency_keys",
                        """
                        INSERT INTO idempotency_keys (agency_id, user_id, key, request_method, request_path, request_hash, \
                        expires_at) VALUES (\(B), \(a.user), 'k', 'POST', '/x', 'h', now() + interval '1 hour')
                        """
                    ),
                    ("agency_features", "INSERT INTO agency_features (agency_id, feature_name) VALUES (\(B), 'owner_portal')"),
                    ("jobs", "INSERT INTO jobs (kind, agency_id) VALUES ('test', \(B))"),
                    (
                        "webhook_endpoints",
                        "INSERT INTO webhook_endpoints (agency_id, url, events, secret) VALUES (\(B), 'https://h.test', '{booking.created}', 's')"
                    ),
                    ("webhook_events", "INSERT INTO webhook_events (agency_id, type, payload) VALUES (\(B), 'booking.created', '{}')"),
                    ("webhook_deliveries", "INSERT INTO webhook_deliveries (agency_id, endpoint_id, event_id) VALUES (\(B), \(UUID()), \(UUID()))"),
                    (
                        "blocks",
                        """
                        INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind) VALUES (\(B), \(b.property), '2031-05-01', \
                        '2031-05-02', 'hold')
                        """
                    ),
                    (
                        "occupancy",
                        """
                        INSERT INTO occupancy (agency_id, property_id, nights, block_id) VALUES (\(B), \(b.property), '[2031-06-01,2031-06-02)', \
                        \(UUID()))
                        """
                    ),
                    (
                        "invitations",
                        "INSERT INTO invitations (agency_id, email, role, expires_at) VALUES (\(B), 'x@y.z', 'staff', now() + interval '1 day')"
                    ),
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
                let a = try await Self.seed(conn)
                let b = try await Self.seed(conn)
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
