import Foundation
import Hummingbird
import PostgresNIO

/// A property's nights at a glance and the agency-wide availability search (SPEC §11).
struct CalendarController {
    static let defaultNights = 30
    static let maxCalendarNights = 366

    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.propertyCalendar, calendar, inOneStatement: calendarInOneStatement)
        routes.tenant(API.availability, availability, inOneStatement: availabilityInOneStatement)
    }

    /// The calendar's parameters: the property, and `from` and `to` when given (checked together when both are).
    struct CalendarQuery: Sendable {
        let propertyId: UUID
        let from: CalendarDate?
        let to: CalendarDate?

        init(_ request: Request, _ context: some RequestContext) throws {
            propertyId = try context.pathId()
            var query = FieldReader(query: request)
            from = query.date("from")
            to = query.date("to")
            if let from, let to { CalendarController.checkRange(&query, from, to) }
            try query.finish()
        }

        /// `[from, to)`; `from` defaults to `today` (in the property's time zone), `to` to 30 nights later. A `to`
        /// alone may fall before today: checked here.
        func nights(today: @autoclosure () -> CalendarDate) throws -> Nights {
            let start = from ?? today()
            let end = to ?? start + CalendarController.defaultNights
            var range = FieldReader([:])
            CalendarController.checkRange(&range, start, end)
            try range.finish()
            return Nights(start, end)
        }
    }

    /// `GET /api/v1/properties/{id}/calendar?from=&to=`: one entry per night of `[from, to)`; `from`
    /// defaults to today in the property's time zone, `to` to 30 nights later.
    @Sendable func calendar(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let query = try CalendarQuery(request, context)
        let caller = context.caller
        return try await context.read { conn in
            guard let property = try await PropertyRepository.find(conn, agency: caller.agencyId, id: query.propertyId, owner: caller.ownerScope)
            else {
                throw PropertyController.notFound
            }
            let nights = try query.nights(today: CalendarDate.today(in: TimeZone(identifier: property.timezone) ?? .gmt))
            let entries = try await CalendarRepository.entries(conn, agency: caller.agencyId, propertyId: query.propertyId, overlapping: nights)
            return .json(PropertyCalendar(propertyId: query.propertyId, nights: nights, entries: entries))
        }
    }

    /// The same calendar in one statement (`TenantEntry`, `app_property_calendar`) when it names its `from`; nil
    /// sends the request the full way (`calendar`), which also reads the property's time zone for a default `from`.
    @Sendable func calendarInOneStatement(_ call: Call, _ entry: TenantEntry) async throws -> Reply? {
        guard let query = try? CalendarQuery(call.request, call.context), let from = query.from,
            let nights = try? query.nights(today: from)
        else { return nil }
        return try await entry.run { conn in
            let entries = try await CalendarRepository.entries(conn, entering: entry, propertyId: query.propertyId, overlapping: nights)
            return .json(PropertyCalendar(propertyId: query.propertyId, nights: nights, entries: entries))
        }
    }

    static func checkRange(_ query: inout FieldReader, _ from: CalendarDate, _ to: CalendarDate) {
        if to <= from {
            query.fail("to", "must be after from")
        } else if to - from > maxCalendarNights {
            query.fail("to", "a calendar shows at most \(maxCalendarNights) nights")
        }
    }

    /// The search's parameters: the stay, the guests and the page.
    struct AvailabilityQuery: Sendable {
        let page: PageRequest
        let cursor: PageCursor?
        let stay: Nights
        let guests: Int

        init(_ request: Request) throws {
            var query = FieldReader(query: request)
            page = PageRequest(&query)
            let checkIn = query.date("check_in", required: true)
            let checkOut = query.date("check_out", required: true)
            guests = Int(query.int("guests", range: 1...100) ?? 1)
            if let checkIn, let checkOut {
                if checkOut <= checkIn {
                    query.fail("check_out", "must be after check_in")
                } else if checkOut - checkIn > BookingController.maxNights {
                    query.fail("check_out", "a stay is at most \(BookingController.maxNights) nights")
                }
            }
            try query.finish()
            cursor = try page.cursor()
            stay = Nights(checkIn!, checkOut!)
        }
    }

    /// `GET /api/v1/availability?check_in=&check_out=&guests=`: the agency's active properties free
    /// for every night of the stay, fitting the guests and the stay rules; a list like any other.
    @Sendable func availability(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let query = try AvailabilityQuery(request)
        let caller = context.caller
        return try await context.read { conn in
            try await PropertyRepository.available(
                conn,
                agency: caller.agencyId,
                stay: query.stay,
                guests: query.guests,
                cursor: query.cursor,
                limit: query.page.limit
            ).reply
        }
    }

    /// The same search in one statement (`TenantEntry`, `app_availability_json`); nil sends the request the full way.
    @Sendable func availabilityInOneStatement(_ call: Call, _ entry: TenantEntry) async throws -> Reply? {
        guard let query = try? AvailabilityQuery(call.request) else { return nil }
        return try await entry.run { conn in
            try await PropertyRepository.available(
                conn,
                entering: entry,
                stay: query.stay,
                guests: query.guests,
                cursor: query.cursor,
                limit: query.page.limit
            ).reply
        }
    }
}

/// The calendar's answer: `{"days": […], "from", "property_id", "to"}`, one day per night.
struct PropertyCalendar: JSONWritable {
    let propertyId: UUID
    let nights: Nights
    let entries: [CalendarEntry]

    func writeJSON(_ w: inout JSONWriter) {
        let days = Self.holders(of: nights, in: entries)
        w.object { o in
            o.field("days", array: days.indices) { w, n in Self.writeDay(nights.start + n, days[n], entries, &w) }
            o.field("from", nights.start.description)
            o.field("property_id", propertyId)
            o.field("to", nights.end.description)
        }
    }

    /// What holds one night: the first booking and the first block in `entries`' order (indices), and how many do.
    struct Holders {
        var booking: Int?
        var block: Int?
        var count = 0
    }

    /// Each night's holders, in one pass over the entries and their nights (not every entry for every night: a
    /// 90-night calendar asked each entry 90 times).
    static func holders(of nights: Nights, in entries: [CalendarEntry]) -> [Holders] {
        var days = [Holders](repeating: Holders(), count: nights.count)
        let first = nights.start.dayNumber
        for (index, entry) in entries.enumerated() {
            let isBooking = entry.bookingId != nil
            let from = max(entry.nights.start.dayNumber - first, 0)
            let to = min(entry.nights.end.dayNumber - first, days.count)
            for n in from..<max(from, to) {
                days[n].count += 1
                if isBooking {
                    if days[n].booking == nil { days[n].booking = index }
                } else if days[n].block == nil {
                    days[n].block = index
                }
            }
        }
        return days
    }

    /// One night: booked when a confirmed booking holds it, else blocked when a block does; `conflict`
    /// when more than one booking or block claims it (only channel blocks can overlap, SPEC §12).
    static func writeDay(_ night: CalendarDate, _ holders: Holders, _ entries: [CalendarEntry], _ w: inout JSONWriter) {
        let booking = holders.booking.map { entries[$0] }
        let block = holders.block.map { entries[$0] }
        let status = booking != nil ? "booked" : block != nil ? "blocked" : "available"
        w.object { o in
            o.field("block_id", block?.blockId)
            o.field("block_kind", block?.blockKind?.rawValue)
            o.field("booking_id", booking?.bookingId)
            o.field("conflict", holders.count > 1)
            o.field("date", night.description)
            o.field("status", status)
        }
    }
}
