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
    public var checkIn: String
    public var checkOut: String
    public var guests: Int
    public var status: String
    public var source: String
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
        checkIn = try cells[5].decode(String.self)
        checkOut = try cells[6].decode(String.self)
        guests = try cells[7].decode(Int.self)
        status = try cells[8].decode(String.self)
        source = try cells[9].decode(String.self)
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
            "guest_name": .string(guestName), "guest_email": JSONValue(guestEmail), "check_in": .string(checkIn),
            "check_out": .string(checkOut), "guests": .int(Int64(guests)), "status": .string(status), "source": .string(source),
            "total_amount_cents": JSONValue(totalAmountCents), "currency": JSONValue(currency), "notes": JSONValue(notes),
            "created_by": JSONValue(createdBy), "created_at": JSONValue(createdAt), "cancelled_at": JSONValue(cancelledAt),
        ]
    }
}

/// Booking queries; every method filters by agency, and `owner` narrows to one owner's properties.
public enum BookingRepository {
    public struct Filter: Sendable {
        var propertyId: UUID?
        var status: Booking.Status?
        var from: CalendarDate?
        var to: CalendarDate?
    }

    public static func find(_ conn: PostgresConnection, agency: UUID, id: UUID, owner: UUID? = nil, forUpdate: Bool = false) async throws -> Booking? {
        try await conn.run("""
            SELECT \(unescaped: Booking.columns) FROM bookings b
            WHERE b.agency_id = \(agency) AND b.id = \(id)
              AND (\(owner)::uuid IS NULL OR EXISTS (
                  SELECT 1 FROM properties p WHERE p.agency_id = b.agency_id AND p.id = b.property_id AND p.owner_id = \(owner)))
            \(unescaped: forUpdate ? "FOR UPDATE OF b" : "")
            """).collect().first.map(Booking.init(row:))
    }

    /// Newest first; `from`/`to` keep stays that overlap `[from, to)`.
    ///
    /// The `&&` on the closed range `[from, to]` is implied by the two comparisons after it (it only adds
    /// stays that start on `to`, which they drop again) and lets the stay index find the overlapping
    /// stays directly (migration 0008).
    public static func list(_ conn: PostgresConnection, agency: UUID, owner: UUID?, filter f: Filter, cursor: PageCursor?, limit: Int) async throws -> [Booking] {
        try await conn.run("""
            SELECT \(unescaped: Booking.columns) FROM bookings b
            WHERE b.agency_id = \(agency)
              AND (\(owner)::uuid IS NULL OR EXISTS (
                  SELECT 1 FROM properties p WHERE p.agency_id = b.agency_id AND p.id = b.property_id AND p.owner_id = \(owner)))
              AND (\(f.propertyId)::uuid IS NULL OR b.property_id = \(f.propertyId))
              AND (\(f.status?.rawValue)::text IS NULL OR b.status = \(f.status?.rawValue))
              AND (\(f.from?.description)::date IS NULL AND \(f.to?.description)::date IS NULL
                   OR daterange(b.check_in, b.check_out, '[)') && daterange(\(f.from?.description)::date, \(f.to?.description)::date, '[]'))
              AND (\(f.from?.description)::date IS NULL OR b.check_out > \(f.from?.description)::date)
              AND (\(f.to?.description)::date IS NULL OR b.check_in < \(f.to?.description)::date)
              AND (\(cursor?.micros)::int8 IS NULL OR (b.created_at, b.id) < (timestamptz 'epoch' + \(cursor?.micros)::int8 * interval '1 microsecond', \(cursor?.id)))
            ORDER BY b.created_at DESC, b.id DESC LIMIT \(limit)
            """).collect().map(Booking.init(row:))
    }

    public struct New: Sendable {
        var propertyId: UUID, guestName: String, guestEmail: String?, checkIn: CalendarDate, checkOut: CalendarDate
        var guests: Int, source: Booking.Source, totalAmountCents: Int64?, currency: String?, notes: String?
    }

    public static func insert(_ conn: PostgresConnection, agency: UUID, createdBy: UUID, _ n: New) async throws -> Booking {
        try await conn.run("""
            WITH b AS (
                INSERT INTO bookings (agency_id, property_id, guest_name, guest_email, check_in, check_out, guests, source,
                                      total_amount_cents, currency, notes, created_by)
                VALUES (\(agency), \(n.propertyId), \(n.guestName), \(n.guestEmail), \(n.checkIn.description)::date, \(n.checkOut.description)::date,
                        \(n.guests), \(n.source.rawValue), \(n.totalAmountCents), \(n.currency), \(n.notes), \(createdBy))
                RETURNING *)
            SELECT \(unescaped: Booking.columns) FROM b
            """).collect().map(Booking.init(row:))[0]
    }

    public static func cancel(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> Booking {
        try await conn.run("""
            WITH b AS (
                UPDATE bookings SET status = 'cancelled', cancelled_at = now()
                WHERE agency_id = \(agency) AND id = \(id) RETURNING *)
            SELECT \(unescaped: Booking.columns) FROM b
            """).collect().map(Booking.init(row:))[0]
    }
}
