import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// Nothing sells a night twice (SPEC §11): confirmed bookings and manual blocks exclude each other in
/// the database, in every combination, also under racing requests; channel blocks are the exception.
@Suite struct OverlapTests {
    @Test func bookingsAndBlocksExcludeEachOtherAndNameWhatTheyHit() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let booking = try #require(
                try await api.createBooking(agency, property: property, checkIn: "2031-01-10", checkOut: "2031-01-15")["id"]?.uuid
            )
            let block = try #require(try await api.createBlock(agency, property: property, start: "2031-01-20", end: "2031-01-25")["id"]?.uuid)

            // booking over booking, block over booking, booking over block, block over block
            let bb = try await api.createBooking(agency, property: property, checkIn: "2031-01-14", checkOut: "2031-01-16")
            #expect(bb.status == .conflict && bb.errorCode == "BOOKING_CONFLICT" && conflicting(bb, "conflicting_booking_id") == booking)
            let kb = try await api.createBlock(agency, property: property, start: "2031-01-12", end: "2031-01-13")
            #expect(kb.status == .conflict && kb.errorCode == "BLOCK_CONFLICT" && conflicting(kb, "conflicting_booking_id") == booking)
            let bk = try await api.createBooking(agency, property: property, checkIn: "2031-01-18", checkOut: "2031-01-21")
            #expect(bk.status == .conflict && bk.errorCode == "BOOKING_CONFLICT" && conflicting(bk, "conflicting_block_id") == block)
            #expect(bk.json["error"]?["details"]?["conflicting_booking_id"] == nil)
            let kk = try await api.createBlock(agency, property: property, start: "2031-01-24", end: "2031-02-01", kind: "hold")
            #expect(kk.status == .conflict && kk.errorCode == "BLOCK_CONFLICT" && conflicting(kk, "conflicting_block_id") == block)

            // Adjacent nights are fine every way round: check-out day = next first night.
            #expect(try await api.createBlock(agency, property: property, start: "2031-01-15", end: "2031-01-17").status == .created)
            #expect(try await api.createBooking(agency, property: property, checkIn: "2031-01-17", checkOut: "2031-01-20").status == .created)
            #expect(try await api.createBlock(agency, property: property, start: "2031-01-25", end: "2031-01-26").status == .created)
            #expect(try await api.createBooking(agency, property: property, checkIn: "2031-01-05", checkOut: "2031-01-10").status == .created)

            // Freed nights can be sold again: a cancelled booking, a deleted block.
            #expect(try await api.send(.post, "/api/v1/bookings/\(booking)/cancel", token: agency.admin.token).status == .ok)
            #expect(try await api.createBlock(agency, property: property, start: "2031-01-10", end: "2031-01-15").status == .created)
            #expect(try await api.send(.delete, "/api/v1/blocks/\(block)", token: agency.admin.token).status == .noContent)
            #expect(try await api.createBooking(agency, property: property, checkIn: "2031-01-20", checkOut: "2031-01-25").status == .created)

            // Another property's nights are its own.
            let other = try await api.createProperty(agency, name: "Other")
            #expect(try await api.createBlock(agency, property: other, start: "2031-01-10", end: "2031-01-25").status == .created)
        }
    }

    @Test func theDatabaseRefusesOverlapsThatSkipTheAPI() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            _ = try await api.createBooking(agency, property: property, checkIn: "2031-03-10", checkOut: "2031-03-15")
            // A block written straight to the table, past every check in Swift, still cannot share a night.
            do {
                try await api.services.db.transaction(.tenant(agency.id, user: nil)) { conn in
                    try await conn.run(
                        """
                        INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind)
                        VALUES (\(agency.id), \(property), '2031-03-14', '2031-03-16', 'hold')
                        """
                    )
                }
                Issue.record("an overlapping block was stored")
            } catch {
                #expect(isPostgresError(error, state: SQLState.exclusionViolation, constraint: "occupancy_no_overlap"), "\(error)")
            }
        }
    }

    @Test func channelBlocksAreStoredOverAnythingButRefuseDirectBookings() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let connection = try await api.createConnection(agency, property: property)
            let booking = try #require(
                try await api.createBooking(agency, property: property, checkIn: "2031-05-01", checkOut: "2031-05-05")["id"]?.uuid
            )
            let manual = try #require(try await api.createBlock(agency, property: property, start: "2031-05-10", end: "2031-05-12")["id"]?.uuid)
            // What another channel already sold is recorded even where it overlaps (a conflict, SPEC §12).
            let overBooking = try await api.insertChannelBlock(
                agency,
                property: property,
                connection: connection,
                start: "2031-05-03",
                end: "2031-05-06"
            )
            _ = try await api.insertChannelBlock(agency, property: property, connection: connection, start: "2031-05-11", end: "2031-05-13")
            let free = try await api.insertChannelBlock(agency, property: property, connection: connection, start: "2031-06-01", end: "2031-06-04")

            let direct = try await api.createBooking(agency, property: property, checkIn: "2031-06-03", checkOut: "2031-06-05")
            #expect(direct.status == .conflict && direct.errorCode == "BOOKING_CONFLICT" && conflicting(direct, "conflicting_block_id") == free)
            let hold = try await api.createBlock(agency, property: property, start: "2031-06-02", end: "2031-06-03", kind: "hold")
            #expect(hold.status == .conflict && conflicting(hold, "conflicting_block_id") == free)
            // The booking the channel block overlaps is still the one a new stay hits first.
            let again = try await api.createBooking(agency, property: property, checkIn: "2031-05-04", checkOut: "2031-05-06")
            #expect(conflicting(again, "conflicting_booking_id") == booking)

            let days = try await api.calendarDays(agency, property: property, from: "2031-05-01", to: "2031-05-14")
            #expect(days["2031-05-02"]?["conflict"] == false && days["2031-05-02"]?["status"] == "booked")
            #expect(days["2031-05-03"]?["conflict"] == true && days["2031-05-03"]?["booking_id"]?.uuid == booking)
            #expect(days["2031-05-04"]?["block_id"]?.uuid == overBooking && days["2031-05-04"]?["block_kind"] == "channel")
            #expect(days["2031-05-05"]?["status"] == "blocked" && days["2031-05-05"]?["conflict"] == false)
            #expect(days["2031-05-11"]?["conflict"] == true && days["2031-05-11"]?["block_id"]?.uuid == manual)
            #expect(days["2031-05-12"]?["conflict"] == false && days["2031-05-12"]?["block_kind"] == "channel")
        }
    }

    /// 16 requests for the same nights, half bookings and half blocks, all at once: exactly one wins.
    @Test func sixteenRacingBookingsAndBlocksHaveExactlyOneWinner() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let statuses = try await withThrowingTaskGroup(of: (Bool, HTTPResponse.Status).self) { group in
                for i in 0..<16 {
                    group.addTask {
                        // Every request overlaps every other: all of them hold the night of the 12th.
                        let start = "2031-08-\(10 + i % 3)"
                        let end = "2031-08-\(13 + i % 2)"
                        let r =
                            i.isMultiple(of: 2)
                            ? try await api.createBooking(agency, property: property, checkIn: start, checkOut: end)
                            : try await api.createBlock(agency, property: property, start: start, end: end)
                        return (i.isMultiple(of: 2), r.status)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0.1 == .created }.count == 1, "\(statuses)")
            #expect(statuses.filter { $0.1 == .conflict }.count == 15, "\(statuses)")
            let bookings = try await api.send(.get, "/api/v1/bookings?property_id=\(property)", token: agency.admin.token).data
            let blocks = try await api.send(.get, "/api/v1/blocks?property_id=\(property)", token: agency.admin.token).data
            #expect(bookings.count + blocks.count == 1)
        }
    }
}
