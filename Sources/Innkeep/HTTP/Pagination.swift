import Foundation
import PostgresNIO

/// A keyset position in a newest-first list: the last row's `(created_at, id)`. Stable under
/// concurrent inserts: every row that existed when paging began is returned exactly once.
public struct PageCursor: Sendable, Equatable {
    /// `created_at` in microseconds since 1970, exactly as Postgres stores it.
    public let micros: Int64
    public let id: UUID

    public init(createdAt: Date, id: UUID) {
        micros = Int64((createdAt.timeIntervalSince1970 * 1_000_000).rounded())
        self.id = id
    }

    init(micros: Int64, id: UUID) {
        self.micros = micros
        self.id = id
    }

    /// Years 1 to 9999: a forged cursor outside it would overflow Postgres' timestamp arithmetic (a 500).
    static let range: ClosedRange<Int64> = -62_135_596_800_000_000...253_402_300_799_999_999

    /// Opaque to clients: base64url of `micros:id`.
    public var encoded: String { Base64URL.encode(Array("\(micros):\(id.uuidString.lowercased())".utf8)) }

    public init?(encoded: String) {
        guard encoded.count <= 200, let bytes = Base64URL.decode(Substring(encoded)) else { return nil }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: ":")
        guard parts.count == 2, let micros = Int64(parts[0]), Self.range.contains(micros),
              let id = UUID(uuidString: String(parts[1])) else { return nil }
        self.init(micros: micros, id: id)
    }
}

/// `limit` (1–200, default 50) and `cursor` from the query string.
public struct PageRequest: Sendable {
    public let limit: Int
    let rawCursor: String?

    public init(_ query: inout FieldReader) {
        limit = Int(query.int("limit", range: 1...200) ?? 50)
        rawCursor = query.string("cursor", length: 1...200)
    }

    /// The decoded cursor, or 422 naming `cursor`.
    public func cursor() throws -> PageCursor? {
        guard let rawCursor else { return nil }
        guard let cursor = PageCursor(encoded: rawCursor) else { throw APIError.validation("cursor", "is not a cursor this API issued") }
        return cursor
    }

    /// Builds the page from up to `limit + 1` rows (the extra one says whether there is a next page).
    public func reply(_ rows: [(createdAt: Date, id: UUID, json: JSONValue)]) -> Reply {
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { PageCursor(createdAt: $0.createdAt, id: $0.id).encoded } : nil
        return .page(page.map(\.json), nextCursor: next)
    }
}

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
