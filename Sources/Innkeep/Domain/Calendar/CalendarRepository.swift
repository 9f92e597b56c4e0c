import Foundation
import PostgresNIO

/// What holds a property's nights: confirmed bookings and blocks, read together, each through a btree range
/// that row-level security lets the query use (`app_holders`, migration 0022).
public enum CalendarRepository {
    /// The confirmed bookings and the blocks (channel ones included) of a property that overlap
    /// `nights`: bookings first, then by first night.
    public static func entries(
        _ conn: PostgresConnection,
        agency: UUID,
        propertyId: UUID,
        overlapping nights: Nights,
        limit: Int = 10_000
    ) async throws -> [CalendarEntry] {
        try await rows(conn.run("\(holdersOf: propertyId, agency: agency, overlapping: nights, limit: limit)").collect())
    }

    /// The same holders in the statement that admits the caller (`app_property_calendar`, migration 0019: the
    /// one-statement calendar, `TenantEntry`); a property the caller may not see raises IK404.
    static func entries(
        _ conn: PostgresConnection,
        entering entry: TenantEntry,
        propertyId: UUID,
        overlapping nights: Nights
    ) async throws
        -> [CalendarEntry]
    {
        try await rows(entry.services.db.send(Statement(entry: entry, propertyId: propertyId, nights: nights), on: conn))
    }

    /// `app_property_calendar`'s statement.
    struct Statement: FixedStatement {
        static let name = "calendar"
        static let sql = """
            SELECT rank, id, kind, first_night, end_night FROM app_property_calendar($1, $2::uuid, $3, $4, $5::date, $6::date)
            """
        static let bindingDataTypes: [PostgresDataType] = [.uuid, .uuid, .textArray, .uuid, .text, .text]
        let entry: TenantEntry, propertyId: UUID, nights: Nights

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 6)
            b.append(entry.userId)
            b.append(entry.agency)
            b.append(entry.roles)
            b.append(propertyId)
            b.append(nights.start.description)
            b.append(nights.end.description)
            return b
        }
    }

    private static func rows(_ rows: [PostgresRow]) throws -> [CalendarEntry] {
        try rows.map { row in
            var r = RowReader(row)
            guard let entry = try CalendarEntry(&r) else { throw UnknownValue(column: "calendar rank", value: "NULL") }
            return entry
        }
    }

    /// The first booking or block that already holds one of `nights`: what a new stay or block would hit.
    public static func firstHolder(_ conn: PostgresConnection, agency: UUID, propertyId: UUID, nights: Nights) async throws -> CalendarEntry? {
        try await entries(conn, agency: agency, propertyId: propertyId, overlapping: nights, limit: 1).first
    }
}

extension PostgresQuery.StringInterpolation {
    /// The query of `CalendarRepository.entries`, `app_holders` (migrations 0019 and 0022): rank (0 booking, 1 block), id,
    /// block kind, first night, end, for the statements that read a property's holders together with something
    /// else.
    mutating func appendInterpolation(holdersOf propertyId: UUID, agency: UUID, overlapping nights: Nights, limit: Int) {
        appendLiteral("SELECT * FROM app_holders(")
        appendInterpolation(agency)
        appendLiteral(", ")
        appendInterpolation(propertyId)
        appendLiteral(", ")
        appendInterpolation(nights.start.description)
        appendLiteral("::date, ")
        appendInterpolation(nights.end.description)
        appendLiteral("::date, ")
        appendInterpolation(limit)
        appendLiteral("::int)")
    }
}

extension CalendarEntry {
    /// Reads the five columns of `holdersOf` (all NULL, from an outer join that found none: nil).
    init?(_ r: inout RowReader) throws {
        let rank: Int? = try r.next()
        let id: UUID? = try r.next()
        let kind: String? = try r.next()
        let first: String? = try r.next()
        let last: String? = try r.next()
        guard rank != nil, let id, let first, let last else { return nil }
        guard let s = CalendarDate(first), let e = CalendarDate(last), s < e else {
            throw UnknownValue(column: "calendar nights", value: "\(first)/\(last)")
        }
        guard let kind else {
            self.init(holder: .booking(id), nights: Nights(s, e))
            return
        }
        guard let blockKind = Block.Kind(rawValue: kind) else { throw UnknownValue(column: "blocks.kind", value: kind) }
        self.init(holder: .block(id, blockKind), nights: Nights(s, e))
    }
}
