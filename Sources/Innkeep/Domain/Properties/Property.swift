import Foundation
import PostgresNIO

/// A rental property (SPEC §4).
public struct Property: Sendable {
    public enum Status: String, CaseIterable, Sendable { case active, inactive }

    public var id: UUID
    public var agencyId: UUID
    public var ownerId: UUID?
    public var name: String
    public var address: String
    public var timezone: String
    public var maxGuests: Int
    /// Stay rules (SPEC §11): a booking's length must be within `minNights...maxNights`.
    public var minNights: Int
    public var maxNights: Int
    public var status: Status
    public var createdAt: Date
    public var updatedAt: Date

    static let columns = "id, agency_id, owner_id, name, address, timezone, max_guests, min_nights, max_nights, status, created_at, updated_at"

    init(row: PostgresRow) throws {
        var r = RowReader(row)
        try self.init(&r)
    }

    /// Reads the twelve `columns` from `r`, leaving it at the column after them.
    init(_ r: inout RowReader) throws {
        (id, agencyId, ownerId) = (try r.next(), try r.next(), try r.next())
        (name, address, timezone) = (try r.next(), try r.next(), try r.next())
        (maxGuests, minNights, maxNights) = (try r.next(), try r.next(), try r.next())
        let status: String = try r.next()
        (createdAt, updatedAt) = (try r.next(), try r.next())
        // The CHECK constraint allows only these; anything else is a schema the code does not know.
        guard let status = Status(rawValue: status) else { throw UnknownValue(column: "properties.status", value: status) }
        self.status = status
    }
}

extension Property: JSONWritable {
    public func writeJSON(_ w: inout JSONWriter) {
        w.object { o in
            o.field("address", address)
            o.field("agency_id", agencyId)
            o.field("created_at", createdAt)
            o.field("id", id)
            o.field("max_guests", maxGuests)
            o.field("max_nights", maxNights)
            o.field("min_nights", minNights)
            o.field("name", name)
            o.field("owner_id", ownerId)
            o.field("status", status.rawValue)
            o.field("timezone", timezone)
            o.field("updated_at", updatedAt)
        }
    }
}
