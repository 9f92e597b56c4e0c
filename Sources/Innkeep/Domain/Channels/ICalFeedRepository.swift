import Foundation
import PostgresNIO

/// The queries behind a connection's export feed, in the agency the feed token names.
public enum ICalFeedRepository {
    public struct Feed: Sendable {
        let connectionId: UUID, propertyId: UUID, timeZone: TimeZone
    }

    /// The connection whose secret this is, with its property's time zone.
    public static func feed(_ conn: PostgresConnection, token: FeedToken) async throws -> Feed? {
        try await conn.run(
            """
            SELECT c.id, c.property_id, p.timezone FROM channel_connections c
            JOIN properties p ON p.agency_id = c.agency_id AND p.id = c.property_id
            WHERE c.agency_id = \(token.agencyId) AND c.export_token = \(token.secret)
            """
        ).collect().first.map { row in
            let (id, property, zone) = try row.decode((UUID, UUID, String).self)
            return Feed(connectionId: id, propertyId: property, timeZone: TimeZone(identifier: zone) ?? .gmt)
        }
    }

    /// Confirmed bookings and blocks of the property that end after `today`, except the blocks this
    /// connection imported (a channel never gets its own nights back): no guest data, only the nights.
    public static func events(_ conn: PostgresConnection, agency: UUID, feed: Feed, today: CalendarDate) async throws -> [ICalWriter.Event] {
        try await conn.run(
            """
            SELECT true, id, check_in::text, check_out::text, created_at FROM bookings
            WHERE agency_id = \(agency) AND property_id = \(feed.propertyId) AND status = 'confirmed' AND check_out > \(today.description)::date
            UNION ALL
            SELECT false, id, start_date::text, end_date::text, created_at FROM blocks
            WHERE agency_id = \(agency) AND property_id = \(feed.propertyId) AND end_date > \(today.description)::date
              AND channel_connection_id IS DISTINCT FROM \(feed.connectionId)
            ORDER BY 3, 2
            """
        ).collect().map { row in
            var r = RowReader(row)
            let (booking, id): (Bool, UUID) = (try r.next(), try r.next())
            let (first, last): (String, String) = (try r.next(), try r.next())
            let created: Date = try r.next()
            guard let s = CalendarDate(first), let e = CalendarDate(last), s < e else {
                throw UnknownValue(column: "feed nights", value: "\(first)/\(last)")
            }
            return ICalWriter.Event(
                uid: id.lowercasedString + "@innkeep",
                nights: Nights(s, e),
                summary: booking ? "Reserved" : "Not available",
                stamp: created
            )
        }
    }
}
