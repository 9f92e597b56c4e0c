import Foundation
import Testing

@testable import Innkeep

/// The iCal reader and writer on their own (no database): fast, and exact about every rule of SPEC §12.
@Suite struct ICalParserTests {
    static let lisbon = TimeZone(identifier: "Europe/Lisbon")!
    static let today = CalendarDate("2031-01-01")!

    func parse(_ text: String, in zone: TimeZone = lisbon) throws -> ICalParser.Feed {
        try ICalParser.parse(text, timeZone: zone, today: Self.today)
    }

    func nights(_ a: String, _ b: String) -> Nights { Nights(CalendarDate(a)!, CalendarDate(b)!) }

    @Test func airbnbFoldedLinesAndBothKindsOfEvent() throws {
        let feed = try parse(ICalFixtures.airbnb())
        #expect(
            feed.events == [
                ImportedEvent(uid: "1418fb94e984-a9d0f2a5c3d0e2d3b1f3f2d6e7a4c0c8@airbnb.com", nights: nights("2031-07-05", "2031-07-10")),
                ImportedEvent(uid: "f6c0b2a3e1d9-airbnb-blocked@airbnb.com", nights: nights("2031-08-01", "2031-08-04")),
            ]
        )
        #expect(feed.skipped == 0)
        #expect(ICalParser.unfold(ICalFixtures.airbnb()).contains { $0.contains("reservations/details/HMABCDEFGH") })
    }

    @Test func bookingComWithBareLineFeeds() throws {
        let feed = try parse(ICalFixtures.bookingCom)
        #expect(feed.events == [ImportedEvent(uid: "7d5e3a1c-booking-1@booking.com", nights: nights("2031-09-01", "2031-09-03"))])
    }

    @Test func vrboCancelledAndPastAreIgnoredAndAMissingEndIsOneNight() throws {
        let feed = try parse(ICalFixtures.vrbo)
        #expect(feed.events == [ImportedEvent(uid: "vrbo-one-night", nights: nights("2031-10-10", "2031-10-11"))])
        #expect(feed.skipped == 0)
    }

    @Test func dateTimesLandOnThePropertysNightsAndBrokenEventsAreCounted() throws {
        // 15:00 New York on Nov 1 is 19:00 in Lisbon, still Nov 1; 11:00 on Nov 4 is 15:00 in Lisbon.
        let lisbon = try parse(ICalFixtures.google)
        #expect(lisbon.events.map(\.uid) == ["google-tzid@google.com", "google-utc@google.com", "google-reversed@google.com"])
        #expect(lisbon.events[0].nights == nights("2031-11-01", "2031-11-04"))
        #expect(lisbon.events[1].nights == nights("2031-11-10", "2031-11-12"))
        #expect(lisbon.events[2].nights == nights("2031-11-20", "2031-11-21"))  // DTEND before DTSTART: one night
        #expect(lisbon.skipped == 1)
        // 23:00 UTC on Nov 10 is already Nov 11 in Tokyo.
        let tokyo = try parse(ICalFixtures.google, in: TimeZone(identifier: "Asia/Tokyo")!)
        #expect(tokyo.events[1].nights == nights("2031-11-11", "2031-11-12"))
    }

    @Test func durationsRepeatedUIDsAndOverlongEvents() throws {
        let text = """
            BEGIN:VCALENDAR
            BEGIN:VEVENT
            UID:a
            DTSTART;VALUE=DATE:20310301
            DURATION:P1W
            END:VEVENT
            BEGIN:VEVENT
            UID:a
            DTSTART;VALUE=DATE:20310401
            DTEND;VALUE=DATE:20310402
            END:VEVENT
            BEGIN:VEVENT
            UID:too-long
            DTSTART;VALUE=DATE:20310101
            DTEND;VALUE=DATE:20330101
            END:VEVENT
            BEGIN:VEVENT
            DTSTART;VALUE=DATE:20310501
            DTEND;VALUE=DATE:20310503
            END:VEVENT
            END:VCALENDAR
            """
        let feed = try parse(text)
        #expect(
            feed.events == [
                ImportedEvent(uid: "a", nights: nights("2031-03-01", "2031-03-08")),
                ImportedEvent(uid: "innkeep-nouid:2031-05-01/2031-05-03", nights: nights("2031-05-01", "2031-05-03")),
            ]
        )
        #expect(feed.skipped == 2)
    }

    @Test func somethingThatIsNotACalendarIsRefused() throws {
        for body in [ICalFixtures.loginPage, "", "{\"error\":\"unauthorized\"}", "BEGIN:VEVENT\nEND:VEVENT"] {
            #expect(throws: ICalParser.NotACalendar.self) { try parse(body) }
        }
        #expect(try parse(ICalFixtures.empty).events.isEmpty)
    }

    @Test func theWriterFoldsAt75OctetsWithoutSplittingCharactersAndEndsLinesWithCRLF() {
        let long = String(repeating: "é", count: 60) + String(repeating: "x", count: 100)  // 220 octets
        let folded = ICalWriter.fold("SUMMARY:" + long)
        let bytes = Array(folded.utf8)
        #expect(bytes.suffix(2) == [0x0D, 0x0A])
        let physical = String(decoding: bytes.dropLast(2), as: UTF8.self).components(separatedBy: "\r\n")
        #expect(physical.count == 4)
        #expect(physical.allSatisfy { $0.utf8.count <= 75 })
        #expect(physical.dropFirst().allSatisfy { $0.hasPrefix(" ") })
        #expect(ICalParser.unfold(folded) == ["SUMMARY:" + long])
        let feed = ICalWriter.render(
            [
                ICalWriter.Event(
                    uid: "x@innkeep",
                    nights: nights("2031-02-01", "2031-02-03"),
                    summary: "Reserved",
                    stamp: Date(timeIntervalSince1970: 0)
                )
            ],
            productId: "-//Test//EN"
        )
        #expect(feed.contains("DTSTART;VALUE=DATE:20310201\r\nDTEND;VALUE=DATE:20310203\r\n"))
        #expect(feed.contains("DTSTAMP:19700101T000000Z\r\n"))
        #expect(!feed.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    @Test func feedTokensRoundTripAndRefuseAnythingElse() {
        let token = FeedToken(agencyId: UUID(), secret: String(repeating: "ab", count: 32))
        #expect(FeedToken(token.encoded) == token)
        #expect(token.encoded.count == 96)
        for bad in ["", "x", String(token.encoded.dropLast()), token.encoded.uppercased(), token.encoded + "0", String(repeating: "g", count: 96)] {
            #expect(FeedToken(bad) == nil, "\(bad)")
        }
    }
}
