import Foundation
import PostgresNIO

/// What holds a property's nights: confirmed bookings and blocks, read together. Both lookups use the
/// GiST indexes on `(agency_id, property_id, daterange)` of bookings (0008) and blocks (0009).
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
        let start = nights.start.description
        let end = nights.end.description
        return try await conn.run(
            """
            SELECT 0 AS rank, id, NULL::text AS kind, check_in::text, check_out::text FROM bookings
            WHERE agency_id = \(agency) AND property_id = \(propertyId) AND status = 'confirmed'
              AND daterange(check_in, check_out, '[)') && daterange(\(start)::date, \(end)::date, '[)')
            UNION ALL
            SELECT 1, id, kind, start_date::text, end_date::text FROM blocks
            WHERE agency_id = \(agency) AND property_id = \(propertyId)
              AND daterange(start_date, end_date, '[)') && daterange(\(start)::date, \(end)::date, '[)')
            ORDER BY rank, check_in LIMIT \(limit)
            """
        ).collect().map { row in
            let (_, id, kind, first, last) = try row.decode((Int, UUID, String?, String, String).self)
            guard let s = CalendarDate(first), let e = CalendarDate(last), s < e else {
                throw UnknownValue(column: "calendar nights", value: "\(first)/\(last)")
            }
            guard let kind else { return CalendarEntry(holder: .booking(id), nights: Nights(s, e)) }
            guard let blockKind = Block.Kind(rawValue: kind) else { throw UnknownValue(column: "blocks.kind", value: kind) }
            return CalendarEntry(holder: .block(id, blockKind), nights: Nights(s, e))
        }
    }

    /// The first booking or block that already holds one of `nights`: what a new stay or block would hit.
    public static func firstHolder(_ conn: PostgresConnection, agency: UUID, propertyId: UUID, nights: Nights) async throws -> CalendarEntry? {
        try await entries(conn, agency: agency, propertyId: propertyId, overlapping: nights, limit: 1).first
    }
}
