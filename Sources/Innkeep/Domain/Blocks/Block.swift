import Foundation
import PostgresNIO

/// Nights of a property that cannot be sold, `[start_date, end_date)` (SPEC §11).
public struct Block: Sendable {
    public enum Kind: String, CaseIterable, Sendable {
        case ownerStay = "owner_stay"
        case maintenance, hold
        /// Imported by channel sync (SPEC §12); never made or deleted through the API.
        case channel
    }

    public var id: UUID
    public var agencyId: UUID
    public var propertyId: UUID
    public var nights: Nights
    public var kind: Kind
    public var note: String?
    public var channelConnectionId: UUID?
    public var createdBy: UUID?
    public var createdAt: Date

    static let columns = """
        k.id, k.agency_id, k.property_id, k.start_date::text, k.end_date::text, k.kind, k.note, k.channel_connection_id,
        k.created_by, k.created_at
        """

    init(row: PostgresRow) throws {
        let (id, agency, property, start, end, kind, note, connection, createdBy, createdAt) = try row.decode(
            (UUID, UUID, UUID, String, String, String, String?, UUID?, UUID?, Date).self
        )
        guard let kind = Kind(rawValue: kind) else { throw UnknownValue(column: "blocks.kind", value: kind) }
        guard let s = CalendarDate(start), let e = CalendarDate(end), s < e else {
            throw UnknownValue(column: "blocks.start_date/end_date", value: "\(start)/\(end)")
        }
        (self.id, self.agencyId, self.propertyId, self.nights, self.kind) = (id, agency, property, Nights(s, e), kind)
        (self.note, self.channelConnectionId, self.createdBy, self.createdAt) = (note, connection, createdBy, createdAt)
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "property_id": JSONValue(propertyId),
            "start_date": .string(nights.start.description), "end_date": .string(nights.end.description), "kind": .string(kind.rawValue),
            "note": JSONValue(note), "channel_connection_id": JSONValue(channelConnectionId), "created_by": JSONValue(createdBy),
            "created_at": JSONValue(createdAt),
        ]
    }
}
