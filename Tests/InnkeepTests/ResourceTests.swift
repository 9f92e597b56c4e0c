import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

func fields(_ r: APIResponse) -> [String] {
    (r.json["error"]?["details"]?["fields"]?.arrayValue ?? []).compactMap { $0["field"]?.stringValue }.sorted()
}

/// Properties (SPEC §4).
@Suite struct PropertyTests {
    @Test func createAppliesDefaultsAndIgnoresServerOwnedFields() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let other = try await api.makeAgency()
            let forged = UUID()
            let r = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: [
                    "name": "Casa", "max_guests": 3, "id": .string(forged.uuidString), "agency_id": JSONValue(other.id),
                    "created_at": "2000-01-01T00:00:00Z",
                ]
            )
            #expect(r.status == .created)
            #expect(r["address"] == "" && r["timezone"] == "UTC" && r["status"] == "active" && r["owner_id"] == .null)
            #expect(r["agency_id"]?.uuid == agency.id)
            #expect(r["id"]?.uuid != forged)
            #expect(r["created_at"]?.stringValue?.hasPrefix("2000") == false)
        }
    }

    @Test func validationNamesEveryBadField() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let r = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: [
                    "name": "", "max_guests": 101, "timezone": "Mars/Olympus", "status": "sold", "owner_id": "nope", "address": 5,
                ]
            )
            #expect(r.status == .unprocessableContent)
            #expect(fields(r) == ["address", "max_guests", "name", "owner_id", "status", "timezone"])
            let missing = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, json: [:])
            #expect(fields(missing) == ["max_guests", "name"])
        }
    }

    @Test func ownerMustBeAnOwnerMemberOfThisAgency() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let other = try await api.makeAgency()
            for candidate in [agency.members[.manager]!.id, other.members[.owner]!.id, UUID()] {
                let r = try await api.send(
                    .post,
                    "/api/v1/properties",
                    token: agency.admin.token,
                    json: ["name": "P", "max_guests": 2, "owner_id": JSONValue(candidate)]
                )
                #expect(r.status == .unprocessableContent)
                #expect(fields(r) == ["owner_id"])
            }
            let ok = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: ["name": "P", "max_guests": 2, "owner_id": JSONValue(agency.members[.owner]!.id)]
            )
            #expect(ok.status == .created)
        }
    }

    @Test func patchChangesOnlyWhatIsSent() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let id = try await api.createProperty(agency, name: "Before", maxGuests: 4, owner: agency.members[.owner]!.id)
            let r = try await api.send(.patch, "/api/v1/properties/\(id)", token: agency.admin.token, json: ["address": "2 New Road"])
            #expect(r.status == .ok)
            #expect(r["address"] == "2 New Road" && r["name"] == "Before" && r["max_guests"] == 4)
            #expect(r["owner_id"]?.uuid == agency.members[.owner]!.id)
            let cleared = try await api.send(
                .patch,
                "/api/v1/properties/\(id)",
                token: agency.admin.token,
                json: ["owner_id": nil, "status": "inactive"]
            )
            #expect(cleared["owner_id"] == .null && cleared["status"] == "inactive" && cleared["address"] == "2 New Road")
            let bad = try await api.send(.patch, "/api/v1/properties/\(id)", token: agency.admin.token, json: ["max_guests": "many"])
            #expect(fields(bad) == ["max_guests"])
            let missing = try await api.send(.patch, "/api/v1/properties/\(UUID())", token: agency.admin.token, json: ["name": "x"])
            #expect(missing.errorCode == "PROPERTY_NOT_FOUND")
        }
    }

    @Test func deleteIsRefusedWhileConfirmedFutureBookingsExist() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let id = try await api.createProperty(agency)
            let booking = try await api.createBooking(agency, property: id, checkIn: "2032-05-01", checkOut: "2032-05-04")["id"]!.uuid!
            let refused = try await api.send(.delete, "/api/v1/properties/\(id)", token: agency.admin.token)
            #expect(refused.status == .conflict)
            #expect(refused.errorCode == "PROPERTY_HAS_BOOKINGS")
            #expect(try await api.send(.post, "/api/v1/bookings/\(booking)/cancel", token: agency.admin.token).status == .ok)
            #expect(try await api.send(.delete, "/api/v1/properties/\(id)", token: agency.admin.token).status == .noContent)
            #expect(try await api.send(.get, "/api/v1/properties/\(id)", token: agency.admin.token).errorCode == "PROPERTY_NOT_FOUND")
        }
    }

    @Test func malformedIdsInPathsAndQueriesAre422() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let path = try await api.send(.get, "/api/v1/properties/not-a-uuid", token: agency.admin.token)
            #expect(path.status == .unprocessableContent)
            #expect(fields(path) == ["id"])
            let query = try await api.send(.get, "/api/v1/bookings?property_id=xyz&limit=0&status=maybe&from=2024-02-30", token: agency.admin.token)
            #expect(fields(query) == ["from", "limit", "property_id", "status"])
            let cursor = try await api.send(.get, "/api/v1/properties?cursor=garbage", token: agency.admin.token)
            #expect(fields(cursor) == ["cursor"])
        }
    }

    @Test func paginationReturnsEveryRowExactlyOnceEvenWithConcurrentInserts() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            var created: Set<UUID> = []
            for i in 0..<7 { created.insert(try await api.createProperty(agency, name: "P\(i)")) }
            var seen: [UUID] = []
            var cursor: String?
            repeat {
                let page = try await api.send(.get, "/api/v1/properties?limit=3" + (cursor.map { "&cursor=\($0)" } ?? ""), token: agency.admin.token)
                #expect(page.status == .ok)
                #expect(page.data.count <= 3)
                seen += page.data.compactMap { $0["id"]?.uuid }
                cursor = page["next_cursor"]?.stringValue
                // A row added mid-walk is newer than the cursor: it must not disturb the walk.
                if seen.count == 3 { _ = try await api.createProperty(agency, name: "late") }
            } while cursor != nil
            #expect(seen.count == Set(seen).count, "a row was returned twice")
            #expect(created.isSubset(of: Set(seen)), "a row was skipped")
        }
    }
}

/// Bookings: half-open stays, the exclusion constraint, cancellation (SPEC §4).
@Suite struct BookingTests {
    @Test func backToBackStaysAreAllowedAndOverlapsConflict() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let p = try await api.createProperty(agency)
            let first = try await api.createBooking(agency, property: p, checkIn: "2033-03-01", checkOut: "2033-03-05")
            #expect(first.status == .created)
            #expect(first["status"] == "confirmed" && first["source"] == "direct" && first["created_by"]?.uuid == agency.admin.id)
            #expect(try await api.createBooking(agency, property: p, checkIn: "2033-03-05", checkOut: "2033-03-07").status == .created)
            #expect(try await api.createBooking(agency, property: p, checkIn: "2033-02-25", checkOut: "2033-03-01").status == .created)
            let clash = try await api.createBooking(agency, property: p, checkIn: "2033-03-04", checkOut: "2033-03-06")
            #expect(clash.status == .conflict)
            #expect(clash.errorCode == "BOOKING_CONFLICT")
            #expect(clash.json["error"]?["details"]?["conflicting_booking_id"]?.uuid == first["id"]?.uuid)
            // Another property is unaffected.
            let q = try await api.createProperty(agency)
            #expect(try await api.createBooking(agency, property: q, checkIn: "2033-03-01", checkOut: "2033-03-05").status == .created)
        }
    }

    @Test func cancellingFreesTheDatesAndTwiceIsAConflict() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let p = try await api.createProperty(agency)
            let id = try await api.createBooking(agency, property: p, checkIn: "2034-01-10", checkOut: "2034-01-12")["id"]!.uuid!
            #expect(try await api.createBooking(agency, property: p, checkIn: "2034-01-11", checkOut: "2034-01-13").errorCode == "BOOKING_CONFLICT")
            let cancelled = try await api.send(.post, "/api/v1/bookings/\(id)/cancel", token: agency.admin.token)
            #expect(cancelled.status == .ok)
            #expect(cancelled["status"] == "cancelled" && cancelled["cancelled_at"] != .null)
            let again = try await api.send(.post, "/api/v1/bookings/\(id)/cancel", token: agency.admin.token)
            #expect(again.status == .conflict)
            #expect(again.errorCode == "BOOKING_ALREADY_CANCELLED")
            #expect(try await api.createBooking(agency, property: p, checkIn: "2034-01-11", checkOut: "2034-01-13").status == .created)
        }
    }

    @Test func everyBookingRuleIsEnforcedWithItsFieldNamed() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let p = try await api.createProperty(agency, maxGuests: 3)
            func book(_ body: JSONValue) async throws -> APIResponse {
                try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body)
            }
            let base: [String: JSONValue] = [
                "property_id": JSONValue(p), "guest_name": "G", "check_in": "2035-06-01", "check_out": "2035-06-03", "guests": 2,
            ]
            func with(_ changes: [String: JSONValue?]) -> JSONValue {
                var b = base
                for (k, v) in changes { b[k] = v }
                return .object(b)
            }
            #expect(fields(try await book(with(["check_out": "2035-06-01"]))) == ["check_out"])
            #expect(fields(try await book(with(["check_out": "2035-05-30"]))) == ["check_out"])
            #expect(fields(try await book(with(["check_in": "2037-03-01", "check_out": "2038-03-02"]))) == ["check_out"])  // 366 nights
            #expect(try await book(with(["check_in": "2037-03-01", "check_out": "2038-03-01"])).status == .created)  // 365 nights
            #expect(fields(try await book(with(["guests": 4, "check_in": "2037-01-01", "check_out": "2037-01-02"]))) == ["guests"])
            #expect(fields(try await book(with(["guests": 0]))) == ["guests"])
            #expect(fields(try await book(with(["check_in": "2035-02-30"]))) == ["check_in"])
            #expect(
                fields(try await book(with(["source": "expedia", "currency": "eur", "total_amount_cents": -1, "guest_email": "nope"]))) == [
                    "currency", "guest_email", "source", "total_amount_cents",
                ]
            )
            #expect(
                fields(try await book(with(["property_id": nil, "guest_name": nil, "check_in": nil, "check_out": nil, "guests": nil]))) == [
                    "check_in", "check_out", "guest_name", "guests", "property_id",
                ]
            )
            let unknown = try await book(with(["property_id": JSONValue(UUID())]))
            #expect(unknown.status == .notFound)
            #expect(unknown.errorCode == "PROPERTY_NOT_FOUND")
            _ = try await api.send(.patch, "/api/v1/properties/\(p)", token: agency.admin.token, json: ["status": "inactive"])
            let inactive = try await book(with(["check_in": "2038-01-01", "check_out": "2038-01-02"]))
            #expect(fields(inactive) == ["property_id"])
        }
    }

    @Test func thirtyTwoConcurrentRequestsForTheSameNightsCreateExactlyOneBooking() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let p = try await api.createProperty(agency)
            let statuses = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                for _ in 0..<32 {
                    group.addTask { try await api.createBooking(agency, property: p, checkIn: "2039-07-01", checkOut: "2039-07-08") }
                }
                return try await group.reduce(into: [APIResponse]()) { $0.append($1) }
            }
            let winners = statuses.filter { $0.status == .created }
            #expect(winners.count == 1)
            #expect(statuses.filter { $0.errorCode == "BOOKING_CONFLICT" }.count == 31)
            let winner = try #require(winners.first?["id"]?.uuid)
            for loser in statuses where loser.status == .conflict {
                #expect(loser.json["error"]?["details"]?["conflicting_booking_id"]?.uuid == winner)
            }
            let list = try await api.send(.get, "/api/v1/bookings?property_id=\(p)", token: agency.admin.token)
            #expect(list.data.count == 1)
        }
    }

    @Test func listFiltersByPropertyStatusAndOverlappingRange() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let p = try await api.createProperty(agency)
            let q = try await api.createProperty(agency)
            let a = try await api.createBooking(agency, property: p, checkIn: "2040-01-01", checkOut: "2040-01-05")["id"]!.uuid!
            let b = try await api.createBooking(agency, property: p, checkIn: "2040-01-10", checkOut: "2040-01-12")["id"]!.uuid!
            let c = try await api.createBooking(agency, property: q, checkIn: "2040-01-03", checkOut: "2040-01-04")["id"]!.uuid!
            _ = try await api.send(.post, "/api/v1/bookings/\(b)/cancel", token: agency.admin.token)
            func ids(_ query: String) async throws -> Set<UUID> {
                Set(try await api.send(.get, "/api/v1/bookings?\(query)", token: agency.admin.token).data.compactMap { $0["id"]?.uuid })
            }
            #expect(try await ids("property_id=\(p)") == [a, b])
            #expect(try await ids("status=cancelled") == [b])
            #expect(try await ids("from=2040-01-04&to=2040-01-11") == [a, b])  // overlaps [from, to)
            #expect(try await ids("from=2040-01-05&to=2040-01-10") == [])  // a ends, b starts: no overlap
            #expect(try await ids("from=2040-01-03&to=2040-01-04&property_id=\(q)") == [c])
            let backwards = try await api.send(.get, "/api/v1/bookings?from=2040-02-01&to=2040-01-01", token: agency.admin.token)
            #expect(fields(backwards) == ["to"])
        }
    }

    /// The longest stay (365 nights) that ends the day after `from` overlaps it: the list's scan starts from a bound
    /// on check-in derived from that limit (migration 0023), which must not cut it off.
    @Test func theLongestStayEndingAfterFromIsListed() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let p = try await api.createProperty(agency)
            let rules = try await api.send(.patch, "/api/v1/properties/\(p)", token: agency.admin.token, json: ["max_nights": 365])
            #expect(rules.status == .ok, "\(rules.raw)")
            let year = try await api.createBooking(agency, property: p, checkIn: "2041-01-01", checkOut: "2042-01-01")
            let id = try #require(year["id"]?.uuid, "\(year.raw)")
            let after = try await api.createBooking(agency, property: p, checkIn: "2042-01-01", checkOut: "2042-01-03")["id"]?.uuid
            func ids(_ query: String) async throws -> [UUID] {
                try await api.send(.get, "/api/v1/bookings?property_id=\(p)&\(query)", token: agency.admin.token).data.compactMap { $0["id"]?.uuid }
            }
            #expect(try await ids("from=2041-12-31&to=2042-01-01") == [id])
            #expect(try await ids("from=2041-12-31") == [after!, id])
            #expect(try await ids("from=2042-01-01&to=2042-01-02") == [after!])
        }
    }
}

/// Another agency's ids answer exactly like missing ones, and change nothing (SPEC §8).
@Suite struct TenantIsolationTests {
    @Test func everyRouteWithAnIdOrReferenceTreatsForeignIdsAsMissing() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let bProperty = try await api.createProperty(b, name: "B's", owner: b.members[.owner]!.id)
            let bBooking = try await api.createBooking(b, property: bProperty, checkIn: "2041-01-01", checkOut: "2041-01-03")["id"]!.uuid!
            let bChannel = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: b.admin.token,
                json: [
                    "property_id": JSONValue(bProperty), "channel": "airbnb", "external_listing_id": "B-1",
                ]
            )["id"]!.uuid!
            let bMembers = try await api.send(.get, "/api/v1/team-members", token: b.admin.token)
            let bMember = try #require(bMembers.data.first { $0["role"] == "staff" }?["id"]?.uuid)
            let before = try await snapshot(api, b)

            let t = a.admin.token
            let cases: [(HTTPRequest.Method, String, JSONValue?, String)] = [
                (.get, "/api/v1/properties/\(bProperty)", nil, "PROPERTY_NOT_FOUND"),
                (.patch, "/api/v1/properties/\(bProperty)", ["name": "hijacked"], "PROPERTY_NOT_FOUND"),
                (.delete, "/api/v1/properties/\(bProperty)", nil, "PROPERTY_NOT_FOUND"),
                (.get, "/api/v1/bookings/\(bBooking)", nil, "BOOKING_NOT_FOUND"),
                (.post, "/api/v1/bookings/\(bBooking)/cancel", nil, "BOOKING_NOT_FOUND"),
                (
                    .post, "/api/v1/bookings",
                    [
                        "property_id": JSONValue(bProperty), "guest_name": "X", "check_in": "2042-01-01",
                        "check_out": "2042-01-02", "guests": 1,
                    ], "PROPERTY_NOT_FOUND"
                ),
                (
                    .post, "/api/v1/channel-connections", ["property_id": JSONValue(bProperty), "channel": "vrbo", "external_listing_id": "x"],
                    "PROPERTY_NOT_FOUND"
                ),
                (.delete, "/api/v1/channel-connections/\(bChannel)", nil, "CHANNEL_CONNECTION_NOT_FOUND"),
                (.patch, "/api/v1/team-members/\(bMember)", ["role": "admin"], "TEAM_MEMBER_NOT_FOUND"),
                (.delete, "/api/v1/team-members/\(bMember)", nil, "TEAM_MEMBER_NOT_FOUND"),
            ]
            for (method, path, body, code) in cases {
                let foreign = try await api.send(method, path, token: t, json: body)
                #expect(foreign.status == .notFound, "\(method) \(path): \(foreign.raw)")
                #expect(foreign.errorCode == code, "\(method) \(path)")
            }
            // A foreign owner cannot be assigned; filters on foreign ids find nothing.
            let owner = try await api.send(
                .post,
                "/api/v1/properties",
                token: t,
                json: ["name": "P", "max_guests": 1, "owner_id": JSONValue(b.members[.owner]!.id)]
            )
            #expect(owner.status == .unprocessableContent)
            #expect(try await api.send(.get, "/api/v1/bookings?property_id=\(bProperty)", token: t).data.isEmpty)
            #expect(try await api.send(.get, "/api/v1/channel-connections?property_id=\(bProperty)", token: t).data.isEmpty)
            #expect(try await api.send(.get, "/api/v1/audit-log?resource_id=\(bProperty)", token: t).data.isEmpty)
            #expect(try await snapshot(api, b) == before, "agency B's data changed")
        }
    }

    /// Everything agency B can see, to prove nothing changed.
    func snapshot(_ api: APIClient, _ agency: TestAgency) async throws -> [String] {
        var out: [String] = []
        for path in ["/api/v1/properties", "/api/v1/bookings", "/api/v1/channel-connections", "/api/v1/team-members"] {
            out.append(try await api.send(.get, path + "?limit=200", token: agency.admin.token).raw)
        }
        return out
    }

    @Test func listsNeverContainAnotherAgencysRowsOnAnyPage() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            for i in 0..<5 {
                let pa = try await api.createProperty(a, name: "A\(i)")
                let pb = try await api.createProperty(b, name: "B\(i)")
                _ = try await api.createBooking(a, property: pa, checkIn: "2043-01-01", checkOut: "2043-01-02")
                _ = try await api.createBooking(b, property: pb, checkIn: "2043-01-01", checkOut: "2043-01-02")
            }
            for path in ["/api/v1/properties", "/api/v1/bookings", "/api/v1/team-members", "/api/v1/audit-log"] {
                var cursor: String?
                var count = 0
                repeat {
                    let page = try await api.send(.get, path + "?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: a.admin.token)
                    #expect(page.status == .ok, "\(path)")
                    for row in page.data { #expect(row["agency_id"]?.uuid == a.id, "\(path) leaked \(row)") }
                    count += page.data.count
                    cursor = page["next_cursor"]?.stringValue
                } while cursor != nil
                #expect(count > 0, "\(path)")
            }
        }
    }
}

/// Channel connections (SPEC §4).
@Suite struct ChannelConnectionTests {
    @Test func createListAndDelete() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let p = try await api.createProperty(agency)
            let c = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(p), "channel": "ical", "external_listing_id": "cal-1", "ical_url": "https://example.com/cal.ics",
                ]
            )
            #expect(c.status == .created)
            #expect(c["status"] == "active" && c["last_synced_at"] == .null && c["ical_url"] == "https://example.com/cal.ics")
            let dup = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(p), "channel": "ical", "external_listing_id": "cal-1", "ical_url": "https://example.com/other.ics",
                ]
            )
            #expect(dup.errorCode == "CHANNEL_CONNECTION_EXISTS")
            let bad = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(p), "channel": "expedia", "external_listing_id": "", "ical_url": "ftp://x",
                ]
            )
            #expect(fields(bad) == ["channel", "external_listing_id", "ical_url"])
            let noURL = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(p), "channel": "ical", "external_listing_id": "cal-2",
                ]
            )
            #expect(fields(noURL) == ["ical_url"])
            #expect(try await api.send(.get, "/api/v1/channel-connections", token: agency.admin.token).data.count == 1)
            let id = try #require(c["id"]?.uuid)
            #expect(try await api.send(.delete, "/api/v1/channel-connections/\(id)", token: agency.admin.token).status == .noContent)
            #expect(
                try await api.send(.delete, "/api/v1/channel-connections/\(id)", token: agency.admin.token).errorCode
                    == "CHANNEL_CONNECTION_NOT_FOUND"
            )
        }
    }
}
