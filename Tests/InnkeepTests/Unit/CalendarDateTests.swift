import Foundation
import Testing

@testable import Innkeep

extension Unit {
    /// `CalendarDate`: a `YYYY-MM-DD` date of years 1-9999 in ASCII digits, its day number and time zones.
    @Suite struct CalendarDateTests {
        @Test func readsRealDatesOnly() throws {
            let d = try #require(CalendarDate("2031-01-02"))
            #expect((d.year, d.month, d.day) == (2031, 1, 2))
            #expect(d.description == "2031-01-02")
            for good in ["2024-02-29", "2000-02-29", "0001-01-01", "9999-12-31", "2031-04-30"] { #expect(CalendarDate(good)?.description == good) }
            for bad in [
                "2023-02-29", "1900-02-29", "2031-04-31", "2031-13-01", "2031-00-10", "2031-01-00", "0000-01-01",
                "2031-1-1", "2031/01/01", "2031-01-01T00:00:00Z", " 2031-01-01", "", "20310101",
            ] {
                #expect(CalendarDate(bad) == nil, "\(bad)")
            }
        }

        /// `format: date` is YYYY-MM-DD in ASCII digits; signs slipped through Int parsing ("+999-01-01").
        /// The text written digit by digit is what `String(format:)` wrote, and reads back as the same date.
        @Test func descriptionsMatchTheFormattedOnesAndReadBack() throws {
            let first = try #require(CalendarDate("0001-01-01")).dayNumber
            let last = try #require(CalendarDate("9999-12-31")).dayNumber
            for n in [first, last] + (0..<2000).map({ _ in Int.random(in: first...last) }) {
                let d = CalendarDate(dayNumber: n)
                #expect(d.description == String(format: "%04d-%02d-%02d", d.year, d.month, d.day))
                #expect(CalendarDate(d.description) == d)
            }
        }

        @Test func datesAreDigitsOnly() {
            #expect(CalendarDate("2031-01-02") != nil)
            for bad in ["+999-01-01", "2031-+1-01", "2031-01-+1", "-001-01-01", "2031-1-001", "２０３１-01-01"] {
                #expect(CalendarDate(bad) == nil, "\(bad)")
            }
        }

        /// The day number is days since 1970-01-01 and its inverse gives the date back, over the whole range.
        @Test func dayNumbersRoundTripAndOrderLikeDates() throws {
            #expect(CalendarDate("1970-01-01")?.dayNumber == 0)
            #expect(CalendarDate("1969-12-31")?.dayNumber == -1)
            #expect(CalendarDate("2000-03-01")?.dayNumber == 11_017)
            let first = try #require(CalendarDate("0001-01-01")).dayNumber
            let last = try #require(CalendarDate("9999-12-31")).dayNumber
            #expect(last - first == 3_652_058)
            var previous: CalendarDate?
            for n in stride(from: first, through: last, by: 97) {
                let date = CalendarDate(dayNumber: n)
                #expect(date.dayNumber == n)
                #expect(CalendarDate(date.description) == date)
                if let previous { #expect(previous < date) }
                previous = date
            }
            let leap = try #require(CalendarDate("2024-02-28"))
            #expect(CalendarDate(dayNumber: leap.dayNumber + 1).description == "2024-02-29")
            #expect(CalendarDate(dayNumber: leap.dayNumber + 2).description == "2024-03-01")
        }

        /// One instant is two dates on either side of the date line.
        @Test func theDateOfAnInstantDependsOnTheTimeZone() throws {
            let instant = Date(timeIntervalSince1970: 1_900_000_000)  // 2030-03-17T17:46:40Z
            #expect(CalendarDate(instant, in: TimeZone(identifier: "UTC")!).description == "2030-03-17")
            #expect(CalendarDate(instant, in: try #require(TimeZone(identifier: "Pacific/Kiritimati"))).description == "2030-03-18")
            #expect(CalendarDate(instant, in: try #require(TimeZone(identifier: "Pacific/Pago_Pago"))).description == "2030-03-17")
        }
    }
}
