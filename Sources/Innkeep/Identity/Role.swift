import Foundation

/// The five roles a member holds in an agency (SPEC §3).
public enum Role: String, CaseIterable, Sendable, Comparable {
    case admin, manager, staff, owner, accountant

    public static func < (a: Role, b: Role) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}
