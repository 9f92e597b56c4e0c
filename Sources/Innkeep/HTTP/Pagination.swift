import Foundation
import PostgresNIO

extension PostgresQuery.StringInterpolation {
    /// The keyset predicate of a newest-first list: the rows after `cursor` in `(time, id) DESC` order
    /// (`time` is `created_at` unless named), or every row when there is none. `alias` is the table's
    /// alias in the query, if it has one.
    mutating func appendInterpolation(after cursor: PageCursor?, alias: String? = nil, time: String = "created_at") {
        guard let cursor else { return appendLiteral("TRUE") }
        let prefix = alias.map { "\($0)." } ?? ""
        appendLiteral("(\(prefix)\(time), \(prefix)id) < (timestamptz 'epoch' + ")
        appendInterpolation(cursor.micros)
        appendLiteral("::int8 * interval '1 microsecond', ")
        appendInterpolation(cursor.id)
        appendLiteral(")")
    }
}
