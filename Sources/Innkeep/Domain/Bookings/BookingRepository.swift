import Foundation
import PostgresNIO

/// Booking queries; every method filters by agency, and `owner` narrows to one owner's properties.
public enum BookingRepository {
    public struct Filter: Sendable {
        var propertyId: UUID?
        var status: Booking.Status?
        var from: CalendarDate?
        var to: CalendarDate?
    }

    public static func find(_ conn: PostgresConnection, agency: UUID, id: UUID, owner: UUID? = nil, forUpdate: Bool = false) async throws -> Booking?
    {
        try await conn.run(
            """
            SELECT \(unescaped: Booking.columns) FROM bookings b
            WHERE b.agency_id = \(agency) AND b.id = \(id)
              AND (\(owner)::uuid IS NULL OR EXISTS (
                  SELECT 1 FROM properties p WHERE p.agency_id = b.agency_id AND p.id = b.property_id AND p.owner_id = \(owner)))
            \(unescaped: forUpdate ? "FOR UPDATE OF b" : "")
            """
        ).collect().first.map(Booking.init(row:))
    }

    /// One page of the agency's bookings, newest first, as JSON; `from`/`to` keep stays that overlap `[from, to)`.
    /// The query is `app_bookings_page_json` (migration 0017, the rows of `app_bookings_page`, migration 0016),
    /// which both list paths run. Its `&&` on the closed range `[from, to]` was meant for a GiST index (migration
    /// 0008) that row-level security kept it from using (`&&` is not leakproof), and that 0022 dropped: the stays
    /// of the property (of the agency, without `property_id`) that start before `to` and after `from` − 365 (no stay
    /// is longer: migration 0023) are read and filtered. The comparisons after it drop the stays that start on `to`.
    static func list(
        _ conn: PostgresConnection,
        agency: UUID,
        owner: UUID?,
        filter f: Filter,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> JSONPage {
        try await JSONPage(
            conn.run(
                """
                SELECT * FROM app_bookings_page_json(\(agency), \(owner)::uuid, \(f.propertyId)::uuid, \(f.status?.rawValue)::text,
                    \(f.from?.description)::date, \(f.to?.description)::date, \(cursor?.micros)::int8, \(cursor?.id)::uuid, \(limit)::int)
                """
            ).collect()
        )
    }

    /// The same page in the statement that admits the caller (`app_list_bookings_json`, as
    /// `PropertyRepository.list(_:entering:…)`).
    static func list(
        _ conn: PostgresConnection,
        entering entry: TenantEntry,
        filter f: Filter,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> JSONPage {
        try await JSONPage(entry.services.db.send(ListStatement(entry: entry, filter: f, cursor: cursor, limit: limit), on: conn))
    }

    /// `app_list_bookings_json`'s statement.
    struct ListStatement: FixedStatement {
        static let name = "bookings_list"
        static let sql = """
            SELECT items, next_micros, next_id FROM app_list_bookings_json($1, $2::uuid, $3, $4::uuid, $5::text, $6::date, $7::date,
                $8::int8, $9::uuid, $10::int)
            """
        static let bindingDataTypes: [PostgresDataType] = [.uuid, .uuid, .textArray, .uuid, .text, .text, .text, .int8, .uuid, .int8]
        let entry: TenantEntry, filter: Filter, cursor: PageCursor?, limit: Int

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 10)
            b.append(entry.userId)
            b.append(entry.agency)
            b.append(entry.roles)
            b.append(filter.propertyId)
            b.append(filter.status?.rawValue)
            b.append(filter.from?.description)
            b.append(filter.to?.description)
            b.append(cursor?.micros)
            b.append(cursor?.id)
            b.append(limit)
            return b
        }
    }

    public struct New: Sendable {
        var propertyId: UUID, guestName: String, guestEmail: String?, stay: Nights
        var guests: Int, source: Booking.Source, totalAmountCents: Int64?, currency: String?, notes: String?
    }

    /// Admits the caller and writes a new booking, its audit row and its `booking.created` event in one
    /// statement (`app_create_booking`, migration 0018), as `BookingController.create` writes them; the
    /// booking's JSON. Raises IK422 (`TenantEntry.notCreated`) for a booking the full path would refuse, and
    /// 57014 (nothing written) when it runs past `entry.budgetMilliseconds`, when the caller was answered 503. With a claimed
    /// `Idempotency-Key` (`entry.claim`), the booking goes to the claim's agency and the same statement records
    /// the answer, 201 and the JSON, on the key (`app_keep_answer`, migration 0020; IK422 if the key is gone).
    static func create(_ conn: PostgresConnection, entering entry: TenantEntry, _ n: New) async throws -> String {
        let booking = try await entry.services.db.send(CreateStatement(entry: entry, new: n), on: conn)[0].decode(String.self)
        entry.claim?.answeredInItsStatement()
        return booking
    }

    /// `app_create_booking`'s statement, its answer kept on the claimed key (`app_keep_answer`) when there is one.
    struct CreateStatement: FixedStatement {
        static let name = "booking_create"
        static let sql = """
            SELECT app_keep_answer($1, $2::text, 201, app_create_booking($1, $3::uuid, $4, $5, $6, $7::text, $8::date, $9::date,
                $10::int, $11, $12::int8, $13::text, $14::text, $15::int))
            """
        static let bindingDataTypes: [PostgresDataType] = [
            .uuid, .text, .uuid, .textArray, .uuid, .text, .text, .text, .text, .int8, .text, .int8, .text, .text, .int8,
        ]
        let entry: TenantEntry, new: New

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 15)
            b.append(entry.userId)
            b.append(entry.claim?.key)
            b.append(entry.claim?.agencyId ?? entry.agency)
            b.append(entry.roles)
            b.append(new.propertyId)
            b.append(new.guestName)
            b.append(new.guestEmail)
            b.append(new.stay.start.description)
            b.append(new.stay.end.description)
            b.append(new.guests)
            b.append(new.source.rawValue)
            b.append(new.totalAmountCents)
            b.append(new.currency)
            b.append(new.notes)
            b.append(entry.budgetMilliseconds)
            return b
        }
    }

    /// The insert of a new booking, which `Outbox.emit` runs in the statement of its event and audit row: every
    /// column is chosen here (`Booking(creating:…)`), so the reply and the event need nothing back from it.
    struct Insert: ActionWrite {
        let booking: Booking

        func appendWithItem(to sql: inout PostgresQuery.StringInterpolation) {
            let b = booking
            sql.appendLiteral(
                """
                new_booking AS (
                    INSERT INTO bookings (agency_id, id, property_id, guest_name, guest_email, check_in, check_out, guests, status, source,
                                          total_amount_cents, currency, notes, created_by, created_at)
                    VALUES (
                """
            )
            sql.appendInterpolation(b.agencyId)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.id)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.propertyId)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.guestName)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.guestEmail)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.stay.start.description)
            sql.appendLiteral("::date, ")
            sql.appendInterpolation(b.stay.end.description)
            sql.appendLiteral("::date, ")
            sql.appendInterpolation(b.guests)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.status.rawValue)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.source.rawValue)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.totalAmountCents)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.currency)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.notes)
            sql.appendLiteral(", ")
            sql.appendInterpolation(b.createdBy)
            // The transaction's own now(): the `createdAt` the caller read with `findWithFirstHolder`.
            sql.appendLiteral(", now()))")
        }
    }

    public static func cancel(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> Booking {
        try await conn.run(
            """
            WITH b AS (
                UPDATE bookings SET status = 'cancelled', cancelled_at = now()
                WHERE agency_id = \(agency) AND id = \(id) RETURNING *)
            SELECT \(unescaped: Booking.columns) FROM b
            """
        ).collect().map(Booking.init(row:))[0]
    }
}
