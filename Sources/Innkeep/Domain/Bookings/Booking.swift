import Foundation
import PostgresNIO

/// A stay at a property, half-open `[check_in, check_out)` (SPEC §4).
public struct Booking: Sendable {
    public enum Status: String, CaseIterable, Sendable { case confirmed, cancelled }
    public enum Source: String, CaseIterable, Sendable { case direct, airbnb, booking_com, vrbo, other }

    public var id: UUID
    public var agencyId: UUID
    public var propertyId: UUID
    public var guestName: String
    public var guestEmail: String?
    /// `[check_in, check_out)`: the nights the stay occupies.
    public var stay: Nights
    public var guests: Int
    public var status: Status
    public var source: Source
    public var totalAmountCents: Int64?
    public var currency: String?
    public var notes: String?
    public var createdBy: UUID?
    public var createdAt: Date
    public var cancelledAt: Date?

    static let columns = """
        b.id, b.agency_id, b.property_id, b.guest_name, b.guest_email, b.check_in::text, b.check_out::text, b.guests, b.status, b.source,
        b.total_amount_cents, b.currency, b.notes, b.created_by, b.created_at, b.cancelled_at
        """

    /// A new confirmed booking as `BookingRepository.Insert` writes it: a fresh id, created at `now` (the
    /// transaction's `now()`, which the insert uses as well).
    init(creating n: BookingRepository.New, agency: UUID, createdBy: UUID, now: Date) {
        (id, agencyId, propertyId) = (UUID.random(), agency, n.propertyId)
        (guestName, guestEmail, stay, guests) = (n.guestName, n.guestEmail, n.stay, n.guests)
        (status, source) = (.confirmed, n.source)
        (totalAmountCents, currency, notes) = (n.totalAmountCents, n.currency, n.notes)
        (self.createdBy, createdAt, cancelledAt) = (createdBy, now, nil)
    }

    init(row: PostgresRow) throws {
        var r = RowReader(row)
        (id, agencyId, propertyId) = (try r.next(), try r.next(), try r.next())
        (guestName, guestEmail) = (try r.next(), try r.next())
        let checkIn: String = try r.next()
        let checkOut: String = try r.next()
        guard let start = CalendarDate(checkIn), let end = CalendarDate(checkOut), start < end else {
            throw UnknownValue(column: "bookings.check_in/check_out", value: "\(checkIn)/\(checkOut)")
        }
        stay = Nights(start, end)
        guests = try r.next()
        let status: String = try r.next()
        let source: String = try r.next()
        guard let status = Status(rawValue: status) else { throw UnknownValue(column: "bookings.status", value: status) }
        guard let source = Source(rawValue: source) else { throw UnknownValue(column: "bookings.source", value: source) }
        (self.status, self.source) = (status, source)
        (totalAmountCents, currency, notes) = (try r.next(), try r.next(), try r.next())
        (createdBy, createdAt, cancelledAt) = (try r.next(), try r.next(), try r.next())
    }
}

extension Booking: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { o in
            o.field("agency_id", agencyId)
            o.field("cancelled_at", cancelledAt)
            o.field("check_in", stay.start.description)
            o.field("check_out", stay.end.description)
            o.field("created_at", createdAt)
            o.field("created_by", createdBy)
            o.field("currency", currency)
            o.field("guest_email", guestEmail)
            o.field("guest_name", guestName)
            o.field("guests", guests)
            o.field("id", id)
            o.field("notes", notes)
            o.field("property_id", propertyId)
            o.field("source", source.rawValue)
            o.field("status", status.rawValue)
            o.field("total_amount_cents", totalAmountCents)
        }
    }
}
