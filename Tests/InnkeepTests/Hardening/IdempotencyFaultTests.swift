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

/// SPEC §7, §14: keys per agency and user; a key whose request lost the database is released; a write
/// that committed is never repeated by its retry.
@Suite(.serialized) struct IdempotencyFaultTests {
    /// Makes chosen statements slow in the shared test database, as a failing database would: a BEFORE INSERT
    /// trigger (the handler overruns its deadline) and a deferred one (the COMMIT overruns it) on bookings, whose
    /// guest names opt in, and a BEFORE INSERT trigger on the claim of an `Idempotency-Key`, whose keys opt in.
    static func installSlowTriggers() async throws {
        try await SharedDatabase.shared.prepare()
        let conn = try await PostgresConnection.open(TestEnv.ownerURL(SharedDatabase.name), logger: TestEnv.logger)
        defer { Task { try? await conn.close() } }
        try await conn.run(
            PostgresQuery(
                unsafeSQL: """
                    CREATE TABLE IF NOT EXISTS hardening_test_slow (guest_name text PRIMARY KEY)
                    """
            )
        )
        try await conn.run(
            PostgresQuery(
                unsafeSQL: """
                    CREATE OR REPLACE FUNCTION hardening_test_sleep() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
                    BEGIN  -- TG_ARGV[0]: the column of the new row that opts in
                        IF EXISTS (SELECT 1 FROM hardening_test_slow WHERE guest_name = to_jsonb(NEW) ->> TG_ARGV[0]) THEN
                            PERFORM pg_sleep(2);
                        END IF;
                        RETURN NEW;
                    END $$
                    """
            )
        )
        try await conn.run(PostgresQuery(unsafeSQL: "DROP TRIGGER IF EXISTS hardening_test_slow_insert ON bookings"))
        try await conn.run(
            PostgresQuery(
                unsafeSQL: """
                    CREATE TRIGGER hardening_test_slow_insert BEFORE INSERT ON bookings FOR EACH ROW
                    WHEN (NEW.guest_name LIKE 'slow-insert-%') EXECUTE FUNCTION hardening_test_sleep('guest_name')
                    """
            )
        )
        try await conn.run(PostgresQuery(unsafeSQL: "DROP TRIGGER IF EXISTS hardening_test_slow_commit ON bookings"))
        try await conn.run(
            PostgresQuery(
                unsafeSQL: """
                    CREATE CONSTRAINT TRIGGER hardening_test_slow_commit AFTER INSERT ON bookings DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
                    WHEN (NEW.guest_name LIKE 'slow-commit-%') EXECUTE FUNCTION hardening_test_sleep('guest_name')
                    """
            )
        )
        try await conn.run(PostgresQuery(unsafeSQL: "DROP TRIGGER IF EXISTS hardening_test_slow_claim ON idempotency_keys"))
        try await conn.run(
            PostgresQuery(
                unsafeSQL: """
                    CREATE TRIGGER hardening_test_slow_claim BEFORE INSERT ON idempotency_keys FOR EACH ROW
                    WHEN (NEW.key LIKE 'slow-claim-%') EXECUTE FUNCTION hardening_test_sleep('key')
                    """
            )
        )
        try await conn.run(PostgresQuery(unsafeSQL: "DROP TRIGGER IF EXISTS hardening_test_slow_answer ON idempotency_keys"))
        try await conn.run(
            PostgresQuery(
                unsafeSQL: """
                    CREATE TRIGGER hardening_test_slow_answer BEFORE UPDATE ON idempotency_keys FOR EACH ROW
                    WHEN (NEW.key LIKE 'slow-answer-%') EXECUTE FUNCTION hardening_test_sleep('key')
                    """
            )
        )
    }

    static func slow(_ guest: String, _ on: Bool) async throws {
        let conn = try await PostgresConnection.open(TestEnv.ownerURL(SharedDatabase.name), logger: TestEnv.logger)
        defer { Task { try? await conn.close() } }
        if on {
            try await conn.run("INSERT INTO hardening_test_slow (guest_name) VALUES (\(guest)) ON CONFLICT DO NOTHING")
        } else {
            try await conn.run("DELETE FROM hardening_test_slow WHERE guest_name = \(guest)")
        }
    }

    static func booking(_ property: UUID, _ guest: String, day: Int) -> JSONValue {
        [
            "property_id": JSONValue(property), "guest_name": .string(guest), "check_in": .string(futureDay(day, year: 2045)),
            "check_out": .string(futureDay(day + 2, year: 2045)), "guests": 1,
        ]
    }

    @Test func keysAreScopedPerAgencyAndUser() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let second = try await api.signup()
            try await api.addMember(second, role: .admin, agency: agency.id, adminToken: agency.admin.token)
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "shared-\(UUID())"]
            let one = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: ["name": "One", "max_guests": 2],
                headers: key
            )
            let two = try await api.send(
                .post,
                "/api/v1/properties",
                token: second.token,
                agency: agency.id,
                json: ["name": "Two", "max_guests": 3],
                headers: key
            )
            #expect(one.status == .created && two.status == .created, "\(two.raw)")
            #expect(two.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            #expect(one["id"] != two["id"])
            // Each user's retry replays their own.
            let retry = try await api.send(
                .post,
                "/api/v1/properties",
                token: second.token,
                agency: agency.id,
                json: ["name": "Two", "max_guests": 3],
                headers: key
            )
            #expect(retry.raw == two.raw)
        }
    }

    @Test func aKeyWhoseRequestLostTheDatabaseIsReleasedAndItsRetryRuns() async throws {
        try await HeavyLoad.exclusive {
            try await Self.installSlowTriggers()
            let guest = "slow-insert-\(UUID())"
            try await Self.slow(guest, true)
            try await withApp(databaseDeadline: TestEnv.productionDeadline) { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "lost-\(UUID())"]
                let body = Self.booking(property, guest, day: Int.random(in: 0..<300))
                let (failed, took) = try await timed {
                    try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: key)
                }
                #expect(failed.status == .serviceUnavailable, "\(failed.raw)")
                #expect(failed.errorCode == "DATABASE_UNAVAILABLE")
                #expect(took < .seconds(2), "the 503 took \(took)")
                try await Self.slow(guest, false)
                // The database is back: within a few seconds the key is released and the retry runs (not 409 forever).
                let clock = ContinuousClock()
                let start = clock.now
                var retry = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: key)
                while retry.errorCode == "IDEMPOTENCY_REQUEST_IN_PROGRESS", clock.now - start < .seconds(5) {
                    try await Task.sleep(for: .milliseconds(200))
                    retry = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: key)
                }
                #expect(retry.status == .created, "\(retry.raw)")
                #expect(try await api.bookings(agency, property: property).filter { $0["guest_name"] == .string(guest) }.count == 1)
            }
        }
    }

    /// The claim of a key is a statement of its own (migration 0020), which commits when it ends: one that ends
    /// after the API answered 503 must claim nothing, or the retries of the next minute would meet the key "in
    /// progress" instead of running.
    @Test func aClaimThatOutlivesItsDeadlineHoldsNoKey() async throws {
        try await HeavyLoad.exclusive {
            try await Self.installSlowTriggers()
            let key = "slow-claim-\(UUID())"
            try await Self.slow(key, true)
            try await withApp(databaseDeadline: TestEnv.productionDeadline) { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let body = Self.booking(property, "claim-\(UUID())", day: Int.random(in: 600..<900))
                let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: key]
                let (failed, took) = try await timed {
                    try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: headers)
                }
                #expect(failed.errorCode == "DATABASE_UNAVAILABLE", "\(failed.raw)")
                #expect(took < .seconds(2), "the 503 took \(took)")
                try await Self.slow(key, false)
                try await Task.sleep(for: .seconds(2))  // the slow claim's statement ends meanwhile
                #expect(try await api.idempotencyRow(agency.id, key) == nil, "a claim committed after its request's 503")
                let retry = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: headers)
                #expect(retry.status == .created, "\(retry.raw)")
                #expect(retry.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            }
        }
    }

    /// A 4xx is kept in a transaction of its own after the action (`Idempotency.run`): when that one fails, the key
    /// is released as after a 5xx, and the retry runs again at once instead of meeting "in progress" for a minute.
    @Test func aKeyWhoseAnswerCouldNotBeKeptIsReleased() async throws {
        try await HeavyLoad.exclusive {
            try await Self.installSlowTriggers()
            let key = "slow-answer-\(UUID())"
            try await Self.slow(key, true)
            try await withApp(databaseDeadline: TestEnv.productionDeadline) { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let body = Self.booking(property, "answer-\(UUID())", day: Int.random(in: 900..<1200))
                let taken = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body)
                #expect(taken.status == .created, "\(taken.raw)")
                let headers: HTTPFields = [HTTPField.Name("Idempotency-Key")!: key]
                let failed = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: headers)
                #expect(failed.errorCode == "DATABASE_UNAVAILABLE", "the 409 could not be kept: \(failed.raw)")
                try await Self.slow(key, false)
                try await eventually("the key released", timeout: .seconds(5)) { try await api.idempotencyRow(agency.id, key) == nil }
                let retry = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: headers)
                #expect(retry.errorCode == "BOOKING_CONFLICT", "\(retry.raw)")
                #expect(retry.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            }
        }
    }

    @Test func aWriteThatCommittedAfterItsDeadlineIsNeverRepeatedByItsRetry() async throws {
        try await HeavyLoad.exclusive {
            try await Self.installSlowTriggers()
            let guest = "slow-commit-\(UUID())"
            try await Self.slow(guest, true)
            try await withApp(databaseDeadline: TestEnv.productionDeadline) { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "commit-\(UUID())"]
                let body = Self.booking(property, guest, day: Int.random(in: 300..<600))
                let (first, took) = try await timed {
                    try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: key)
                }
                #expect(first.status == .serviceUnavailable, "the COMMIT outlived the deadline: \(first.raw)")
                #expect(took < .seconds(2), "the 503 took \(took)")
                try await Self.slow(guest, false)
                try await Task.sleep(for: .seconds(2))  // the COMMIT lands (or not) meanwhile
                var retry = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: key)
                let clock = ContinuousClock()
                let start = clock.now
                while retry.errorCode == "IDEMPOTENCY_REQUEST_IN_PROGRESS", clock.now - start < .seconds(5) {
                    try await Task.sleep(for: .milliseconds(200))
                    retry = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: key)
                }
                // Whether the first COMMIT landed (the retry replays it) or not (the retry runs it): exactly one booking.
                #expect(retry.status == .created, "\(retry.raw)")
                let bookings = try await api.bookings(agency, property: property).filter { $0["guest_name"] == .string(guest) }
                #expect(bookings.count == 1, "the retry repeated a committed write: \(bookings.count) bookings")
                #expect(try await api.auditEntries(agency, "action=booking.create").count == 1)
                print(
                    """
                    IdempotencyFaultTests: retry after a COMMIT past its deadline → \(retry.status), \
                    replayed: \(retry.headers[HTTPField.Name("Idempotent-Replayed")!] ?? "no")
                    """
                )
            }
        }
    }
}
