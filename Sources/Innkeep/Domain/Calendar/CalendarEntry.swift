import Foundation

/// Something that holds nights of a property: a confirmed booking, or a block of some kind.
public struct CalendarEntry: Sendable, Equatable {
    public enum Holder: Sendable, Equatable {
        case booking(UUID)
        case block(UUID, Block.Kind)
    }

    public let holder: Holder
    public let nights: Nights

    public var bookingId: UUID? { if case .booking(let id) = holder { id } else { nil } }
    public var blockId: UUID? { if case .block(let id, _) = holder { id } else { nil } }
    public var blockKind: Block.Kind? { if case .block(_, let kind) = holder { kind } else { nil } }

    /// The 409 details naming it: `conflicting_booking_id` or `conflicting_block_id` (SPEC §11).
    public var conflictDetails: JSONValue {
        switch holder {
        case .booking(let id): ["conflicting_booking_id": JSONValue(id)]
        case .block(let id, _): ["conflicting_block_id": JSONValue(id)]
        }
    }
}
