import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// `GET /ical/{token}.ics` (SPEC §12), read back by the independent `icalendar` parser from PyPI.
@Suite struct ICalExportTests {
    /// The feed's raw bytes through scripts/check-ical-export.py; fails the test if Python, the library
    /// or the framing check fails (it never skips).
    func readBack(_ feed: String, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
        let env = try await TestEnv.shell("'\(TestEnv.repo.path)/scripts/py-env'")
        #expect(env.status == 0, "scripts/py-env failed: \(env.output)", sourceLocation: sourceLocation)
        let python = env.output.split(separator: "\n").last.map(String.init) ?? ""
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("feed-\(UUID().uuidString).ics")
        try Data(feed.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try await TestEnv.shell("'\(python)' '\(TestEnv.repo.path)/scripts/check-ical-export.py' < '\(file.path)' 2>&1")
        #expect(result.status == 0, "icalendar refused the feed: \(result.output)", sourceLocation: sourceLocation)
        return JSONValue.parse(Array((result.output.split(separator: "\n").last.map(String.init) ?? "").utf8)) ?? .null
    }

    func path(_ exportURL: JSONValue?) throws -> String { try #require(exportURL?.stringValue.flatMap(URL.init(string:))?.path) }

    @Test func theFeedHoldsWhatIsSoldElsewhereButNotTheChannelsOwnNightsNorAnyGuestData() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let booking = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "guest_name": "Zebedee Secretguest", "guest_email": "zebedee@guest.example",
                    "check_in": "2031-05-01", "check_out": "2031-05-04", "guests": 2, "notes": "door code 4321",
                    "total_amount_cents": 98765, "currency": "EUR",
                ]
            )
            let bookingId = try #require(booking["id"]?.uuid)
            let block = try #require(try await api.createBlock(agency, property: property, start: "2031-06-01", end: "2031-06-03")["id"]?.uuid)
            let past = try await api.createBooking(agency, property: property, checkIn: "2020-01-01", checkOut: "2020-01-03")
            #expect(past.status == .created)
            let cancelled = try #require(
                try await api.createBooking(agency, property: property, checkIn: "2031-07-01", checkOut: "2031-07-02")["id"]?.uuid
            )
            _ = try await api.send(.post, "/api/v1/bookings/\(cancelled)/cancel", token: agency.admin.token)
            let airbnb = try await api.createConnection(agency, property: property)
            let vrbo = try await api.createConnection(agency, property: property)
            _ = try await api.insertChannelBlock(agency, property: property, connection: airbnb, start: "2031-08-01", end: "2031-08-05")
            let fromVrbo = try await api.insertChannelBlock(agency, property: property, connection: vrbo, start: "2031-09-01", end: "2031-09-02")

            let connection = try await api.send(.get, "/api/v1/channel-connections/\(airbnb)", token: agency.admin.token)
            let exportURL = try #require(connection["export_url"]?.stringValue)
            #expect(exportURL.hasPrefix(api.services.config.publicBaseURL + "/ical/") && exportURL.hasSuffix(".ics"))
            let r = try await api.send(.get, try path(connection["export_url"]))
            #expect(r.status == .ok)
            #expect(r.headers[.contentType] == "text/calendar; charset=utf-8")
            for secret in ["Zebedee", "zebedee@", "4321", "98765", "EUR"] { #expect(!r.raw.contains(secret), "the feed leaks \(secret)") }

            let parsed = try await readBack(r.raw)
            #expect(parsed["version"] == "2.0" && parsed["prodid"]?.stringValue?.contains("Innkeep") == true)
            let events = parsed["events"]?.arrayValue ?? []
            #expect(events.map { $0["uid"]?.stringValue ?? "" } == [bookingId, block, fromVrbo].map { "\($0.uuidString.lowercased())@innkeep" })
            #expect(events.map { $0["start"]?.stringValue ?? "" } == ["2031-05-01", "2031-06-01", "2031-09-01"])
            #expect(events.map { $0["end"]?.stringValue ?? "" } == ["2031-05-04", "2031-06-03", "2031-09-02"])
            #expect(events.map { $0["summary"]?.stringValue ?? "" } == ["Reserved", "Not available", "Not available"])
            #expect(events.allSatisfy { $0["stamp"] == true && $0["value_date"] == true })

            // Unchanged: 304 for the same ETag; a new booking changes it.
            let etag = try #require(r.headers[.eTag])
            var conditional = HTTPFields()
            conditional[.ifNoneMatch] = etag
            let same = try await api.send(.get, try path(connection["export_url"]), headers: conditional)
            #expect(same.status == .notModified && same.raw.isEmpty && same.headers[.eTag] == etag)
            _ = try await api.createBooking(agency, property: property, checkIn: "2031-10-01", checkOut: "2031-10-03")
            let changed = try await api.send(.get, try path(connection["export_url"]), headers: conditional)
            #expect(changed.status == .ok && changed.headers[.eTag] != etag)
        }
    }

    @Test func rotatingTheTokenRetiresTheOldURLAtOnce() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let id = try await api.createConnection(agency, property: property)
            let before = try await api.send(.get, "/api/v1/channel-connections/\(id)", token: agency.admin.token)
            let old = try path(before["export_url"])
            #expect(try await api.send(.get, old).status == .ok)
            let rotated = try await api.send(.post, "/api/v1/channel-connections/\(id)/rotate-export-token", token: agency.admin.token)
            #expect(rotated.status == .ok && rotated["export_url"] != before["export_url"])
            let gone = try await api.send(.get, old)
            #expect(gone.status == .notFound && gone.errorCode == "FEED_NOT_FOUND")
            #expect(try await api.send(.get, try path(rotated["export_url"])).status == .ok)
            // Tokens are 244 random bits after the agency: never guessable, and every malformed one is a 422.
            let token = String(try path(rotated["export_url"]).dropFirst("/ical/".count).dropLast(".ics".count))
            #expect(token.count == 96)
            let flipped = String(token.dropLast()) + (token.last == "0" ? "1" : "0")
            #expect(try await api.send(.get, "/ical/\(flipped).ics").errorCode == "FEED_NOT_FOUND")
            let other = try await api.makeAgency()
            #expect(
                try await api.send(
                    .get,
                    "/ical/\(other.id.uuidString.lowercased().replacingOccurrences(of: "-", with: ""))\(token.dropFirst(32)).ics"
                )
                .errorCode == "FEED_NOT_FOUND"
            )
            for bad in ["nope", String(repeating: "z", count: 96), token.uppercased()] {
                let r = try await api.send(.get, "/ical/\(bad).ics")
                #expect(r.status == .unprocessableContent && fields(r) == ["token"], "\(bad)")
            }
            #expect(try await api.send(.get, "/api/v1/audit-log?resource_id=\(id)", token: agency.admin.token).data.count == 2)
        }
    }
}
