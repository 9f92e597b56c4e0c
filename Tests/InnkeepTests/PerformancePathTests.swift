import Foundation
import HTTPTypes
import InnkeepRedis
import Logging
import PostgresNIO
import Testing

@testable import Innkeep

/// The cheaper request path of issue 17 (docs/benchmarks.md) keeps its guarantees: the one statement that
/// opens a tenant request sets what row-level security reads, and a request that skipped it sees nothing.
@Suite struct RequestEntryTests {
    struct Entered: Sendable {
        let memberships: [UUID]?
        let agency: String
        let user: String
        let worker: String
        let visible: [UUID]
    }

    /// What row-level security would read on `conn` now: `app.agency_id`, `app.user_id`, `app.worker` ("" when unset).
    static func settings(_ conn: PostgresConnection) async throws -> [String] {
        let row = try await conn.run(
            "SELECT current_setting('app.agency_id', true), current_setting('app.user_id', true), current_setting('app.worker', true)"
        ).collect()[0].decode((String?, String?, String?).self)
        return [row.0 ?? "", row.1 ?? "", row.2 ?? ""]
    }

    /// Opens an `.entering` transaction, runs `app_enter_request` and reads back the settings and the
    /// properties row-level security lets through.
    static func enter(_ api: APIClient, user: UUID, agency: UUID?) async throws -> Entered {
        let scope = Database.Scope.entering(user: user, agency: agency)
        return try await api.services.db.transaction(scope) { conn in
            let transaction = RequestTransaction(connection: conn, scope: scope)
            let memberships = try await transaction.enter()
            let settings = try await Self.settings(conn)
            let visible = try await conn.run("SELECT id FROM properties").collect().map { try $0.decode(UUID.self) }
            return Entered(
                memberships: memberships?.map(\.agencyId),
                agency: settings[0],
                user: settings[1],
                worker: settings[2],
                visible: visible
            )
        }
    }

    @Test func theOnlyMembershipChoosesTheAgencyAndRLSShowsOnlyItsRows() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let propertyA = try await api.createProperty(a)
            let propertyB = try await api.createProperty(b)
            let entered = try await Self.enter(api, user: a.admin.id, agency: nil)
            #expect(entered.memberships == [a.id])
            #expect(entered.agency == a.id.uuidString.lowercased())
            #expect(entered.user == a.admin.id.uuidString.lowercased())
            #expect(entered.worker == "")
            #expect(entered.visible.contains(propertyA))
            #expect(!entered.visible.contains(propertyB))
        }
    }

    @Test func aForeignAgencyInTheHeaderIsNotAMembershipAndIsRefused() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let entered = try await Self.enter(api, user: a.admin.id, agency: b.id)
            // The function only returns the caller's own memberships; the API refuses before any tenant statement.
            #expect(entered.memberships == [a.id])
            let r = try await api.send(.get, "/api/v1/properties", token: a.admin.token, agency: b.id)
            #expect(r.status == .forbidden)
            #expect(r.errorCode == "AGENCY_ACCESS_DENIED")
            let own = try await api.send(.get, "/api/v1/properties", token: a.admin.token, agency: a.id)
            #expect(own.status == .ok)
        }
    }

    @Test func severalMembershipsWithoutHeaderLeaveTheAgencyUnsetSoNothingIsVisible() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            _ = try await api.createProperty(a)
            _ = try await api.createProperty(b)
            let staff = a.members[.staff]!
            try await api.addMember(staff, role: .staff, agency: b.id, adminToken: b.admin.token)
            let entered = try await Self.enter(api, user: staff.id, agency: nil)
            #expect(Set(entered.memberships ?? []) == [a.id, b.id])
            #expect(entered.agency == "")
            #expect(entered.visible.isEmpty)
            let r = try await api.send(.get, "/api/v1/properties", token: staff.token)
            #expect(r.errorCode == "AGENCY_REQUIRED")
        }
    }

    @Test func anUnknownUserHasNoRowsAndAUserWithoutAgencyOneRowOfNulls() async throws {
        try await withApp { api in
            let nobody = try await Self.enter(api, user: UUID(), agency: nil)
            #expect(nobody.memberships == nil)
            #expect(nobody.visible.isEmpty)
            let loner = try await api.signup()
            let entered = try await Self.enter(api, user: loner.id, agency: nil)
            #expect(entered.memberships == [])
            #expect(entered.agency == "")
        }
    }

    /// A transaction opened to be entered that never was runs without agency or user: it fails closed.
    @Test func aTransactionThatDidNotEnterSeesNoTenantRows() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            _ = try await api.createProperty(a)
            let count = try await api.services.db.transaction(.entering(user: a.admin.id, agency: a.id)) { conn in
                try await conn.run("SELECT count(*) FROM properties").collect()[0].decode(Int.self)
            }
            #expect(count == 0)
        }
    }
}

/// A hot list admits its caller and reads in one statement (migration 0016, `TenantEntry`), with the guarantees
/// of the full path: the agency only for a member with an allowed role, an owner narrowed to their own
/// properties, no settings left behind, and every refusal answered by the full path.
@Suite struct OneStatementReadTests {
    static let everyone = Role.allCases.map(\.rawValue)

    /// `app_list_properties_json` as the API sends it, then the settings the same connection sees afterwards.
    static func list(_ api: APIClient, user: UUID, agency: UUID?, roles: [String] = everyone) async throws -> (ids: [UUID], after: [String]) {
        try await api.services.db.statement { conn in
            let items = try await conn.run(
                """
                SELECT items FROM app_list_properties_json(\(user), \(agency)::uuid, \(roles), NULL::text, NULL::int8, NULL::uuid, 100)
                """
            ).collect()[0].decode(String.self)
            let ids = (JSONValue.parse(Array("[\(items)]".utf8))?.arrayValue ?? []).compactMap { $0["id"]?.uuid }
            return (ids, try await RequestEntryTests.settings(conn))
        }
    }

    static func refused(_ api: APIClient, user: UUID, agency: UUID?, roles: [String] = everyone) async -> Bool {
        do {
            _ = try await list(api, user: user, agency: agency, roles: roles)
            return false
        } catch {
            return isPostgresError(error, state: TenantEntry.notAdmitted)
        }
    }

    @Test func aMemberReadsOnlyTheirAgencyAnOwnerOnlyTheirOwnAndNoSettingOutlivesTheStatement() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let owner = a.members[.owner]!
            let owned = try await api.createProperty(a, owner: owner.id)
            let other = try await api.createProperty(a)
            let foreign = try await api.createProperty(b)
            let admin = try await Self.list(api, user: a.admin.id, agency: nil)
            #expect(Set(admin.ids) == [owned, other])
            #expect(admin.after == ["", "", ""])
            let withHeader = try await Self.list(api, user: a.admin.id, agency: a.id)
            #expect(Set(withHeader.ids) == [owned, other])
            #expect(!withHeader.ids.contains(foreign))
            let own = try await Self.list(api, user: owner.id, agency: a.id)
            #expect(own.ids == [owned])
        }
    }

    @Test func everyCallerTheFullPathWouldRefuseIsRefusedWithIK403() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            _ = try await api.createProperty(a)
            #expect(await Self.refused(api, user: a.admin.id, agency: b.id))
            #expect(await Self.refused(api, user: UUID(), agency: nil))
            #expect(await Self.refused(api, user: UUID(), agency: a.id))
            #expect(await Self.refused(api, user: a.members[.staff]!.id, agency: a.id, roles: ["admin", "manager"]))
            let staff = a.members[.staff]!
            try await api.addMember(staff, role: .staff, agency: b.id, adminToken: b.admin.token)
            #expect(await Self.refused(api, user: staff.id, agency: nil))
            #expect(try await Self.list(api, user: staff.id, agency: b.id).ids.isEmpty)
            let loner = try await api.signup()
            #expect(await Self.refused(api, user: loner.id, agency: nil))
        }
    }

    static func count(_ api: APIClient, _ outcome: String) -> Int {
        let line = api.services.metrics.render().split(separator: "\n").first { $0.hasPrefix("one_statement_requests_total{outcome=\"\(outcome)\"}") }
        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? -1
    }

    /// The bookings list takes the same path: an owner sees the bookings of their own properties only, the
    /// filters and the cursor work as on the full path, and a foreign agency is refused the full way.
    @Test func bookingsAreListedInOneStatementWithTheOwnerScopeAndFilters() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let owner = a.members[.owner]!
            let owned = try await api.createProperty(a, owner: owner.id)
            let other = try await api.createProperty(a)
            let first = try await api.createBooking(a, property: owned, checkIn: "2031-03-01", checkOut: "2031-03-04")
            let second = try await api.createBooking(a, property: other, checkIn: "2031-03-10", checkOut: "2031-03-12")
            let third = try await api.createBooking(a, property: owned, checkIn: "2031-04-01", checkOut: "2031-04-02")
            let ids = [first, second, third].compactMap { $0["id"]?.uuid }
            #expect(ids.count == 3)
            let answered = Self.count(api, "answered")

            let mine = try await api.send(.get, "/api/v1/bookings", token: owner.token)
            #expect(mine.data.compactMap { $0["id"]?.uuid } == [ids[2], ids[0]])
            let march = try await api.send(.get, "/api/v1/bookings?from=2031-03-03&to=2031-03-31", token: a.admin.token)
            #expect(march.data.compactMap { $0["id"]?.uuid } == [ids[1], ids[0]])
            let page = try await api.send(.get, "/api/v1/bookings?limit=2&property_id=\(owned)", token: a.admin.token)
            #expect(page.data.compactMap { $0["id"]?.uuid } == [ids[2], ids[0]])
            #expect(page.json["next_cursor"] == .null)
            #expect(Self.count(api, "answered") == answered + 3)

            let fullPath = Self.count(api, "full_path")
            let foreign = try await api.send(.get, "/api/v1/bookings", token: b.admin.token, agency: a.id)
            #expect(foreign.errorCode == "AGENCY_ACCESS_DENIED")
            #expect(Self.count(api, "full_path") == fullPath + 1)
        }
    }

    /// Through the API: a member's list is answered by the one statement; every refusal goes the full way and
    /// gets the full path's exact error, and a malformed header or query never reaches the statement.
    @Test func theAPIAnswersMembersInOneStatementAndRefusalsTheFullWay() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let owner = a.members[.owner]!
            let owned = try await api.createProperty(a, owner: owner.id)
            _ = try await api.createProperty(a)
            let (answered, fullPath) = (Self.count(api, "answered"), Self.count(api, "full_path"))

            let mine = try await api.send(.get, "/api/v1/properties", token: owner.token)
            #expect(mine.status == .ok)
            #expect(mine.data.compactMap { $0["id"]?.uuid } == [owned])
            let all = try await api.send(.get, "/api/v1/properties?limit=1", token: a.admin.token, agency: a.id)
            #expect(all.data.count == 1)
            let cursor = all.json["next_cursor"]?.stringValue ?? ""
            let next = try await api.send(.get, "/api/v1/properties?limit=1&cursor=\(cursor)", token: a.admin.token, agency: a.id)
            #expect(next.data.count == 1 && next.data[0]["id"] != all.data[0]["id"])
            #expect(Self.count(api, "answered") == answered + 3)

            let foreign = try await api.send(.get, "/api/v1/properties", token: a.admin.token, agency: b.id)
            #expect(foreign.errorCode == "AGENCY_ACCESS_DENIED")
            #expect(Self.count(api, "full_path") == fullPath + 1)

            let badQuery = try await api.send(.get, "/api/v1/properties?status=nope", token: a.admin.token, agency: b.id)
            #expect(badQuery.errorCode == "AGENCY_ACCESS_DENIED")
            let badHeader = try await api.send(.get, "/api/v1/properties", token: a.admin.token, headers: [.agencyId: "nope"])
            #expect(badHeader.status == .unprocessableContent && badHeader.errorCode == "VALIDATION_ERROR")
            #expect(Self.count(api, "answered") == answered + 3)
            #expect(Self.count(api, "full_path") == fullPath + 1)
        }
    }
}

/// A booking create without an `Idempotency-Key` admits its caller and writes in one statement (migration 0018,
/// `app_create_booking`): the booking, its audit row and its event are what the full path writes, and every
/// booking the full path refuses is left to it, which answers exactly as before and writes nothing.
@Suite struct OneStatementCreateTests {
    static func count(_ api: APIClient, _ outcome: String) -> Int { OneStatementReadTests.count(api, outcome) }

    static func body(_ property: UUID, _ checkIn: String, _ checkOut: String, guests: Int = 2) -> JSONValue {
        [
            "property_id": JSONValue(property), "guest_name": "Zoë \"Q\" \u{01}\n✓", "guest_email": "zoe@example.com",
            "check_in": .string(checkIn), "check_out": .string(checkOut), "guests": .int(Int64(guests)), "source": "vrbo",
            "total_amount_cents": 123_456, "currency": "EUR", "notes": "tab\there \\ back",
        ]
    }

    /// The `booking.created` events of the agency, payload by booking id, and their deliveries.
    static func events(_ api: APIClient, _ agency: UUID) async throws -> (payloads: [UUID: JSONValue], deliveries: Int) {
        try await api.services.db.transaction(.tenant(agency, user: nil)) { conn in
            let rows = try await conn.run("SELECT payload::text FROM webhook_events WHERE agency_id = \(agency) AND type = 'booking.created'")
                .collect().map { try $0.decode(String.self) }
            var payloads: [UUID: JSONValue] = [:]
            for row in rows {
                let payload = JSONValue.parse(Array(row.utf8)) ?? .null
                if let id = payload["id"]?.uuid { payloads[id] = payload }
            }
            let deliveries = try await conn.run("SELECT count(*)::int FROM webhook_deliveries WHERE agency_id = \(agency)").collect()[0]
                .decode(Int.self)
            return (payloads, deliveries)
        }
    }

    @Test func aCreateInOneStatementWritesWhatTheFullPathWrites() async throws {
        // With ENFORCE_RBAC=false, staff may create bookings through the full path only: app_admit admits the
        // endpoint's roles and nothing else, so it is how a create that would succeed reaches the full path.
        try await withApp(env: privateURLs.merging(["ENFORCE_RBAC": "false"]) { $1 }) { api in
            let a = try await api.makeAgency()
            let property = try await api.createProperty(a)
            _ = try await api.createEndpoint(a, url: "http://127.0.0.1:9/created", events: ["booking.created"])
            let (answered, fullPath) = (Self.count(api, "answered"), Self.count(api, "full_path"))
            let staff = a.members[.staff]!

            let one = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: Self.body(property, "2032-01-01", "2032-01-04"))
            #expect(one.status == .created)
            #expect(Self.count(api, "answered") == answered + 1)
            let full = try await api.send(.post, "/api/v1/bookings", token: staff.token, json: Self.body(property, "2032-02-01", "2032-02-04"))
            #expect(full.status == .created)
            #expect(Self.count(api, "answered") == answered + 1 && Self.count(api, "full_path") == fullPath + 1)

            let events = try await Self.events(api, a.id)
            #expect(events.deliveries == 2)
            for (reply, checkIn, checkOut, user) in [(one, "2032-01-01", "2032-01-04", a.admin.id), (full, "2032-02-01", "2032-02-04", staff.id)] {
                let id = try #require(reply["id"]?.uuid)
                // The reply is the booking as its GET writes it, and the event carries the same object.
                let got = try await api.send(.get, "/api/v1/bookings/\(id)", token: a.admin.token)
                #expect(got.raw == reply.raw)
                #expect(
                    reply["created_by"]?.uuid == user && reply["status"] == "confirmed"
                        && reply["guest_name"] == Self.body(property, "", "")["guest_name"]
                )
                #expect(events.payloads[id] == reply.json)
                let audit = try await api.auditEntries(a, "resource_id=\(id)")
                #expect(audit.count == 1)
                #expect(audit.first?["action"] == "booking.create" && audit.first?["user_id"]?.uuid == user)
                #expect(audit.first?["resource_type"] == "booking")
                #expect(
                    audit.first?["details"] == ["property_id": JSONValue(property), "check_in": .string(checkIn), "check_out": .string(checkOut)]
                )
            }
            // Both paths write the same fields; only the ids, dates, times and creators differ.
            let differing = Set(one.json.objectKeys).filter { one.json[$0] != full.json[$0] }
            #expect(differing == ["id", "check_in", "check_out", "created_at", "created_by"])
        }
    }

    /// A create that loses a race on `occupancy_no_overlap` (the other booking commits while this statement waits
    /// on its row) fails with 23P01, writes nothing, and gets the full path's 409 naming the winner.
    @Test func aCreateThatLosesARaceGetsTheFullPathsConflict() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let property = try await api.createProperty(a)
            let winner = UUID()
            let (inserted, insertedSignal) = AsyncStream.makeStream(of: Void.self)
            let (release, releaseSignal) = AsyncStream.makeStream(of: Void.self)
            // The winner's transaction: its booking written, not yet committed.
            async let held: Void = api.services.db.transaction(.tenant(a.id, user: a.admin.id)) { conn in
                _ = try await conn.run(
                    """
                    INSERT INTO bookings (agency_id, id, property_id, guest_name, check_in, check_out, guests, created_by)
                    VALUES (\(a.id), \(winner), \(property), 'Winner', '2032-06-01'::date, '2032-06-04'::date, 2, \(a.admin.id))
                    """
                ).collect()
                insertedSignal.finish()
                for await _ in release {}
            }
            for await _ in inserted {}
            let fullPath = Self.count(api, "full_path")
            async let loser = api.send(.post, "/api/v1/bookings", token: a.admin.token, json: Self.body(property, "2032-06-03", "2032-06-05"))
            // Commit the winner once the loser's statement waits on its row (the guard saw nothing uncommitted).
            var waited = false
            for _ in 0..<200 where !waited {
                waited =
                    try await api.services.db.statement { conn in
                        try await conn.run(
                            "SELECT count(*)::int FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%app_create_booking%'"
                        ).collect()[0].decode(Int.self)
                    } > 0
                if !waited { try await Task.sleep(for: .milliseconds(25)) }
            }
            #expect(waited)
            releaseSignal.finish()
            try await held
            let r = try await loser
            #expect(r.status == .conflict && conflicting(r, "conflicting_booking_id") == winner, "\(r.raw)")
            #expect(Self.count(api, "full_path") == fullPath + 1)
            #expect(try await api.bookings(a, property: property).compactMap { $0["id"]?.uuid } == [winner])
        }
    }

    /// A create still running when the API stops waiting for it (its deadline: the client was answered 503)
    /// writes nothing, as the full path's transaction rolls back then.
    @Test func aCreatePastTheTimeTheAPIWaitsWritesNothing() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let property = try await api.createProperty(a)
            /// `app_create_booking` on its own, then the settings the same connection sees afterwards.
            @Sendable func create(budgetMilliseconds: Int) async throws -> [String] {
                try await api.services.db.statement { conn in
                    _ = try await conn.run(
                        """
                        SELECT app_create_booking(\(a.admin.id), \(a.id)::uuid, ARRAY['admin'], \(property), 'Late', NULL::text,
                            '2032-05-01'::date, '2032-05-03'::date, 2, 'direct', NULL::int8, NULL::text, NULL::text, \(budgetMilliseconds)::int)
                        """
                    ).collect()
                    return try await RequestEntryTests.settings(conn)
                }
            }
            let error = await #expect(throws: (any Error).self) { _ = try await create(budgetMilliseconds: 0) }
            // 57014 (query_canceled), which the API answers as 503 DATABASE_UNAVAILABLE, as it does a deadline.
            let unavailable = try #require(error as? DatabaseUnavailable)
            #expect(isPostgresError(unavailable.underlying, state: "57014"))
            #expect(try await api.bookings(a, property: property).isEmpty)
            #expect(try await api.auditEntries(a, "action=booking.create").isEmpty)
            let after = try await create(budgetMilliseconds: 1_000)
            #expect(try await api.bookings(a, property: property).count == 1)
            // app_admit's settings end with the statement: the next one on that connection has none.
            #expect(after == ["", "", ""])
        }
    }

    @Test func everyBookingTheFullPathRefusesIsLeftToItAndWritesNothing() async throws {
        try await withApp(env: privateURLs) { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            _ = try await api.createEndpoint(a, url: "http://127.0.0.1:9/created", events: ["booking.created"])
            let property = try await api.createProperty(a, maxGuests: 2)
            let rules = try await api.send(
                .patch,
                "/api/v1/properties/\(property)",
                token: a.admin.token,
                json: ["min_nights": 2, "max_nights": 5]
            )
            #expect(rules.status == .ok)
            let inactive = try await api.createProperty(a)
            _ = try await api.send(.patch, "/api/v1/properties/\(inactive)", token: a.admin.token, json: ["status": "inactive"])
            let foreign = try await api.createProperty(b)
            let booked = try await api.createBooking(a, property: property, checkIn: "2032-03-01", checkOut: "2032-03-04")
            #expect(booked.status == .created)
            #expect(try await api.createBlock(a, property: property, start: "2032-03-10", end: "2032-03-12").status == .created)
            let connection = try await api.createConnection(a, property: property)
            _ = try await api.insertChannelBlock(a, property: property, connection: connection, start: "2032-03-20", end: "2032-03-22")
            let before = try await (api.bookings(a, property: property).count, api.auditEntries(a, "action=booking.create").count)
            let eventsBefore = try await Self.events(api, a.id)
            let (answered, fullPath) = (Self.count(api, "answered"), Self.count(api, "full_path"))

            let cases: [(JSONValue, String, UUID?, HTTPResponse.Status, String)] = [
                (Self.body(property, "2032-04-01", "2032-04-03", guests: 3), a.admin.token, nil, .unprocessableContent, "VALIDATION_ERROR"),
                (Self.body(property, "2032-04-01", "2032-04-02"), a.admin.token, nil, .unprocessableContent, "STAY_RULES_VIOLATED"),
                (Self.body(property, "2032-04-01", "2032-04-07"), a.admin.token, nil, .unprocessableContent, "STAY_RULES_VIOLATED"),
                (Self.body(inactive, "2032-04-01", "2032-04-03"), a.admin.token, nil, .unprocessableContent, "VALIDATION_ERROR"),
                (Self.body(property, "2032-03-03", "2032-03-05"), a.admin.token, nil, .conflict, "BOOKING_CONFLICT"),
                (Self.body(property, "2032-03-11", "2032-03-13"), a.members[.manager]!.token, nil, .conflict, "BOOKING_CONFLICT"),
                (Self.body(property, "2032-03-19", "2032-03-21"), a.admin.token, a.id, .conflict, "BOOKING_CONFLICT"),
                (Self.body(foreign, "2032-04-01", "2032-04-03"), a.admin.token, nil, .notFound, "PROPERTY_NOT_FOUND"),
                (Self.body(UUID(), "2032-04-01", "2032-04-03"), a.admin.token, nil, .notFound, "PROPERTY_NOT_FOUND"),
                (Self.body(property, "2032-04-01", "2032-04-03"), a.members[.staff]!.token, nil, .forbidden, "INSUFFICIENT_ROLE"),
                (Self.body(property, "2032-04-01", "2032-04-03"), a.admin.token, b.id, .forbidden, "AGENCY_ACCESS_DENIED"),
            ]
            for (n, (body, token, agency, status, code)) in cases.enumerated() {
                let r = try await api.send(.post, "/api/v1/bookings", token: token, agency: agency, json: body)
                #expect(r.status == status && r.errorCode == code, "case \(n): \(r.raw)")
                #expect(Self.count(api, "full_path") == fullPath + n + 1, "case \(n)")
            }
            // A member of two agencies must name one: the function does not guess, the full path says so.
            let manager = a.members[.manager]!
            try await api.addMember(manager, role: .manager, agency: b.id, adminToken: b.admin.token)
            let unnamed = try await api.send(.post, "/api/v1/bookings", token: manager.token, json: Self.body(property, "2032-04-01", "2032-04-03"))
            #expect(unnamed.status == .badRequest && unnamed.errorCode == "AGENCY_REQUIRED")
            #expect(Self.count(api, "full_path") == fullPath + cases.count + 1)
            // A body the handler refuses never reaches the statement.
            let bad = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: ["property_id": JSONValue(property)])
            #expect(bad.status == .unprocessableContent && bad.errorCode == "VALIDATION_ERROR")
            #expect(Self.count(api, "answered") == answered && Self.count(api, "full_path") == fullPath + cases.count + 1)

            let after = try await (api.bookings(a, property: property).count, api.auditEntries(a, "action=booking.create").count)
            #expect(after == before)
            #expect(try await Self.events(api, a.id).deliveries == eventsBefore.deliveries)

            // A cancelled booking's nights are free again, and the one statement takes them.
            let id = try #require(booked["id"]?.uuid)
            #expect(try await api.send(.post, "/api/v1/bookings/\(id)/cancel", token: a.admin.token).status == .ok)
            let answeredBefore = Self.count(api, "answered")  // the lists above were answered in one statement too
            let again = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: Self.body(property, "2032-03-01", "2032-03-04"))
            #expect(again.status == .created)
            #expect(Self.count(api, "answered") == answeredBefore + 1)
        }
    }
}

/// A property's calendar with a `from`, the availability search and the iCal export are read in one statement
/// (migration 0019): the same answers as the full path, the owner scope, and every refusal left to the full path.
@Suite struct OneStatementCalendarTests {
    static func count(_ api: APIClient, _ outcome: String) -> Int { OneStatementReadTests.count(api, outcome) }

    @Test func aCalendarInOneStatementIsWhatTheFullPathAnswersAndOnlyForWhoMaySeeIt() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let owner = a.members[.owner]!
            let owned = try await api.createProperty(a, name: "Far east", owner: owner.id, timezone: "Pacific/Kiritimati")
            let other = try await api.createProperty(a)
            let today = CalendarDate.today(in: try #require(TimeZone(identifier: "Pacific/Kiritimati")))
            #expect(try await api.createBooking(a, property: owned, checkIn: "\(today + 2)", checkOut: "\(today + 5)").status == .created)
            _ = try await api.createBlock(a, property: owned, start: "\(today + 6)", end: "\(today + 8)")
            _ = try await api.createBlock(a, property: owned, start: "\(today + 40)", end: "\(today + 41)")
            let channel = try await api.createConnection(a, property: owned)  // its blocks may overlap a booking
            _ = try await api.insertChannelBlock(a, property: owned, connection: channel, start: "\(today + 4)", end: "\(today + 6)")
            let (answered, fullPath) = (Self.count(api, "answered"), Self.count(api, "full_path"))

            // Without `from` the full path reads the zone for today; with it, one statement: the same answer.
            let full = try await api.send(.get, "/api/v1/properties/\(owned)/calendar", token: a.admin.token)
            #expect(full.status == .ok && full["from"]?.stringValue == "\(today)")
            #expect(Self.count(api, "answered") == answered)
            let one = try await api.send(.get, "/api/v1/properties/\(owned)/calendar?from=\(today)&to=\(today + 30)", token: a.admin.token)
            #expect(one.status == .ok)
            #expect(one.json == full.json, "\(one.raw)\nvs\n\(full.raw)")
            let days = one["days"]?.arrayValue ?? []
            #expect(days.count == 30)
            #expect(
                days.map { $0["status"]?.stringValue ?? "" }.prefix(9) == [
                    "available", "available", "booked", "booked", "booked", "blocked", "blocked", "blocked", "available",
                ]
            )
            #expect(days[4]["conflict"] == true && days[3]["conflict"] == false)
            let mine = try await api.send(.get, "/api/v1/properties/\(owned)/calendar?from=\(today + 40)&to=\(today + 42)", token: owner.token)
            #expect(mine["days"]?.arrayValue?.map { $0["status"]?.stringValue ?? "" } == ["blocked", "available"])
            #expect(Self.count(api, "answered") == answered + 2)
            #expect(Self.count(api, "full_path") == fullPath)

            // Not the owner's property, another agency's, none at all: IK404, and the full path's 404. A foreign agency
            // in the header: IK403, and the full path's 403.
            for (token, id) in [(owner.token, other), (b.admin.token, owned), (a.admin.token, UUID())] {
                let r = try await api.send(.get, "/api/v1/properties/\(id)/calendar?from=\(today)", token: token)
                #expect(r.status == .notFound && r.errorCode == "PROPERTY_NOT_FOUND", "\(r.raw)")
            }
            let foreign = try await api.send(.get, "/api/v1/properties/\(owned)/calendar?from=\(today)", token: b.admin.token, agency: a.id)
            #expect(foreign.errorCode == "AGENCY_ACCESS_DENIED")
            #expect(Self.count(api, "full_path") == fullPath + 4)
            #expect(Self.count(api, "answered") == answered + 2)
        }
    }

    /// The availability search takes the same path (`app_availability_json`): each item is the property as GET writes
    /// it, the page and its cursor work as on the full path, and a role the search refuses goes the full way.
    @Test func availabilityIsSearchedInOneStatement() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let free = try await api.createProperty(a, name: "Free \"quoted\" villa")
            let other = try await api.createProperty(a, name: "Also free")
            let taken = try await api.createProperty(a)
            #expect(try await api.createBooking(a, property: taken, checkIn: "2033-02-02", checkOut: "2033-02-04").status == .created)
            let (answered, fullPath) = (Self.count(api, "answered"), Self.count(api, "full_path"))
            let search = "/api/v1/availability?check_in=2033-02-01&check_out=2033-02-05&guests=2"
            let first = try await api.send(.get, search + "&limit=1", token: a.members[.staff]!.token)
            #expect(first.status == .ok && first.data.count == 1, "\(first.raw)")
            let cursor = try #require(first["next_cursor"]?.stringValue)
            let second = try await api.send(.get, search + "&limit=1&cursor=\(cursor)", token: a.admin.token)
            #expect(second["next_cursor"] == .null)
            let items = first.data + second.data
            #expect(items.compactMap { $0["id"]?.uuid } == [other, free])
            for item in items {
                let id = try #require(item["id"]?.uuid)
                #expect(item == (try await api.send(.get, "/api/v1/properties/\(id)", token: a.admin.token)).json)
            }
            #expect(Self.count(api, "answered") == answered + 2)
            let owner = try await api.send(.get, search, token: a.members[.owner]!.token)
            #expect(owner.errorCode == "INSUFFICIENT_ROLE")
            let foreign = try await api.send(.get, search, token: b.admin.token, agency: a.id)
            #expect(foreign.errorCode == "AGENCY_ACCESS_DENIED")
            #expect(Self.count(api, "full_path") == fullPath + 2)
        }
    }

    /// The export feed's one statement returns what ends after yesterday in UTC; the API keeps what ends after today
    /// in the property's zone, whichever side of UTC it is on (UTC+14 and UTC-11).
    @Test(arguments: ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC"])
    func theFeedEndsItsPastInThePropertysZone(zone: String) async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let property = try await api.createProperty(a, name: "Zoned", timezone: zone)
            let today = CalendarDate.today(in: try #require(TimeZone(identifier: zone)))
            let ended = try #require(try await api.createBooking(a, property: property, checkIn: "\(today - 2)", checkOut: "\(today)")["id"]?.uuid)
            let staying = try #require(try await api.createBooking(a, property: property, checkIn: "\(today)", checkOut: "\(today + 1)")["id"]?.uuid)
            let connection = try await api.createConnection(a, property: property)
            let url = try await api.send(.get, "/api/v1/channel-connections/\(connection)", token: a.admin.token)["export_url"]?.stringValue
            let feed = try await api.send(.get, try #require(url.flatMap(URL.init(string:))?.path))
            #expect(feed.status == .ok)
            #expect(feed.raw.contains("UID:\(staying.lowercasedString)@innkeep"), "\(feed.raw)")
            #expect(!feed.raw.contains(ended.lowercasedString), "\(feed.raw)")
            // A connection without events is a feed with none, not a 404.
            let empty = try await api.createProperty(a)
            let quiet = try await api.createConnection(a, property: empty)
            let none = try await api.send(.get, "/api/v1/channel-connections/\(quiet)", token: a.admin.token)["export_url"]?.stringValue
            let nothing = try await api.send(.get, try #require(none.flatMap(URL.init(string:))?.path))
            #expect(nothing.status == .ok && nothing.raw.contains("BEGIN:VCALENDAR") && !nothing.raw.contains("BEGIN:VEVENT"))
        }
    }
}

/// The byte-level JSON writer answers what the `String` one did: sorted keys, escapes, integers.
@Suite struct JSONWriterTests {
    @Test func writesSortedKeysEscapesAndIntegers() {
        let value: JSONValue = [
            "z": [1, -2, 0, .int(Int64.max), .int(Int64.min)], "a": "quote \" back \\ nl \n tab \t ctl \u{01} é ✓",
            "m": ["nested": true, "n": nil, "d": .double(1.5)],
        ]
        let expected =
            #"{"a":"quote \" back \\ nl \n tab \t ctl \u0001 é ✓","m":{"d":1.5,"n":null,"nested":true},"#
            + #""z":[1,-2,0,9223372036854775807,-9223372036854775808]}"#
        #expect(value.serialized == expected)
        #expect(JSONValue.parse(Array(value.serialized.utf8)) == value)
    }
}

/// The per-request limiter leases hits from Redis (`RateLimiter`, `LeaseBook`): several processes (here:
/// several limiters with their own lease books on one Redis) together never allow more than the limit.
@Suite struct RateLimitLeaseTests {
    static func limiters(_ n: Int, _ client: RedisClient) -> [RateLimiter] {
        (0..<n).map { _ in RateLimiter(redis: RedisGuard(client: client, logger: TestEnv.logger), leases: LeaseBook()) }
    }

    static func withRedis(_ body: (RedisClient) async throws -> Void) async throws {
        let client = RedisClient(configuration: .init(host: "127.0.0.1", port: TestEnv.redisPort, password: nil, database: 0))
        do {
            try await body(client)
        } catch {
            await client.shutdown()
            throw error
        }
        await client.shutdown()
    }

    @Test(arguments: [5, 100, 1000])
    func threeProcessesTogetherAllowExactlyTheLimit(limit: Int) async throws {
        try await Self.withRedis { client in
            let limiters = Self.limiters(3, client)
            let key = "lease-test:\(UUID().uuidString)"
            var allowed = 0
            var refused = 0
            for i in 0..<(limit * 2 + 30) {
                if await limiters[i % 3].hit(key, limit: limit) == nil { allowed += 1 } else { refused += 1 }
            }
            // Never past the shared count; and with requests reaching every process, no leased hit is left unused.
            #expect(allowed == limit)
            #expect(refused == limit + 30)
            let counted = try await client.get("rl:" + key).flatMap { Int($0) } ?? 0
            #expect(counted >= limit)
        }
    }

    @Test func farFromTheLimitOneEvalLeasesSeveralHitsAndNearItOne() async throws {
        try await Self.withRedis { client in
            let limiter = Self.limiters(1, client)[0]
            let key = "lease-test:\(UUID().uuidString)"
            #expect(await limiter.hit(key, limit: 1000) == nil)
            let leased = try await client.get("rl:" + key)
            #expect(leased == String(LeaseBook.largest))  // one lease of 16 hits
            for _ in 1..<LeaseBook.largest { #expect(await limiter.hit(key, limit: 1000) == nil) }
            let after = try await client.get("rl:" + key)
            #expect(after == String(LeaseBook.largest))  // served locally
            // A small limit is exact: one hit per EVAL, the refusal carries the window's Retry-After.
            let small = "lease-test:\(UUID().uuidString)"
            for n in 1...5 {
                #expect(await limiter.hit(small, limit: 5) == nil)
                let counted = try await client.get("rl:" + small)
                #expect(counted == String(n))
            }
            let retry = await limiter.hit(small, limit: 5)
            #expect(retry.map { (1...60).contains($0) } == true)
        }
    }

    @Test func leaseWindowGrantsAnEighthOfTheRoomAndNeverPastTheLimit() async throws {
        try await Self.withRedis { client in
            let key = "lease-test:\(UUID().uuidString)"
            var count = 0
            let start = ContinuousClock.now
            while count < 200 {
                let lease = try await client.leaseWindow(key: key, window: .seconds(60), limit: 200, want: 16)
                #expect(lease.granted == min(16, max(1, (200 - count) / 8)), "at \(count)")
                #expect(lease.count == count + lease.granted && lease.count <= 200)
                // The window's expiry, set by the first lease: at most the time since then has passed (a busy
                // machine can take over a second for this loop).
                let elapsed = Int((ContinuousClock.now - start) / .milliseconds(1))
                #expect((59_000 - elapsed...60_000).contains(lease.ttlMilliseconds), "after \(elapsed) ms")
                count = lease.count
            }
            let over = try await client.leaseWindow(key: key, window: .seconds(60), limit: 200, want: 16)
            #expect(over.count == 201 && over.granted == 1)
            try await client.del(key)
        }
    }

    /// Requests that arrive together on one process ask Redis for one lease between them; the others count
    /// one hit each. (Each asking for its own lease, and each answer replacing the last, once left most of
    /// the window leased and unused: 51 of 120 allowed across three processes.)
    @Test func concurrentMissesAskForOneLease() async throws {
        try await Self.withRedis { client in
            let limiter = Self.limiters(1, client)[0]
            let key = "lease-test:\(UUID().uuidString)"
            let answers = await withTaskGroup(of: Int?.self) { group in
                for _ in 0..<16 { group.addTask { await limiter.hit(key, limit: 1000) } }
                return await group.reduce(into: [Int?]()) { $0.append($1) }
            }
            #expect(answers.allSatisfy { $0 == nil })
            let counted = try await client.get("rl:" + key).flatMap { Int($0) } ?? 0
            #expect((16...31).contains(counted), "one lease of 16 and at most 15 single hits, counted \(counted)")
            // Nothing leased was lost: the next hits are served from what is left until the lease is used up.
            for _ in 0..<(counted - 16) { #expect(await limiter.hit(key, limit: 1000) == nil) }
            #expect(try await client.get("rl:" + key).flatMap { Int($0) } == counted)
        }
    }

    /// Three processes hit in waves of 16 concurrent requests, as `ClusterTests` does through nginx.
    @Test(arguments: [15, 120, 600])
    func concurrentWavesAcrossThreeProcessesAllowTheLimit(limit: Int) async throws {
        try await Self.withRedis { client in
            let limiters = Self.limiters(3, client)
            let key = "lease-test:\(UUID().uuidString)"
            var allowed = 0
            var sent = 0
            while sent < limit + 30 {
                let wave = min(16, limit + 30 - sent)
                let first = sent
                allowed += await withTaskGroup(of: Bool.self) { group in
                    for i in 0..<wave { group.addTask { await limiters[(first + i) % 3].hit(key, limit: limit) == nil } }
                    return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
                }
                sent += wave
            }
            // Never past the shared count; the slack (leased hits unused when the window filled) is small.
            #expect(allowed <= limit)
            #expect(allowed >= limit - 3, "allowed \(allowed) of \(limit)")
        }
    }
}

/// The export's DTSTAMP and ETag writers answer what the Foundation ones did.
@Suite struct ICalWriterSpeedTests {
    static func reference(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    @Test func utcStampsMatchTheCalendarOnes() {
        let dates =
            [0, 1, 59.999, 951_782_400.5, 1_700_000_000.25, 4_102_444_799.999_999, 1_234_567_890.000_001, 253_402_300_799]
            .map { Date(timeIntervalSince1970: $0) } + (0..<200).map { _ in Date(timeIntervalSince1970: .random(in: 0..<4_102_444_800)) }
        for date in dates { #expect(ICalWriter.utc(date) == Self.reference(date), "\(date.timeIntervalSince1970)") }
        #expect(ICalWriter.escape("Reserved") == "Reserved")
        #expect(ICalWriter.escape("a,b;c\\d\ne") == "a\\,b\\;c\\\\d\\ne")
    }
}

@Suite struct UUIDStringTests {
    @Test func lowercasedStringIsUUIDStringLowercased() {
        for uuid in [UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), UUID(uuidString: "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF")!]
            + (0..<500).map({ _ in UUID() })
        {
            #expect(uuid.lowercasedString == uuid.uuidString.lowercased())
            #expect(JSONValue(uuid) == .string(uuid.uuidString.lowercased()))
        }
    }

    /// What `UUID.random()` makes is a version-4 UUID with the RFC 9562 variant, as Foundation's `UUID()` is, and
    /// a thousand of them are a thousand.
    @Test func randomIsAVersion4UUID() {
        let made = (0..<1000).map { _ in UUID.random() }
        #expect(Set(made).count == 1000)
        for uuid in made {
            let text = uuid.lowercasedString
            #expect(Array(text)[14] == "4" && "89ab".contains(Array(text)[19]), "\(text)")
            #expect(UUID(uuidString: text) == uuid)
        }
        // The other 122 bits vary: over a thousand ids each is set in one and clear in another.
        let bytes = made.map { uuid in withUnsafeBytes(of: uuid.uuid) { Array($0) } }
        let ored = bytes.reduce([UInt8](repeating: 0, count: 16)) { zip($0, $1).map { $0 | $1 } }
        let anded = bytes.reduce([UInt8](repeating: 0xFF, count: 16)) { zip($0, $1).map { $0 & $1 } }
        #expect(ored == (0..<16).map { $0 == 6 ? 0x4F : $0 == 8 ? 0xBF : 0xFF })
        #expect(anded == (0..<16).map { $0 == 6 ? 0x40 : $0 == 8 ? 0x80 : 0x00 })
    }
}

/// Properties, bookings and the calendar write their JSON themselves (`JSONWritable`, issue 17): the bytes must be what
/// the `JSONValue` writer makes of the same object (keys sorted, compact), with every field present.
@Suite struct WrittenJSONTests {
    /// Parsing the body and writing it again with `JSONValue` gives the same bytes.
    static func expectCanonical(_ r: APIResponse, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(JSONValue.parse(Array(r.raw.utf8))?.serialized == r.raw, "\(r.raw)", sourceLocation: sourceLocation)
    }

    @Test func propertiesAndBookingsAreCanonicalWithEveryField() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let owner = agency.members[.owner]!.id
            let property = try await api.createProperty(agency, name: "Quote \" and \\ and é", owner: owner)
            let booking = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "guest_name": "Ann\nLee", "check_in": "2031-06-01", "check_out": "2031-06-04",
                    "guests": 2, "total_amount_cents": 45_000, "currency": "EUR", "notes": "tab\there",
                ]
            )
            #expect(booking.status == .created)
            Self.expectCanonical(booking)
            #expect(booking["guest_name"] == "Ann\nLee" && booking["notes"] == "tab\there" && booking["total_amount_cents"] == 45_000)
            #expect(booking["guest_email"] == .null && booking["cancelled_at"] == .null && booking["created_by"]?.uuid == agency.admin.id)
            let bookingKeys: Set<String> = [
                "id", "agency_id", "property_id", "guest_name", "guest_email", "check_in", "check_out", "guests", "status", "source",
                "total_amount_cents", "currency", "notes", "created_by", "created_at", "cancelled_at",
            ]
            #expect(Set(booking.json.objectKeys) == bookingKeys)

            let id = try #require(booking["id"]?.uuid)
            // The create answers with the booking it chose before the insert (`Booking(creating:…)`): byte for
            // byte what the database then holds, created_at included.
            let stored = try await api.send(.get, "/api/v1/bookings/\(id)", token: agency.admin.token)
            #expect(stored.raw == booking.raw)
            let calendar = try await api.send(
                .get,
                "/api/v1/properties/\(property)/calendar?from=2031-05-31&to=2031-06-05",
                token: agency.admin.token
            )
            Self.expectCanonical(calendar)
            let days = calendar["days"]?.arrayValue ?? []
            #expect(days.map { $0["status"]?.stringValue ?? "" } == ["available", "booked", "booked", "booked", "available"])
            #expect(days[1]["booking_id"]?.uuid == id && days[1]["conflict"] == false && days[0]["block_id"] == .null)
            #expect(Set(days[0].objectKeys) == ["date", "status", "booking_id", "block_id", "block_kind", "conflict"])
            #expect(calendar["from"] == "2031-05-31" && calendar["to"] == "2031-06-05" && calendar["property_id"]?.uuid == property)
            for path in ["/api/v1/bookings/\(id)", "/api/v1/bookings?limit=1", "/api/v1/properties/\(property)", "/api/v1/properties"] {
                let r = try await api.send(.get, path, token: agency.admin.token)
                #expect(r.status == .ok)
                Self.expectCanonical(r)
            }
            let cancelled = try await api.send(.post, "/api/v1/bookings/\(id)/cancel", token: agency.admin.token)
            Self.expectCanonical(cancelled)
            #expect(cancelled["cancelled_at"]?.stringValue != nil)

            let list = try await api.send(.get, "/api/v1/properties?limit=1", token: agency.admin.token)
            let item = try #require(list["data"]?.arrayValue?.first)
            #expect(item["name"] == "Quote \" and \\ and é" && item["owner_id"]?.uuid == owner && item["max_guests"] == 4)
            #expect(
                Set(item.objectKeys) == [
                    "id", "agency_id", "owner_id", "name", "address", "timezone", "max_guests", "min_nights", "max_nights", "status",
                    "created_at", "updated_at",
                ]
            )
            #expect(list["next_cursor"] == .null)
        }
    }

    /// A page of properties is written by Postgres (migration 0017, `app_property_json`) and one property by the
    /// server (`Property.writeJSON`): for every kind of character a name can hold, and for an owner and none, the
    /// page's items are byte for byte the bodies of the GETs, on both list paths and across pages.
    @Test func aPageOfPropertiesIsWhatTheirGETsWrite() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let controls = String(decoding: (1..<0x20).map { UInt8($0) }, as: UTF8.self)
            let names = ["plain", "\(controls) \" \\ / é 😀 \u{2028} \u{7f}", "line\nbreak\ttab"]
            var ids: [UUID] = []
            for (i, name) in names.enumerated() {
                ids.append(try await api.createProperty(agency, name: name, owner: i == 0 ? agency.members[.owner]!.id : nil))
            }
            var gets: [String] = []
            for id in ids.reversed() {  // the list's order: newest first
                let r = try await api.send(.get, "/api/v1/properties/\(id)", token: agency.admin.token)
                #expect(r.status == .ok)
                gets.append(r.raw)
            }
            #expect(gets[1].contains(#"\u0001\u0002\u0003\u0004\u0005\u0006\u0007\b\t\n\u000b\f\r\u000e"#), "\(gets[1])")

            // The one-statement path (the admin's only agency).
            let list = try await api.send(.get, "/api/v1/properties?limit=3", token: agency.admin.token)
            #expect(list.raw == "{\"data\":[\(gets.joined(separator: ","))],\"next_cursor\":null}")
            // The full path's query, in a transaction of the agency.
            let full = try await api.services.db.transaction(.tenant(agency.id, user: agency.admin.id)) { conn in
                try await PropertyRepository.list(conn, agency: agency.id, owner: nil, status: nil, cursor: nil, limit: 3).reply.body
            }
            #expect(full == list.raw)

            // Two pages: the first's cursor leads to exactly the rest.
            let first = try await api.send(.get, "/api/v1/properties?limit=2", token: agency.admin.token)
            #expect(first.raw.hasPrefix("{\"data\":[\(gets[0]),\(gets[1])],\"next_cursor\":\""))
            let cursor = try #require(first["next_cursor"]?.stringValue)
            let rest = try await api.send(.get, "/api/v1/properties?limit=2&cursor=\(cursor)", token: agency.admin.token)
            #expect(rest.raw == "{\"data\":[\(gets[2])],\"next_cursor\":null}")

            // Each row's JSON is stored when the row is written (the api_json column): it follows an update, and the
            // owner foreign key's SET NULL when the owner leaves the agency.
            let patched = try await api.send(.patch, "/api/v1/properties/\(ids[1])", token: agency.admin.token, json: ["name": "renamed"])
            #expect(patched.status == .ok)
            let members = try await api.send(.get, "/api/v1/team-members?limit=200", token: agency.admin.token)
            let ownerMember = try #require(members.data.first { $0["user_id"]?.uuid == agency.members[.owner]!.id }?["id"]?.uuid)
            let removed = try await api.send(.delete, "/api/v1/team-members/\(ownerMember)", token: agency.admin.token)
            #expect(removed.status == .noContent)
            var now: [String] = []
            for id in ids.reversed() {
                now.append(try await api.send(.get, "/api/v1/properties/\(id)", token: agency.admin.token).raw)
            }
            #expect(now[1].contains(#""name":"renamed""#) && now[2].contains(#""owner_id":null"#))
            let after = try await api.send(.get, "/api/v1/properties?limit=3", token: agency.admin.token)
            #expect(after.raw == "{\"data\":[\(now.joined(separator: ","))],\"next_cursor\":null}")
        }
    }

    /// The same for bookings (`app_booking_json`): every field set and unset, a cancelled stay, and a guest name
    /// and notes with every control character.
    @Test func aPageOfBookingsIsWhatTheirGETsWrite() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let controls = String(decoding: (1..<0x20).map { UInt8($0) }, as: UTF8.self)
            let full: JSONValue = [
                "property_id": JSONValue(property), "guest_name": .string("\(controls)\"\\é"), "guest_email": "ann@example.com",
                "check_in": "2031-06-01", "check_out": "2031-06-04", "guests": 2, "total_amount_cents": 45_000, "currency": "EUR",
                "notes": .string("tab\there\(controls)"), "source": "airbnb",
            ]
            let bare: JSONValue = [
                "property_id": JSONValue(property), "guest_name": "Bo", "check_in": "2031-07-01", "check_out": "2031-07-02", "guests": 1,
            ]
            let later: JSONValue = [
                "property_id": JSONValue(property), "guest_name": "Cy", "check_in": "2031-08-01", "check_out": "2031-08-09", "guests": 3,
            ]
            var ids: [UUID] = []
            for body in [full, bare, later] {
                let r = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body)
                ids.append(try #require(r["id"]?.uuid, "\(r.raw)"))
            }
            let cancel = try await api.send(.post, "/api/v1/bookings/\(ids[1])/cancel", token: agency.admin.token)
            #expect(cancel.status == .ok)
            var gets: [String] = []
            for id in ids.reversed() {
                gets.append(try await api.send(.get, "/api/v1/bookings/\(id)", token: agency.admin.token).raw)
            }
            let list = try await api.send(.get, "/api/v1/bookings?limit=3", token: agency.admin.token)
            #expect(list.raw == "{\"data\":[\(gets.joined(separator: ","))],\"next_cursor\":null}")
            let page = try await api.services.db.transaction(.tenant(agency.id, user: agency.admin.id)) { conn in
                try await BookingRepository.list(conn, agency: agency.id, owner: nil, filter: .init(), cursor: nil, limit: 2).reply.body
            }
            #expect(page?.hasPrefix("{\"data\":[\(gets[0]),\(gets[1])],\"next_cursor\":\"") == true, "\(page ?? "")")
        }
    }
}

/// `EVENT_LOOP_THREADS` (issue 17): the real server runs its I/O and its requests on that many event loops.
@Suite struct EventLoopThreadsTests {
    /// The process's event loop threads (NIO names the singleton group's `NIO-SGLTN-…`).
    static func eventLoopThreads(_ pid: pid_t) -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.filter { task in
            let comm = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/comm", encoding: .utf8)) ?? ""
            return comm.hasPrefix("NIO-SGLTN-")
        }.count
    }

    @Test func oneEventLoopServesEverything() async throws {
        let server = try await LiveServer.start(env: ["EVENT_LOOP_THREADS": "1"])
        defer { server.kill() }
        #expect(Self.eventLoopThreads(server.pid) == 1)
        let (_, token, _) = try await server.signupWithAgency()
        #expect(try await server.json("GET", "/health").status == 200)
        let list = try await server.json("GET", "/api/v1/properties", token: token)
        #expect(list.status == 200 && list.json["data"] == [])
        // The number is the variable's, not the machine's.
        let three = try await LiveServer.start(env: ["EVENT_LOOP_THREADS": "3"])
        defer { three.kill() }
        #expect(Self.eventLoopThreads(three.pid) == 3)
    }

    /// Unset, it is half the cores (at least one) with the database on this machine, as the tests' is, else one per core.
    @Test func theDefaultLeavesHalfTheCoresToALocalDatabase() async throws {
        let server = try await LiveServer.start()
        defer { server.kill() }
        #expect(Self.eventLoopThreads(server.pid) == max(1, System.coreCount / 2))
        #expect(try await server.json("GET", "/health").status == 200)

        for (cores, here, loops) in [(1, true, 1), (2, true, 1), (3, true, 1), (8, true, 4), (1, false, 1), (2, false, 2), (8, false, 8)] {
            #expect(AppConfig.defaultEventLoopThreads(databaseOnThisMachine: here, cores: cores) == loops, "\(cores) \(here)")
        }
        for (host, here) in [
            ("localhost", true), ("LOCALHOST", true), ("localhost.", true), ("127.0.0.1", true), ("127.8.9.10", true), ("[::1]", true),
            ("[0:0:0:0:0:0:0:1]", true), ("[::ffff:127.0.0.1]", true), ("db.example.com", false), ("10.0.0.5", false),
            ("127.example.com", false), ("128.0.0.1", false), ("[::2]", false), ("[::ffff:10.0.0.1]", false),
        ] {
            let url = try #require(PostgresURL("postgres://u@\(host):5432/d"))
            #expect(url.isOnThisMachine == here, "\(host)")
        }
    }
}

/// `DATABASE_POOL_SIZE` (issue 17): the real server holds at most that many connections, and the requests beyond
/// them wait in line rather than fail.
@Suite struct DatabasePoolSizeTests {
    @Test func requestsBeyondTheSizeWaitTheirTurn() async throws {
        let server = try await LiveServer.start(env: ["DATABASE_POOL_SIZE": "1"])
        defer { server.kill() }
        let (_, token, _) = try await server.signupWithAgency()
        let statuses = try await concurrently(8) { _ in try await server.json("GET", "/api/v1/properties", token: token).status }
        #expect(statuses == Array(repeating: 200, count: 8))
        let metrics = try await server.json("GET", "/metrics", token: TestEnv.opsToken).body
        #expect(metrics.contains("db_pool_max_connections 1.0\n"), "\(metrics.prefix(300))")
        let open = metrics.split(separator: "\n").first { $0.hasPrefix("db_pool_open_connections ") }
        #expect(open == "db_pool_open_connections 1.0", "\(open ?? "none")")
    }
}
