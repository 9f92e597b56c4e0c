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

    init(row: PostgresRow) throws {
        let cells = row.makeRandomAccess()
        id = try cells[0].decode(UUID.self)
        agencyId = try cells[1].decode(UUID.self)
        propertyId = try cells[2].decode(UUID.self)
        guestName = try cells[3].decode(String.self)
        guestEmail = try cells[4].decode(String?.self)
        let checkIn = try cells[5].decode(String.self)
        let checkOut = try cells[6].decode(String.self)
        guard let start = CalendarDate(checkIn), let end = CalendarDate(checkOut), start < end else {
            throw UnknownValue(column: "bookings.check_in/check_out", value: "\(checkIn)/\(checkOut)")
        }
        stay = Nights(start, end)
        guests = try cells[7].decode(Int.self)
        let status = try cells[8].decode(String.self)
        let source = try cells[9].decode(String.self)
        guard let status = Status(rawValue: status) else { throw UnknownValue(column: "bookings.status", value: status) }
        guard let source = Source(rawValue: source) else { throw UnknownValue(column: "bookings.source", value: source) }
        (self.status, self.source) = (status, source)
        totalAmountCents = try cells[10].decode(Int64?.self)
        currency = try cells[11].decode(String?.self)
        notes = try cells[12].decode(String?.self)
        createdBy = try cells[13].decode(UUID?.self)
        createdAt = try cells[14].decode(Date.self)
        cancelledAt = try cells[15].decode(Date?.self)
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "property_id": JSONValue(propertyId),
            "guest_name": .string(guestName), "guest_email": JSONValue(guestEmail), "check_in": .string(stay.start.description),
            "check_out": .string(stay.end.description), "guests": .int(Int64(guests)), "status": .string(status.rawValue),
            "source": .string(source.rawValue),
            "total_amount_cents": JSONValue(totalAmountCents), "currency": JSONValue(currency), "notes": JSONValue(notes),
            "created_by": JSONValue(createdBy), "created_at": JSONValue(createdAt), "cancelled_at": JSONValue(cancelledAt),
        ]
    }
}
