import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// `GET /api/v1/properties/{id}/calendar` (SPEC §11): one entry per night, row by row.
@Suite struct CalendarViewTests {
    @Test func everyNightIsOneRowInOrder() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let booking = try #require(
                try await api.createBooking(agency, property: property, checkIn: "2031-04-02", checkOut: "2031-04-04")["id"]?.uuid
            )
            let block = try #require(
                try await api.createBlock(agency, property: property, start: "2031-04-04", end: "2031-04-06", kind: "owner_stay")["id"]?.uuid
            )
            // A cancelled booking frees its nights in the calendar too.
            let cancelled = try #require(
                try await api.createBooking(agency, property: property, checkIn: "2031-04-07", checkOut: "2031-04-08")["id"]?.uuid
            )
            _ = try await api.send(.post, "/api/v1/bookings/\(cancelled)/cancel", token: agency.admin.token)

            let r = try await api.send(
                .get,
                "/api/v1/properties/\(property)/calendar?from=2031-04-01&to=2031-04-09",
                token: agency.token(.accountant)
            )
            #expect(r.status == .ok)
            #expect(r["property_id"]?.uuid == property && r["from"] == "2031-04-01" && r["to"] == "2031-04-09")
            let days = try #require(r["days"]?.arrayValue)
            func row(_ date: String, _ status: String, booking: UUID? = nil, block: UUID? = nil, kind: String? = nil) -> JSONValue {
                [
                    "date": .string(date), "status": .string(status), "booking_id": JSONValue(booking), "block_id": JSONValue(block),
                    "block_kind": JSONValue(kind), "conflict": false,
                ]
            }
            let expected: [JSONValue] = [
                row("2031-04-01", "available"),
                row("2031-04-02", "booked", booking: booking), row("2031-04-03", "booked", booking: booking),
                row("2031-04-04", "blocked", block: block, kind: "owner_stay"), row("2031-04-05", "blocked", block: block, kind: "owner_stay"),
                row("2031-04-06", "available"), row("2031-04-07", "available"), row("2031-04-08", "available"),
            ]
            #expect(days == expected)
        }
    }

    /// The holders are found from the last confirmed stay that starts by `from` (confirmed stays never overlap) and
    /// from the blocks that end after it (migration 0022): a stay from long before reaches into the range even when
    /// a cancelled one starts after it, and a new stay over its nights is refused.
    @Test func stayFromBeforeTheRangeIsFoundPastACancelledOne() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            func book(_ checkIn: String, _ checkOut: String) async throws -> UUID {
                let r = try await api.createBooking(agency, property: property, checkIn: checkIn, checkOut: checkOut)
                return try #require(r["id"]?.uuid, "\(r.raw)")
            }
            _ = try await book("2031-04-20", "2031-04-25")
            let cancelled = try await book("2031-05-08", "2031-05-09")
            #expect(try await api.send(.post, "/api/v1/bookings/\(cancelled)/cancel", token: agency.admin.token).status == .ok)
            let long = try await book("2031-05-01", "2031-05-11")
            let block = try #require(try await api.createBlock(agency, property: property, start: "2031-05-12", end: "2031-05-13")["id"]?.uuid)
            let after = try await book("2031-05-14", "2031-05-20")

            let days = try await api.calendarDays(agency, property: property, from: "2031-05-10", to: "2031-05-16")
            let holders = days.keys.sorted().map { date in
                let day = days[date]!
                return "\(day["status"]?.stringValue ?? "?") \((day["booking_id"]?.uuid ?? day["block_id"]?.uuid)?.uuidString ?? "-")"
            }
            let free = "available -"
            #expect(holders == ["booked \(long)", free, "blocked \(block)", free, "booked \(after)", "booked \(after)"])

            let over = try await api.createBooking(agency, property: property, checkIn: "2031-05-09", checkOut: "2031-05-10")
            #expect(over.status == .conflict && over.errorCode == "BOOKING_CONFLICT", "\(over.raw)")
            #expect(try await api.createBooking(agency, property: property, checkIn: "2031-05-11", checkOut: "2031-05-12").status == .created)
        }
    }

    /// The night-by-night holders the calendar writes, without a database: entries that begin before the range
    /// or end after it, bookings over blocks, two blocks or two bookings on one night (the first one named), and
    /// entries wholly outside the range or ending on its first night.
    @Test func eachNightsHoldersComeFromOnePassOverTheEntries() throws {
        func date(_ s: String) throws -> CalendarDate { try #require(CalendarDate(s)) }
        func nights(_ a: String, _ b: String) throws -> Nights { Nights(try date(a), try date(b)) }
        let (booking, blockA, blockB) = (UUID(), UUID(), UUID())
        let entries = [
            CalendarEntry(holder: .block(blockA, .ownerStay), nights: try nights("2031-03-20", "2031-04-03")),
            CalendarEntry(holder: .booking(booking), nights: try nights("2031-04-02", "2031-04-05")),
            CalendarEntry(holder: .block(blockB, .maintenance), nights: try nights("2031-04-02", "2031-04-30")),
            CalendarEntry(holder: .booking(UUID()), nights: try nights("2031-03-01", "2031-04-01")),
            CalendarEntry(holder: .booking(UUID()), nights: try nights("2031-05-01", "2031-05-03")),
            CalendarEntry(holder: .booking(UUID()), nights: try nights("2031-04-03", "2031-04-04")),
        ]
        let days = PropertyCalendar.holders(of: try nights("2031-04-01", "2031-04-07"), in: entries)
        #expect(days.map(\.count) == [1, 3, 3, 2, 1, 1])
        #expect(days.map(\.booking) == [nil, 1, 1, 1, nil, nil])
        #expect(days.map(\.block) == [0, 0, 2, 2, 2, 2])
    }

    @Test func fromDefaultsToTodayInThePropertysTimeZoneAndToThirtyNightsLater() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            // UTC+14 and UTC-11: for 11 hours of every day their dates differ by one; both must be their own.
            for zone in ["Pacific/Kiritimati", "Pacific/Pago_Pago"] {
                let id = try await api.createProperty(agency, name: "P", maxGuests: 2, timezone: zone)
                let before = CalendarDate.today(in: TimeZone(identifier: zone)!)
                let r = try await api.send(.get, "/api/v1/properties/\(id)/calendar", token: agency.admin.token)
                let after = CalendarDate.today(in: TimeZone(identifier: zone)!)
                let from = try #require(r["from"]?.stringValue.flatMap(CalendarDate.init))
                #expect(from == before || from == after, "\(zone): \(from)")
                #expect(r["to"]?.stringValue == (from + 30).description)
                #expect(r["days"]?.arrayValue?.count == 30)
                #expect(r["days"]?.arrayValue?.first?["date"]?.stringValue == from.description)
            }
        }
    }

    @Test func rangesOutsideTheLimitsAreRefused() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            func get(_ query: String) async throws -> APIResponse {
                try await api.send(.get, "/api/v1/properties/\(property)/calendar?\(query)", token: agency.admin.token)
            }
            #expect(fields(try await get("from=2031-01-05&to=2031-01-05")) == ["to"])
            #expect(fields(try await get("from=2031-01-05&to=2031-01-01")) == ["to"])
            #expect(fields(try await get("from=2031-01-01&to=2032-01-03")) == ["to"])  // 367 nights
            #expect(try await get("from=2031-01-01&to=2032-01-02").json["days"]?.arrayValue?.count == 366)
            #expect(fields(try await get("to=2001-01-01")) == ["to"])  // before today, from's default
            #expect(fields(try await get("from=yesterday&to=2031-13-01")) == ["from", "to"])
            let onlyFrom = try await get("from=2031-02-27")
            #expect(onlyFrom["to"] == "2031-03-29" && onlyFrom.json["days"]?.arrayValue?.count == 30)
            let badId = try await api.send(.get, "/api/v1/properties/nope/calendar", token: agency.admin.token)
            #expect(badId.status == .unprocessableContent && fields(badId) == ["id"])
            let missing = try await api.send(.get, "/api/v1/properties/\(UUID())/calendar", token: agency.admin.token)
            #expect(missing.status == .notFound && missing.errorCode == "PROPERTY_NOT_FOUND")
        }
    }

    @Test func ownersSeeOnlyTheirOwnPropertiesCalendars() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let owner = agency.members[.owner]!
            let mine = try await api.createProperty(agency, owner: owner.id)
            let notMine = try await api.createProperty(agency)
            #expect(try await api.send(.get, "/api/v1/properties/\(mine)/calendar", token: owner.token).status == .ok)
            let hidden = try await api.send(.get, "/api/v1/properties/\(notMine)/calendar", token: owner.token)
            #expect(hidden.status == .notFound && hidden.errorCode == "PROPERTY_NOT_FOUND")
        }
    }
}

/// Stay rules on properties (SPEC §11): min_nights and max_nights.
@Suite struct StayRuleTests {
    @Test func defaultsValidationAndPatch() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let created = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, json: ["name": "P", "max_guests": 2])
            #expect(created["min_nights"] == 1 && created["max_nights"] == 365)
            let id = try #require(created["id"]?.uuid)
            let bad = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: ["name": "P", "max_guests": 2, "min_nights": 0, "max_nights": 366]
            )
            #expect(fields(bad) == ["max_nights", "min_nights"])
            let reversed = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: ["name": "P", "max_guests": 2, "min_nights": 7, "max_nights": 3]
            )
            #expect(fields(reversed) == ["max_nights", "min_nights"])
            let patched = try await api.send(.patch, "/api/v1/properties/\(id)", token: agency.admin.token, json: ["min_nights": 3])
            #expect(patched["min_nights"] == 3 && patched["max_nights"] == 365)
            // Against the stored min_nights: only the field sent is named.
            let tooShort = try await api.send(.patch, "/api/v1/properties/\(id)", token: agency.admin.token, json: ["max_nights": 2])
            #expect(fields(tooShort) == ["max_nights"])
            let types = try await api.send(.patch, "/api/v1/properties/\(id)", token: agency.admin.token, json: ["max_nights": "7"])
            #expect(fields(types) == ["max_nights"])
            let unchanged = try await api.send(.get, "/api/v1/properties/\(id)", token: agency.admin.token)
            #expect(unchanged["min_nights"] == 3 && unchanged["max_nights"] == 365)
        }
    }

    @Test func aBookingOutsideTheRulesIsRefusedWithTheRules() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let p = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: ["name": "P", "max_guests": 4, "min_nights": 3, "max_nights": 7]
            )
            let property = try #require(p["id"]?.uuid)
            for (checkIn, checkOut, nights) in [("2031-06-01", "2031-06-03", 2), ("2031-06-01", "2031-06-09", 8)] {
                let r = try await api.createBooking(agency, property: property, checkIn: checkIn, checkOut: checkOut)
                #expect(r.status == .unprocessableContent && r.errorCode == "STAY_RULES_VIOLATED")
                #expect(r.json["error"]?["details"] == ["nights": .int(Int64(nights)), "min_nights": 3, "max_nights": 7])
            }
            #expect(try await api.createBooking(agency, property: property, checkIn: "2031-06-01", checkOut: "2031-06-04").status == .created)
            #expect(try await api.createBooking(agency, property: property, checkIn: "2031-06-04", checkOut: "2031-06-11").status == .created)
        }
    }
}
