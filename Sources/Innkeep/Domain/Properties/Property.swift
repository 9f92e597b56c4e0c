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
        let (id, agency, owner, name, address, timezone, maxGuests, minNights, maxNights, status, created, updated) = try row.decode(
            (UUID, UUID, UUID?, String, String, String, Int, Int, Int, String, Date, Date).self
        )
        (self.id, self.agencyId, self.ownerId, self.name, self.address, self.timezone) = (id, agency, owner, name, address, timezone)
        (self.maxGuests, self.minNights, self.maxNights, self.createdAt, self.updatedAt) = (maxGuests, minNights, maxNights, created, updated)
        // The CHECK constraint allows only these; anything else is a schema the code does not know.
        guard let status = Status(rawValue: status) else { throw UnknownValue(column: "properties.status", value: status) }
        self.status = status
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "owner_id": JSONValue(ownerId), "name": .string(name),
            "address": .string(address), "timezone": .string(timezone), "max_guests": .int(Int64(maxGuests)),
            "min_nights": .int(Int64(minNights)), "max_nights": .int(Int64(maxNights)), "status": .string(status.rawValue),
            "created_at": JSONValue(createdAt), "updated_at": JSONValue(updatedAt),
        ]
    }
}
