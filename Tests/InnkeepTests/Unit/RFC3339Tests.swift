import Foundation
import Testing

@testable import Innkeep

extension Unit {
    /// Every timestamp of every response and log line: RFC 3339, UTC, microseconds (as Postgres stores them).
    @Suite struct RFC3339Tests {
        @Test func formatsUTCWithMicroseconds() {
            #expect(RFC3339.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000000Z")
            #expect(RFC3339.format(Date(timeIntervalSince1970: 1_709_164_800.25)) == "2024-02-29T00:00:00.250000Z")
            #expect(RFC3339.format(Date(timeIntervalSince1970: 1_000_000_000.000001)) == "2001-09-09T01:46:40.000001Z")
            #expect(RFC3339.format(Date(timeIntervalSince1970: 253_402_300_799)) == "9999-12-31T23:59:59.000000Z")
        }

        /// Before 1970 the fraction still counts forward from the whole second before.
        @Test func timesBefore1970() {
            #expect(RFC3339.format(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500000Z")
            #expect(RFC3339.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59.000000Z")
            #expect(RFC3339.format(Date(timeIntervalSince1970: -62_135_596_800)) == "0001-01-01T00:00:00.000000Z")
        }

        /// Sub-microsecond parts round to the nearest microsecond, the way Postgres rounds on insert.
        @Test func roundsToTheNearestMicrosecond() {
            #expect(RFC3339.format(Date(timeIntervalSince1970: 10.0000004)) == "1970-01-01T00:00:10.000000Z")
            #expect(RFC3339.format(Date(timeIntervalSince1970: 10.0000006)) == "1970-01-01T00:00:10.000001Z")
            #expect(RFC3339.format(Date(timeIntervalSince1970: 59.9999996)) == "1970-01-01T00:01:00.000000Z")
        }

        /// What we write, Foundation's ISO 8601 parser reads back as the same instant (to its millisecond).
        @Test func foundationParsesWhatIsWritten() throws {
            let parser = ISO8601DateFormatter()
            parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            var generator = SystemRandomNumberGenerator()
            for _ in 0..<500 {
                let date = Date(timeIntervalSince1970: Double(Int64.random(in: -2_000_000_000_000...4_000_000_000_000, using: &generator)) / 1000)
                let text = RFC3339.format(date)
                #expect(text.count == 27 && text.hasSuffix("Z"), "\(text)")
                let milliseconds = text.replacingOccurrences(of: #"(\.\d{3})\d{3}Z"#, with: "$1Z", options: .regularExpression)
                let parsed = try #require(parser.date(from: milliseconds), "\(text)")
                #expect(abs(parsed.timeIntervalSince(date)) < 0.001, "\(text) read back as \(parsed)")
            }
        }

        /// `JSONValue(Date)` writes the same text; `nil` is JSON null.
        @Test func jsonValuesUseTheSameFormat() {
            let date = Date(timeIntervalSince1970: 1_234_567_890.5)
            #expect(JSONValue(date) == .string("2009-02-13T23:31:30.500000Z"))
            #expect(JSONValue(nil as Date?) == .null)
        }
    }
}
