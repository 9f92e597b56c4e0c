/// The nights `[start, end)` of a stay or a block: half-open, so a check-out and the next check-in on
/// the same day do not overlap (SPEC §4, §11).
public struct Nights: Sendable, Hashable {
    public let start: CalendarDate
    public let end: CalendarDate

    /// `end` must be after `start`; callers validate that first and report it as a field issue.
    public init(_ start: CalendarDate, _ end: CalendarDate) {
        precondition(start < end, "empty or reversed nights \(start)..<\(end)")
        (self.start, self.end) = (start, end)
    }

    public var count: Int { end - start }

    public func contains(_ night: CalendarDate) -> Bool { start <= night && night < end }
}
