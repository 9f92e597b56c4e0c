import Foundation

/// A signed-in user acting inside one agency with one role: what every tenant handler receives.
public struct Caller: Sendable {
    public let userId: UUID
    public let agencyId: UUID
    public let role: Role

    /// Owners see only their own properties and those properties' bookings.
    public var ownerScope: UUID? { role == .owner ? userId : nil }
}
