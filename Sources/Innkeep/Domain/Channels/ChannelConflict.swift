import Foundation
import PostgresNIO

/// An imported channel block that overlaps a confirmed booking, a manual block or another
/// connection's block of the same property (SPEC §12). Opened once per overlapping pair, resolved by
/// itself when the overlap is gone.
public struct ChannelConflict: Sendable {
    public enum Status: String, CaseIterable, Sendable { case open, resolved }

    static let columns = """
        id, agency_id, property_id, channel_connection_id, block_id, start_date::text, end_date::text, conflicting_booking_id,
        conflicting_block_id, status, detected_at, resolved_at
        """

    public let id: UUID, agencyId: UUID, propertyId: UUID, channelConnectionId: UUID, blockId: UUID
    public let startDate: String, endDate: String, conflictingBookingId: UUID?, conflictingBlockId: UUID?
    public let status: Status, detectedAt: Date, resolvedAt: Date?

    init(row: PostgresRow) throws {
        let (id, agency, property, connection, block, start, end, booking, otherBlock, status, detected, resolved) = try row.decode(
            (UUID, UUID, UUID, UUID, UUID, String, String, UUID?, UUID?, String, Date, Date?).self
        )
        guard let s = Status(rawValue: status) else { throw UnknownValue(column: "channel_conflicts.status", value: status) }
        (self.id, self.agencyId, self.propertyId, self.channelConnectionId, self.blockId) = (id, agency, property, connection, block)
        (self.startDate, self.endDate, self.conflictingBookingId, self.conflictingBlockId) = (start, end, booking, otherBlock)
        (self.status, self.detectedAt, self.resolvedAt) = (s, detected, resolved)
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "property_id": JSONValue(propertyId),
            "channel_connection_id": JSONValue(channelConnectionId), "block_id": JSONValue(blockId), "start_date": .string(startDate),
            "end_date": .string(endDate), "conflicting_booking_id": JSONValue(conflictingBookingId),
            "conflicting_block_id": JSONValue(conflictingBlockId), "status": .string(status.rawValue), "detected_at": JSONValue(detectedAt),
            "resolved_at": JSONValue(resolvedAt),
        ]
    }
}
