import Foundation
import PostgresNIO

/// Property queries. Every method takes the agency id and filters by it; `owner` narrows to one
/// owner's properties (an owner caller sees only their own).
public enum PropertyRepository {
    public static func find(_ conn: PostgresConnection, agency: UUID, id: UUID, owner: UUID? = nil, forUpdate: Bool = false) async throws -> Property?
    {
        let rows = try await conn.run(
            """
            SELECT \(unescaped: Property.columns) FROM properties
            WHERE agency_id = \(agency) AND id = \(id) AND (\(owner)::uuid IS NULL OR owner_id = \(owner))
            \(unescaped: forUpdate ? "FOR UPDATE" : "")
            """
        ).collect()
        return try rows.first.map(Property.init(row:))
    }

    /// The property a new stay or block goes into, with the first booking or block that already holds one of
    /// `nights` (`CalendarRepository.firstHolder`), in one round trip. `owner` narrows as in `find`.
    /// `now` is the transaction's `now()`: what a row inserted in it gets as `created_at`.
    static func findWithFirstHolder(
        _ conn: PostgresConnection,
        agency: UUID,
        id: UUID,
        owner: UUID? = nil,
        nights: Nights
    ) async throws -> (property: Property, holder: CalendarEntry?, now: Date)? {
        let rows = try await conn.run(
            """
            SELECT \(unescaped: Property.columns), now(), h.* FROM properties
            LEFT JOIN LATERAL (\(holdersOf: id, agency: agency, overlapping: nights, limit: 1)) h (h_rank, h_id, h_kind, h_first, h_end) ON true
            WHERE agency_id = \(agency) AND id = \(id) AND (\(owner)::uuid IS NULL OR owner_id = \(owner))
            """
        ).collect()
        return try rows.first.map { row in
            var r = RowReader(row)
            let property = try Property(&r)
            let now: Date = try r.next()
            return (property, try CalendarEntry(&r), now)
        }
    }

    /// One page of the agency's properties, newest first, as JSON: `app_properties_page_json` (migration 0017,
    /// the query of `app_properties_page`), which both list paths run.
    static func list(
        _ conn: PostgresConnection,
        agency: UUID,
        owner: UUID?,
        status: Property.Status?,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> JSONPage {
        try await JSONPage(
            conn.run(
                """
                SELECT * FROM app_properties_page_json(\(agency), \(owner)::uuid, \(status?.rawValue)::text, \(cursor?.micros)::int8,
                    \(cursor?.id)::uuid, \(limit)::int)
                """
            ).collect()
        )
    }

    /// The same page in the statement that admits the caller (`app_list_properties_json`: `app_admit`, then the
    /// page with an owner narrowed to their own properties). Throws SQLSTATE IK403 when it does not admit
    /// them (`TenantEntry`).
    static func list(
        _ conn: PostgresConnection,
        entering entry: TenantEntry,
        status: Property.Status?,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> JSONPage {
        try await JSONPage(entry.services.db.send(ListStatement(entry: entry, status: status?.rawValue, cursor: cursor, limit: limit), on: conn))
    }

    /// `app_list_properties_json`'s statement.
    struct ListStatement: FixedStatement {
        static let name = "properties_list"
        static let sql = """
            SELECT items, next_micros, next_id FROM app_list_properties_json($1, $2::uuid, $3, $4::text, $5::int8, $6::uuid, $7::int)
            """
        static let bindingDataTypes: [PostgresDataType] = [.uuid, .uuid, .textArray, .text, .int8, .uuid, .int8]
        let entry: TenantEntry, status: String?, cursor: PageCursor?, limit: Int

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 7)
            b.append(entry.userId)
            b.append(entry.agency)
            b.append(entry.roles)
            b.append(status)
            b.append(cursor?.micros)
            b.append(cursor?.id)
            b.append(limit)
            return b
        }
    }

    /// One page of the agency's active properties free for every night of `stay` that fit `guests` and whose
    /// stay rules allow its length, newest first (SPEC §11), as JSON: `app_available_page_json` (migration 0021; its
    /// blocks probe 0024, its walk in page order 0025), the search's one query, which both paths run.
    static func available(
        _ conn: PostgresConnection,
        agency: UUID,
        stay: Nights,
        guests: Int,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> JSONPage {
        try await JSONPage(
            conn.run(
                """
                SELECT * FROM app_available_page_json(\(agency), \(stay.start.description)::date, \(stay.end.description)::date,
                    \(guests)::int, \(cursor?.micros)::int8, \(cursor?.id)::uuid, \(limit)::int)
                """
            ).collect()
        )
    }

    /// The same page in the statement that admits the caller (`app_availability_json`, migration 0021: `TenantEntry`).
    static func available(
        _ conn: PostgresConnection,
        entering entry: TenantEntry,
        stay: Nights,
        guests: Int,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> JSONPage {
        try await JSONPage(
            entry.services.db.send(AvailabilityStatement(entry: entry, stay: stay, guests: guests, cursor: cursor, limit: limit), on: conn)
        )
    }

    /// `app_availability_json`'s statement.
    struct AvailabilityStatement: FixedStatement {
        static let name = "availability"
        static let sql = """
            SELECT items, next_micros, next_id
            FROM app_availability_json($1, $2::uuid, $3, $4::date, $5::date, $6::int, $7::int8, $8::uuid, $9::int)
            """
        static let bindingDataTypes: [PostgresDataType] = [.uuid, .uuid, .textArray, .text, .text, .int8, .int8, .uuid, .int8]
        let entry: TenantEntry, stay: Nights, guests: Int, cursor: PageCursor?, limit: Int

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 9)
            b.append(entry.userId)
            b.append(entry.agency)
            b.append(entry.roles)
            b.append(stay.start.description)
            b.append(stay.end.description)
            b.append(guests)
            b.append(cursor?.micros)
            b.append(cursor?.id)
            b.append(limit)
            return b
        }
    }

    public static func insert(
        _ conn: PostgresConnection,
        agency: UUID,
        ownerId: UUID?,
        name: String,
        address: String,
        timezone: String,
        maxGuests: Int,
        minNights: Int,
        maxNights: Int,
        status: Property.Status
    ) async throws -> Property {
        let rows = try await conn.run(
            """
            INSERT INTO properties (agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status)
            VALUES (\(agency), \(ownerId), \(name), \(address), \(timezone), \(maxGuests), \(minNights), \(maxNights), \(status.rawValue))
            RETURNING \(unescaped: Property.columns)
            """
        ).collect()
        return try Property(row: rows[0])
    }

    public static func update(_ conn: PostgresConnection, _ p: Property) async throws -> Property {
        let rows = try await conn.run(
            """
            UPDATE properties SET owner_id = \(p.ownerId), name = \(p.name), address = \(p.address), timezone = \(p.timezone),
                   max_guests = \(p.maxGuests), min_nights = \(p.minNights), max_nights = \(p.maxNights), status = \(p.status.rawValue),
                       updated_at = now()
            WHERE agency_id = \(p.agencyId) AND id = \(p.id)
            RETURNING \(unescaped: Property.columns)
            """
        ).collect()
        return try Property(row: rows[0])
    }

    public static func delete(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws {
        try await conn.run("DELETE FROM properties WHERE agency_id = \(agency) AND id = \(id)")
    }

    /// Whether `userId` may own properties here: a member of the agency with role owner.
    public static func isOwnerMember(_ conn: PostgresConnection, agency: UUID, userId: UUID) async throws -> Bool {
        try await !conn.run(
            """
            SELECT 1 FROM team_members WHERE agency_id = \(agency) AND user_id = \(userId) AND role = 'owner'
            """
        ).collect().isEmpty
    }

    /// The first confirmed booking that has not ended yet, if any (blocks deletion).
    public static func futureBooking(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> UUID? {
        try await conn.run(
            """
            SELECT id FROM bookings WHERE agency_id = \(agency) AND property_id = \(id) AND status = 'confirmed'
              AND check_out > CURRENT_DATE ORDER BY check_in LIMIT 1
            """
        ).collect().first?.decode(UUID.self)
    }

    /// The property's IANA time zone, if it exists.
    static func timezone(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> String? {
        try await conn.run("SELECT timezone FROM properties WHERE agency_id = \(agency) AND id = \(id)").collect().first?.decode(String.self)
    }
}
