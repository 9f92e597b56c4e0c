import Foundation

/// A date without time or zone, `YYYY-MM-DD`, as Postgres `date` (days since 1970-01-01).
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int, month: Int, day: Int

    /// Exactly `YYYY-MM-DD` in ASCII digits (not "+999-01-01", not "2031-1-1"), read byte by byte: every
    /// stay of every list and calendar comes through here.
    public init?(_ string: String) {
        var string = string
        let parsed = string.withUTF8 { b -> (Int, Int, Int)? in
            guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-") else { return nil }
            func number(_ range: Range<Int>) -> Int? {
                var n = 0
                for i in range {
                    guard (0x30...0x39).contains(b[i]) else { return nil }
                    n = n * 10 + Int(b[i] - 0x30)
                }
                return n
            }
            guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
            return (y, m, d)
        }
        guard let (y, m, d) = parsed, (1...9999).contains(y), (1...12).contains(m), d >= 1, d <= Self.daysIn(month: m, year: y)
        else { return nil }
        (year, month, day) = (y, m, d)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days since 1970-01-01 (civil-from-days inverse, proleptic Gregorian).
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// `YYYY-MM-DD`, digit by digit (`String(format:)` went through `vfprintf` for every date of a response).
    public var description: String {
        guard (0...9999).contains(year) else { return String(format: "%04d-%02d-%02d", year, month, day) }
        return ASCIIWriter.string(capacity: 10) { w in
            w.put(year, width: 4)
            w.put("-")
            w.put(month, width: 2)
            w.put("-")
            w.put(day, width: 2)
        }
    }

    /// The date `dayNumber` days after 1970-01-01 (days-from-civil, the inverse of `dayNumber`).
    public init(dayNumber: Int) {
        let z = dayNumber + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = doy - (153 * mp + 2) / 5 + 1
        month = mp < 10 ? mp + 3 : mp - 9
        year = yoe + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// The date on the wall clocks of `timeZone` at `instant`: the zone's offset then, and day arithmetic (a
    /// Foundation `Calendar` per call was a visible share of the iCal export's CPU, docs/benchmarks.md).
    public init(_ instant: Date, in timeZone: TimeZone) {
        let seconds = instant.timeIntervalSince1970 + Double(timeZone.secondsFromGMT(for: instant))
        self.init(dayNumber: Int((seconds / 86_400).rounded(.down)))
    }

    /// Today's date on the wall clocks of `timeZone`.
    public static func today(in timeZone: TimeZone) -> CalendarDate { CalendarDate(Date(), in: timeZone) }

    private init(year: Int, month: Int, day: Int) { (self.year, self.month, self.day) = (year, month, day) }

    public static func < (a: Self, b: Self) -> Bool { a.dayNumber < b.dayNumber }
    public static func - (a: Self, b: Self) -> Int { a.dayNumber - b.dayNumber }
    public static func + (a: Self, days: Int) -> Self { CalendarDate(dayNumber: a.dayNumber + days) }
    public static func - (a: Self, days: Int) -> Self { CalendarDate(dayNumber: a.dayNumber - days) }
}
