import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import Innkeep

/// `GET /api/v1/availability` (SPEC §11): properties free for every night, fitting guests and stay rules.
@Suite struct AvailabilityTests {
    @Test func onlyPropertiesThatPassEveryRuleAreListed() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let other = try await api.makeAgency()
            func property(_ name: String, _ extra: [String: JSONValue] = [:]) async throws -> UUID {
                var body: [String: JSONValue] = ["name": .string(name), "max_guests": 4]
                body.merge(extra) { $1 }
                let r = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, json: .object(body))
                return try #require(r["id"]?.uuid, "\(r.raw)")
            }
            // The stay: 2031-09-10 → 2031-09-14, 4 nights, 3 guests.
            let free = try await property("free")
            let adjacent = try await property("adjacent stays")
            _ = try await api.createBooking(agency, property: adjacent, checkIn: "2031-09-07", checkOut: "2031-09-10")
            _ = try await api.createBlock(agency, property: adjacent, start: "2031-09-14", end: "2031-09-16")
            let booked = try await property("booked")
            _ = try await api.createBooking(agency, property: booked, checkIn: "2031-09-13", checkOut: "2031-09-15")
            let cancelled = try await property("cancelled booking")
            let c = try #require(try await api.createBooking(agency, property: cancelled, checkIn: "2031-09-10", checkOut: "2031-09-14")["id"]?.uuid)
            _ = try await api.send(.post, "/api/v1/bookings/\(c)/cancel", token: agency.admin.token)
            let blocked = try await property("blocked")
            _ = try await api.createBlock(agency, property: blocked, start: "2031-09-09", end: "2031-09-11", kind: "hold")
            let channel = try await property("channel block")
            let connection = try await api.createConnection(agency, property: channel)
            _ = try await api.insertChannelBlock(agency, property: channel, connection: connection, start: "2031-09-12", end: "2031-09-13")
            _ = try await property("inactive", ["status": "inactive"])
            _ = try await property("too small", ["max_guests": 2])
            _ = try await property("min 5 nights", ["min_nights": 5])
            _ = try await property("max 3 nights", ["max_nights": 3])
            let exact = try await property("exactly 4 nights", ["min_nights": 4, "max_nights": 4, "max_guests": 3])
            _ = try await api.createProperty(other, name: "other agency's free")

            let r = try await api.send(.get, "/api/v1/availability?check_in=2031-09-10&check_out=2031-09-14&guests=3", token: agency.token(.staff))
            #expect(r.status == .ok, "\(r.raw)")
            #expect(r.data.compactMap { $0["id"]?.uuid } == [exact, cancelled, adjacent, free])  // newest first
            #expect(r["next_cursor"] == .null)
            #expect(r.data.last?["name"] == "free" && r.data.last?["min_nights"] == 1)

            // Paged like any list: two pages of two, the same four in the same order.
            let first = try await api.send(
                .get,
                "/api/v1/availability?check_in=2031-09-10&check_out=2031-09-14&guests=3&limit=2",
                token: agency.admin.token
            )
            let cursor = try #require(first["next_cursor"]?.stringValue)
            let second = try await api.send(
                .get,
                "/api/v1/availability?check_in=2031-09-10&check_out=2031-09-14&guests=3&limit=2&cursor=\(cursor)",
                token: agency.admin.token
            )
            #expect((first.data + second.data).compactMap { $0["id"]?.uuid } == [exact, cancelled, adjacent, free])
            #expect(second["next_cursor"] == .null)

            // guests defaults to 1: the small property fits then.
            let anyone = try await api.send(.get, "/api/v1/availability?check_in=2031-09-10&check_out=2031-09-14", token: agency.admin.token)
            #expect(anyone.data.count == 5)
        }
    }

    /// The search asks each property for its last confirmed booking that starts before the check-out (confirmed
    /// stays never overlap, so no earlier one reaches further) and for its blocks that end after the check-in
    /// (migration 0021). The stays around the search that those two questions could get wrong.
    @Test func staysAroundTheSearchAreJudgedByTheirNights() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            func property(_ name: String) async throws -> UUID { try await api.createProperty(agency, name: name) }
            func book(_ property: UUID, _ checkIn: String, _ checkOut: String) async throws -> UUID {
                let r = try await api.createBooking(agency, property: property, checkIn: checkIn, checkOut: checkOut)
                return try #require(r["id"]?.uuid, "\(r.raw)")
            }
            // The stay: 2032-03-10 → 2032-03-14.
            let spanning = try await property("a stay from before to after")
            _ = try await book(spanning, "2032-03-01", "2032-03-20")
            let longBefore = try await property("a long stay before, then one inside")
            _ = try await book(longBefore, "2032-02-01", "2032-03-05")
            _ = try await book(longBefore, "2032-03-12", "2032-03-13")
            let cancelledLast = try await property("the last stay before check-out cancelled, the one before it ended")
            _ = try await book(cancelledLast, "2032-03-01", "2032-03-10")
            let c = try await book(cancelledLast, "2032-03-11", "2032-03-16")
            #expect(try await api.send(.post, "/api/v1/bookings/\(c)/cancel", token: agency.admin.token).status == .ok)
            let startsAtCheckOut = try await property("a stay from the check-out on")
            _ = try await book(startsAtCheckOut, "2032-03-14", "2032-03-30")
            let overlapsCheckIn = try await property("a stay over the check-in")
            _ = try await book(overlapsCheckIn, "2032-03-08", "2032-03-11")
            let spanningBlock = try await property("a block from before to after, with a stay long before")
            _ = try await book(spanningBlock, "2032-01-01", "2032-01-05")
            _ = try await api.createBlock(agency, property: spanningBlock, start: "2032-02-20", end: "2032-04-01")
            let channelBlocks = try await property("channel blocks that overlap each other, one over the stay")
            let connection = try await api.createConnection(agency, property: channelBlocks)
            _ = try await api.insertChannelBlock(agency, property: channelBlocks, connection: connection, start: "2032-03-01", end: "2032-03-20")
            _ = try await api.insertChannelBlock(agency, property: channelBlocks, connection: connection, start: "2032-03-02", end: "2032-03-04")
            let blockEndsAtCheckIn = try await property("a block up to the check-in")
            _ = try await api.createBlock(agency, property: blockEndsAtCheckIn, start: "2032-03-01", end: "2032-03-10")
            let blockFromCheckOut = try await property("a block from the check-out on")
            _ = try await api.createBlock(agency, property: blockFromCheckOut, start: "2032-03-14", end: "2032-03-16")

            let r = try await api.send(.get, "/api/v1/availability?check_in=2032-03-10&check_out=2032-03-14", token: agency.admin.token)
            #expect(r.status == .ok, "\(r.raw)")
            #expect(r.data.compactMap { $0["id"]?.uuid } == [blockFromCheckOut, blockEndsAtCheckIn, startsAtCheckOut, cancelledLast])
            // One night earlier, the block and the stay that ended at the check-in hold its first night.
            let earlier = try await api.send(.get, "/api/v1/availability?check_in=2032-03-09&check_out=2032-03-13", token: agency.admin.token)
            #expect(earlier.data.compactMap { $0["id"]?.uuid } == [blockFromCheckOut, startsAtCheckOut])
        }
    }

    @Test func badQueriesNameEveryField() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            func get(_ q: String) async throws -> APIResponse { try await api.send(.get, "/api/v1/availability?\(q)", token: agency.admin.token) }
            #expect(fields(try await get("")) == ["check_in", "check_out"])
            #expect(fields(try await get("check_in=2031-01-05&check_out=2031-01-05&guests=0")) == ["check_out", "guests"])
            #expect(fields(try await get("check_in=2031-01-05&check_out=2032-01-06")) == ["check_out"])  // 366 nights
            #expect(fields(try await get("check_in=5&check_out=2031-01-06&guests=x&limit=0&cursor=zz")) == ["check_in", "guests", "limit"])
            let owner = try await api.send(.get, "/api/v1/availability?check_in=2031-01-05&check_out=2031-01-06", token: agency.token(.owner))
            #expect(owner.status == .forbidden && owner.errorCode == "INSUFFICIENT_ROLE")
        }
    }

    /// SPEC §11: the search stays fast as the database grows, for an agency with 2,000 properties too. Among about
    /// 1,000 agencies 0021's blocks probe (an anti-join) went through blocks_connection_uid_key, which does not hold
    /// property_id, and read every block of the agency for every candidate: bench/run's search ran six times slower
    /// at 100x than at 1x. And the generic plan, estimating a few properties per agency, read and sorted all 2,000 of
    /// the large agency's to keep one page (0025). The index scans of each page's search, counted by Postgres in its
    /// own transaction, show which index each probe used and how many properties the search read.
    @Test func amongAThousandAgenciesTheSearchReadsOnePageOfCandidatesEachOneIndexDescent() async throws {
        let searched = UUID.random()
        try await MigrationFixture.withFreshDatabase { name in
            try await MigrationFixture.withConnection(TestEnv.adminURL(database: name)) { admin async throws in
                // As the superuser with triggers off (no occupancy rows, no audit): only the rows the statistics need.
                // 1,000 agencies of 5 properties and the searched one of 2,000, in no order on disk (as a live table's
                // are), each property with 10 one-night blocks in 2030-01..02; the search (2030-03) finds every
                // property free.
                let statements: [PostgresQuery] = [
                    "SET session_replication_role = replica",
                    """
                    INSERT INTO agencies (id, name)
                    SELECT CASE WHEN i = 0 THEN \(searched) ELSE gen_random_uuid() END, 'Agency ' || i FROM generate_series(0, 1000) i
                    """,
                    """
                    INSERT INTO properties (agency_id, id, name, timezone, max_guests, status, created_at)
                    SELECT a.id, gen_random_uuid(), 'Property ' || j, 'UTC', 4, 'active', timestamptz '2029-01-01' + j * interval '1 hour'
                    FROM agencies a, generate_series(1, 2000) j WHERE j <= 5 OR a.id = \(searched) ORDER BY random()
                    """,
                    """
                    INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind)
                    SELECT p.agency_id, p.id, date '2030-01-01' + 4 * k, date '2030-01-02' + 4 * k, 'maintenance'
                    FROM properties p, generate_series(0, 9) k
                    """,
                    "ANALYZE agencies, properties, blocks",
                ]
                for statement in statements { try await admin.run(statement) }
            }
            try await MigrationFixture.withConnection(TestEnv.runtimeURL(name)) { conn async throws in
                // Postgres 15 keeps a backend's counts until it reports them (at most once a second), so the
                // "xact" counters can hold the previous transaction's too: each search reads them before and after.
                func counters() async throws -> (byProperty: Int, byConnection: Int, candidates: Int) {
                    try await conn.run(
                        """
                        SELECT pg_stat_get_xact_numscans('blocks_agency_property_end_idx'::regclass),
                               pg_stat_get_xact_numscans('blocks_connection_uid_key'::regclass),
                               pg_stat_get_xact_tuples_returned('properties_agency_created_idx'::regclass)
                        """
                    ).collect()[0].decode((Int, Int, Int).self)
                }
                /// One page after `cursor` in a transaction of its own, and what its statement read there.
                func search(
                    after cursor: (Int64, UUID)?
                ) async throws -> (page: PostgresRow, reads: (byProperty: Int, byConnection: Int, candidates: Int)) {
                    try await MigrationFixture.scoped(conn, agency: searched) {
                        let before = try await counters()
                        let page = try await conn.run(
                            """
                            SELECT items, next_micros, next_id FROM app_available_page_json(\(searched), date '2030-03-01',
                                date '2030-03-08', 2, \(cursor?.0)::int8, \(cursor?.1)::uuid, 50)
                            """
                        ).collect()
                        let after = try await counters()
                        let reads = (
                            after.byProperty - before.byProperty, after.byConnection - before.byConnection,
                            after.candidates - before.candidates
                        )
                        return (page[0], reads)
                    }
                }
                var cursor: (Int64, UUID)? = nil
                var previousItems: [String] = []
                for pageNumber in 1...2 {
                    let (page, reads) = try await search(after: cursor)
                    let (items, nextMicros, nextId) = try page.decode((String, Int64?, UUID?).self)
                    let pageItems = items.split(separator: "},{").map(String.init)
                    #expect(pageItems.count == 50, "page \(pageNumber)")
                    #expect(Set(pageItems).isDisjoint(with: previousItems), "page \(pageNumber) repeats the page before")
                    previousItems = pageItems
                    // A page of 50 probes 51 candidates (the 51st says there is a next page), and the row number's
                    // window reads one more to close its last row: one descent each.
                    let (byProperty, byConnection, candidates) = reads
                    #expect(
                        (51...52).contains(byProperty) && byConnection == 0,
                        "page \(pageNumber): blocks_agency_property_end_idx \(byProperty), blocks_connection_uid_key \(byConnection)"
                    )
                    // Read in page order from the cursor on, the candidates stop with the page: the same 51–52, not
                    // the agency's 2,000.
                    #expect((51...52).contains(candidates), "page \(pageNumber): the index returned \(candidates) entries")
                    cursor = (try #require(nextMicros, "page \(pageNumber)"), try #require(nextId, "page \(pageNumber)"))
                }
            }
        }
    }
}
