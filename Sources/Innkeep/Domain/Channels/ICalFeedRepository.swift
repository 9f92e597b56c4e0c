import Foundation
import PostgresNIO

/// The query behind a connection's export feed, in the agency the feed token names.
public enum ICalFeedRepository {
    public struct Feed: Sendable {
        /// The property's time zone, in which "today" is counted.
        let timeZone: TimeZone
        /// By first night; including some that ended up to two days ago (`feed`).
        let events: [ICalWriter.Event]

        /// The events that end after today in the property's time zone: the feed's content.
        var upcoming: [ICalWriter.Event] {
            let today = CalendarDate.today(in: timeZone)
            return events.filter { today < $0.nights.end }
        }
    }

    /// The connection whose secret this is, with its property's confirmed bookings and blocks, except the blocks
    /// this connection imported (a channel never gets its own nights back): no guest data, only the nights. One
    /// statement, `app_ical_feed` (migration 0019), which sets the agency row-level security reads. It cannot
    /// know today in the property's zone before it has read the zone, so it returns the events that end after
    /// yesterday in UTC (before today in every zone), and `Feed.upcoming` drops those that ended.
    public static func feed(_ db: Database, token: FeedToken) async throws -> Feed? {
        let statement = FeedStatement(token: token, since: CalendarDate.today(in: .gmt) - 1)
        var zone: TimeZone?
        var events: [ICalWriter.Event] = []
        for row in try await db.statement({ conn in try await db.send(statement, on: conn) }) {
            var r = RowReader(row)
            let timeZone: String = try r.next()
            if zone == nil { zone = TimeZone(identifier: timeZone) ?? .gmt }
            let booking: Bool? = try r.next()
            let id: UUID? = try r.next()
            let (first, last): (String?, String?) = (try r.next(), try r.next())
            let created: Date? = try r.next()
            guard let booking, let id, let first, let last, let created else { continue }  // a connection with no events
            guard let s = CalendarDate(first), let e = CalendarDate(last), s < e else {
                throw UnknownValue(column: "feed nights", value: "\(first)/\(last)")
            }
            events.append(
                ICalWriter.Event(
                    uid: id.lowercasedString + "@innkeep",
                    nights: Nights(s, e),
                    summary: booking ? "Reserved" : "Not available",
                    stamp: created
                )
            )
        }
        return zone.map { Feed(timeZone: $0, events: events) }
    }

    /// `app_ical_feed`'s statement.
    struct FeedStatement: FixedStatement {
        static let name = "ical_feed"
        static let sql = "SELECT timezone, is_booking, id, first_night, end_night, created_at FROM app_ical_feed($1, $2, $3::date)"
        static let bindingDataTypes: [PostgresDataType] = [.uuid, .text, .text]
        let token: FeedToken, since: CalendarDate

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 3)
            b.append(token.agencyId)
            b.append(token.secret)
            b.append(since.description)
            return b
        }
    }
}
