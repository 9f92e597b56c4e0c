import Foundation
import PostgresNIO
import Testing

@testable import Innkeep

/// `DATABASE_PREPARED_STATEMENTS` (issue 17): the hot paths' fixed statements (`FixedStatement`) go as named prepared
/// statements, or unnamed with the setting off, and answer the same either way.
@Suite struct PreparedStatementTests {
    /// A fixed statement of the tests' own: one value in, one out.
    struct Echo: FixedStatement {
        static let name = "test_echo"
        static let sql = "SELECT $1::text || '!'"
        static let bindingDataTypes: [PostgresDataType] = [.text]
        let value: String
        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings()
            b.append(value)
            return b
        }
    }

    /// Reads a table that a test creates, changes and drops.
    struct Probe: FixedStatement {
        static let name = "test_probe"
        static let sql = "SELECT v FROM prepared_statement_probe"
        func makeBindings() -> PostgresBindings { PostgresBindings() }
    }

    /// A caller `app_admit` refuses: IK403, an answer of the statement's run.
    struct Refused: FixedStatement {
        static let name = "test_refused"
        static let sql = "SELECT items FROM app_list_properties_json($1, NULL::uuid, ARRAY['admin'], NULL::text, NULL::int8, NULL::uuid, 1)"
        static let bindingDataTypes: [PostgresDataType] = [.uuid]
        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings()
            b.append(UUID())
            return b
        }
    }

    /// Prepared statements are kept per connection by name: two of one name would run the first one's SQL. The list is
    /// written by hand: a new `FixedStatement` belongs in it.
    @Test func everyStatementHasANameOfItsOwn() {
        let statements: [any FixedStatement.Type] = [
            CalendarRepository.Statement.self, PropertyRepository.ListStatement.self, PropertyRepository.AvailabilityStatement.self,
            ICalFeedRepository.FeedStatement.self, BookingRepository.ListStatement.self, BookingRepository.CreateStatement.self,
            IdempotencyRepository.ClaimStatement.self, Echo.self, Probe.self, Refused.self,
        ]
        #expect(Set(statements.map { $0.name }).count == statements.count)
        #expect(Set(statements.map { $0.sql }).count == statements.count)
    }

    @Test func theSettingIsOnUnlessTurnedOff() throws {
        let base = TestEnv.environment(database: "x")
        #expect(try AppConfig(environment: base).preparedStatements)
        for (raw, on) in [("false", false), ("0", false), ("no", false), ("true", true), ("YES", true)] {
            #expect(try AppConfig(environment: base.merging(["DATABASE_PREPARED_STATEMENTS": raw]) { $1 }).preparedStatements == on)
        }
        #expect(throws: ConfigError(variable: "DATABASE_PREPARED_STATEMENTS", problem: "must be true or false")) {
            try AppConfig(environment: base.merging(["DATABASE_PREPARED_STATEMENTS": "sometimes"]) { $1 })
        }
    }

    @Test(arguments: [true, false])
    func aFixedStatementIsParsedOncePerConnectionOnlyWhenPrepared(prepared: Bool) async throws {
        try await SharedDatabase.shared.prepare()
        let db = Database(
            url: TestEnv.runtimeURL(SharedDatabase.name),
            logger: TestEnv.logger,
            maximumConnections: 1,
            deadline: TestEnv.functionalDeadline,
            preparedStatements: prepared
        )
        let (answers, kept) = try await db.statement { conn in
            var answers: [String] = []
            for value in ["a", "b", "c"] { answers.append(try await db.send(Echo(value: value), on: conn)[0].decode(String.self)) }
            let kept = try await conn.query("SELECT name, statement FROM pg_prepared_statements", logger: conn.logger).collect()
                .map { try $0.decode((String, String).self) }
            return (answers, kept)
        }
        #expect(answers == ["a!", "b!", "c!"])
        #expect(kept.map(\.0) == (prepared ? [Echo.name] : []))
        #expect(kept.map(\.1) == (prepared ? [Echo.sql] : []))
    }

    /// PostgresNIO keeps a failed preparation's error for the connection's life, and a prepared statement whose
    /// result type changed fails on every call: after either, the pool's next lease is a new connection. The changed
    /// result type is refused before the statement runs, so `Database.statement` tries again, past every pooled
    /// connection that holds it stale. An answer of the statement's run (IK403) keeps the connection.
    @Test func aConnectionWhosePreparedStatementWentBadIsReplaced() async throws {
        try await SharedDatabase.shared.prepare()
        let deadline = TestEnv.functionalDeadline
        let owner = Database(url: TestEnv.ownerURL(SharedDatabase.name), logger: TestEnv.logger, maximumConnections: 1, deadline: deadline)
        let db = Database(url: TestEnv.runtimeURL(SharedDatabase.name), logger: TestEnv.logger, maximumConnections: 2, deadline: deadline)
        func ddl(_ sql: String) async throws {
            _ = try await owner.statement { conn in try await conn.query(PostgresQuery(unsafeSQL: sql), logger: conn.logger) }
        }
        @Sendable func pid(_ conn: PostgresConnection) async throws -> Int32 {
            try await conn.query("SELECT pg_backend_pid()", logger: conn.logger).collect()[0].decode(Int32.self)
        }
        /// The probe's answer and the server process that answered, or its error's SQLSTATE.
        func probe() async throws -> (answer: String, pid: Int32?) {
            do {
                return try await db.statement { conn in
                    let answer = try await db.send(Probe(), on: conn).first.map { String(try $0.decode(Int.self)) } ?? "no row"
                    return (answer, try await pid(conn))
                }
            } catch let error as PSQLError {
                return (error.sqlState ?? "\(error)", nil)
            }
        }
        try await ddl("DROP TABLE IF EXISTS prepared_statement_probe")
        /// The probe on a connection held a while, so that two at once take both pooled connections.
        @Sendable func heldProbe() async throws -> Int32 {
            try await db.statement { conn in
                _ = try await db.send(Probe(), on: conn)
                _ = try await conn.query("SELECT pg_sleep(0.3)", logger: conn.logger).collect()
                return try await pid(conn)
            }
        }
        func both() async throws -> Set<Int32> {
            async let one = heldProbe()
            async let two = heldProbe()
            return [try await one, try await two]
        }
        let first = try await db.statement { conn in try await pid(conn) }
        #expect(try await probe().answer == "42P01")
        try await ddl("CREATE TABLE prepared_statement_probe (v integer)")
        try await ddl("INSERT INTO prepared_statement_probe VALUES (7)")
        try await ddl("GRANT SELECT ON prepared_statement_probe TO innkeep_api")
        let created = try await probe()
        #expect(created.answer == "7")
        #expect(created.pid != first)
        let warm = try await both()
        let createdPid = try #require(created.pid)
        #expect(warm.count == 2 && warm.contains(createdPid), "a statement that worked keeps its connection")
        do {
            _ = try await db.statement { conn in try await db.send(Refused(), on: conn) }
            Issue.record("a stranger was admitted")
        } catch {
            #expect(isPostgresError(error, state: TenantEntry.notAdmitted))
        }
        #expect(try await both() == warm, "an answer of the run keeps its connection")
        try await ddl("ALTER TABLE prepared_statement_probe ALTER COLUMN v TYPE bigint")
        let changed = try await probe()
        #expect(changed.answer == "7")
        let changedPid = try #require(changed.pid)
        #expect(!warm.contains(changedPid))
        #expect(try await probe().pid == changed.pid)
        try await ddl("DROP TABLE prepared_statement_probe")
    }

    /// Every hot path's statement, sent through the API both ways: the creates (with and without a key, and the
    /// key's replay), both lists, the calendar, the availability search and the iCal export.
    @Test(arguments: [true, false])
    func everyHotPathAnswersTheSameEitherWay(prepared: Bool) async throws {
        try await withApp(env: ["DATABASE_PREPARED_STATEMENTS": prepared ? "true" : "false"]) { api in
            #expect(api.services.db.preparedStatements == prepared)
            let a = try await api.makeAgency()
            let taken = try await api.createProperty(a)
            let free = try await api.createProperty(a)
            let answered = OneStatementReadTests.count(api, "answered")
            let plain = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: Fixtures.bookingBody(taken, 10))
            #expect(plain.status == .created, "\(plain.raw)")
            let key = Fixtures.key(Fixtures.freshKey())
            let keyed = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: Fixtures.bookingBody(taken, 20), headers: key)
            #expect(keyed.status == .created, "\(keyed.raw)")
            let replay = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: Fixtures.bookingBody(taken, 20), headers: key)
            #expect(replay.raw == keyed.raw && replay.headers[.idempotentReplayed] == "true")

            let properties = try await api.send(.get, "/api/v1/properties?limit=50", token: a.admin.token)
            #expect(Set(properties.data.compactMap { $0["id"]?.uuid }) == [taken, free])
            let bookings = try await api.send(
                .get,
                "/api/v1/bookings?property_id=\(taken)&from=\(Fixtures.day(0))&to=\(Fixtures.day(30))",
                token: a.admin.token
            )
            #expect(Set(bookings.data.compactMap { $0["id"]?.uuid }) == Set([plain, keyed].compactMap { $0["id"]?.uuid }))
            let calendar = try await api.send(
                .get,
                "/api/v1/properties/\(taken)/calendar?from=\(Fixtures.day(9))&to=\(Fixtures.day(13))",
                token: a.admin.token
            )
            #expect(calendar["days"]?.arrayValue?.map { $0["status"]?.stringValue ?? "" } == ["available", "booked", "booked", "available"])
            let search = try await api.send(
                .get,
                "/api/v1/availability?check_in=\(Fixtures.day(10))&check_out=\(Fixtures.day(12))&guests=2",
                token: a.admin.token
            )
            #expect(search.data.compactMap { $0["id"]?.uuid } == [free])
            // One statement each, and two for the keyed create (its claim, then the booking with its answer).
            #expect(OneStatementReadTests.count(api, "answered") == answered + 8)

            let channel = try await api.createConnection(a, property: taken)
            let exportURL = try await api.send(.get, "/api/v1/channel-connections/\(channel)", token: a.admin.token)["export_url"]
            let feed = try await api.send(.get, try #require(exportURL?.stringValue.flatMap(URL.init(string:))?.path))
            #expect(feed.status == .ok)
            #expect(feed.raw.components(separatedBy: "BEGIN:VEVENT").count == 3, "\(feed.raw)")
            #expect(feed.raw.contains("DTSTART;VALUE=DATE:\(Fixtures.day(10).replacingOccurrences(of: "-", with: ""))"))
        }
    }
}
