import Foundation
import NIOCore
import PostgresNIO

/// A page of a list whose items Postgres wrote as JSON (migration 0017, `app_*_page_json`): one row instead of
/// one per item, and the items' bytes go into the response as they came (docs/benchmarks.md, issue 17).
struct JSONPage: Sendable {
    /// The items' JSON objects, joined with commas (empty for an empty page).
    let items: ByteBuffer
    /// The position of the page's last item, when there is a next page.
    let next: PageCursor?

    /// Reads the one row of an `app_*_page_json` function: `items, next_micros, next_id`.
    init(_ rows: [PostgresRow]) throws {
        guard let row = rows.first else { throw UnknownValue(column: "(page)", value: "no row") }
        var r = RowReader(row)
        items = try r.next()
        let micros: Int64? = try r.next()
        let id: UUID? = try r.next()
        next = micros.flatMap { micros in id.map { PageCursor(micros: micros, id: $0) } }
    }

    /// `{"data": [...], "next_cursor": …}`.
    var reply: Reply { .page(joinedJSON: items.readableBytesView, nextCursor: next?.encoded) }
}
