import Foundation
import PostgresNIO

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
    public func reply<Item: JSONWritable>(_ rows: [(createdAt: Date, id: UUID, json: Item)]) -> Reply {
        let page = rows.prefix(limit)
        let next = rows.count > limit ? page.last.map { PageCursor(createdAt: $0.createdAt, id: $0.id).encoded } : nil
        return .page(page.lazy.map(\.json), nextCursor: next)
    }
}
