import Foundation

/// The five roles a member holds in an agency (SPEC §3).
public enum Role: String, CaseIterable, Sendable, Comparable {
    case admin, manager, staff, owner, accountant

    public static func < (a: Role, b: Role) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

/// A signed-in user acting inside one agency with one role: what every tenant handler receives.
public struct Caller: Sendable {
    public let userId: UUID
    public let agencyId: UUID
    public let role: Role

    /// Owners see only their own properties and those properties' bookings.
    public var ownerScope: UUID? { role == .owner ? userId : nil }
}
