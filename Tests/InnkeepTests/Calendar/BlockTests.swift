import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// Blocks (SPEC §11): create, read, delete, validation, owners, other agencies.
@Suite struct BlockTests {
    @Test func createReadListAndDeleteAreAudited() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let r = try await api.send(
                .post,
                "/api/v1/blocks",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "start_date": "2031-03-01", "end_date": "2031-03-05", "kind": "maintenance",
                    "note": "boiler", "created_by": JSONValue(UUID()), "channel_connection_id": JSONValue(UUID()),
                ]
            )
            #expect(r.status == .created, "\(r.raw)")
            let id = try #require(r["id"]?.uuid)
            #expect(r["kind"] == "maintenance" && r["note"] == "boiler" && r["start_date"] == "2031-03-01" && r["end_date"] == "2031-03-05")
            #expect(r["created_by"]?.uuid == agency.admin.id && r["channel_connection_id"] == .null && r["agency_id"]?.uuid == agency.id)

            let got = try await api.send(.get, "/api/v1/blocks/\(id)", token: agency.token(.staff))
            #expect(got.status == .ok && got.raw == r.raw)

            let other = try await api.createProperty(agency, name: "Other")
            _ = try await api.createBlock(agency, property: other, start: "2031-06-01", end: "2031-06-02", kind: "hold")
            let byProperty = try await api.send(.get, "/api/v1/blocks?property_id=\(property)", token: agency.admin.token)
            #expect(byProperty.data.map { $0["id"]?.uuid } == [id])
            let byKind = try await api.send(.get, "/api/v1/blocks?kind=hold", token: agency.admin.token)
            #expect(byKind.data.count == 1 && byKind.data[0]["property_id"]?.uuid == other)
            // from/to keep blocks that overlap [from, to): the one ending on `from` does not.
            let overlapping = try await api.send(.get, "/api/v1/blocks?from=2031-03-04&to=2031-06-01", token: agency.admin.token)
            #expect(overlapping.data.map { $0["id"]?.uuid } == [id])
            let touching = try await api.send(.get, "/api/v1/blocks?from=2031-03-05&to=2031-06-01", token: agency.admin.token)
            #expect(touching.data.isEmpty)
            // Either bound alone leaves the other side open.
            let fromOnly = try await api.send(.get, "/api/v1/blocks?from=2031-03-04", token: agency.admin.token)
            #expect(fromOnly.data.compactMap { $0["id"]?.uuid }.count == 2)
            let toOnly = try await api.send(.get, "/api/v1/blocks?to=2031-06-01", token: agency.admin.token)
            #expect(toOnly.data.map { $0["id"]?.uuid } == [id])

            let deleted = try await api.send(.delete, "/api/v1/blocks/\(id)", token: agency.token(.manager))
            #expect(deleted.status == .noContent)
            let gone = try await api.send(.get, "/api/v1/blocks/\(id)", token: agency.admin.token)
            #expect(gone.status == .notFound && gone.errorCode == "BLOCK_NOT_FOUND")
            let again = try await api.send(.delete, "/api/v1/blocks/\(id)", token: agency.admin.token)
            #expect(again.errorCode == "BLOCK_NOT_FOUND")

            let audit = try await api.send(.get, "/api/v1/audit-log?resource_id=\(id)", token: agency.admin.token)
            #expect(audit.data.compactMap { $0["action"]?.stringValue } == ["block.delete", "block.create"])
            #expect(audit.data.last?["details"]?["kind"] == "maintenance")
        }
    }

    @Test func badInputNamesEveryField() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            func post(_ body: JSONValue) async throws -> APIResponse {
                try await api.send(.post, "/api/v1/blocks", token: agency.admin.token, json: body)
            }
            let all = try await post(["property_id": "nope", "start_date": "2031-02-30", "end_date": 5, "kind": "party", "note": 7])
            #expect(all.status == .unprocessableContent)
            #expect(fields(all) == ["end_date", "kind", "note", "property_id", "start_date"])
            #expect(fields(try await post([:])) == ["end_date", "kind", "property_id", "start_date"])
            let base: [String: JSONValue] = ["property_id": JSONValue(property), "kind": "hold"]
            func dates(_ s: String, _ e: String, kind: String = "hold") -> JSONValue {
                var b = base
                (b["start_date"], b["end_date"], b["kind"]) = (.string(s), .string(e), .string(kind))
                return .object(b)
            }
            #expect(fields(try await post(dates("2031-05-05", "2031-05-05"))) == ["end_date"])
            #expect(fields(try await post(dates("2031-05-05", "2031-05-01"))) == ["end_date"])
            #expect(fields(try await post(dates("2031-01-01", "2033-01-01"))) == ["end_date"])  // 365 + 366 = 731 nights
            #expect(try await post(dates("2031-01-01", "2032-12-31")).status == .created)  // 730, the limit
            let channel = try await post(dates("2031-05-01", "2031-05-02", kind: "channel"))
            #expect(fields(channel) == ["kind"])
            #expect(channel.json["error"]?["details"]?["fields"]?.arrayValue?.first?["issue"]?.stringValue?.contains("sync") == true)
            let malformed = try await api.send(.get, "/api/v1/blocks/not-a-uuid", token: agency.admin.token)
            #expect(malformed.status == .unprocessableContent && fields(malformed) == ["id"])
            let badFilter = try await api.send(.get, "/api/v1/blocks?kind=channelx&from=2031-01-05&to=2031-01-05", token: agency.admin.token)
            #expect(fields(badFilter) == ["kind", "to"])
            let unknown = try await post(["property_id": JSONValue(UUID()), "start_date": "2035-05-01", "end_date": "2035-05-02", "kind": "hold"])
            #expect(unknown.status == .notFound && unknown.errorCode == "PROPERTY_NOT_FOUND")
        }
    }

    @Test func anotherAgencysPropertiesAndBlocksAreNotFoundAndStayUnchanged() async throws {
        try await withApp { api in
            let mine = try await api.makeAgency()
            let theirs = try await api.makeAgency()
            let theirProperty = try await api.createProperty(theirs)
            let theirBlock = try #require(
                try await api.createBlock(theirs, property: theirProperty, start: "2031-04-01", end: "2031-04-03")["id"]?.uuid
            )
            let create = try await api.createBlock(mine, property: theirProperty, start: "2031-05-01", end: "2031-05-03")
            #expect(create.status == .notFound && create.errorCode == "PROPERTY_NOT_FOUND")
            for method in [HTTPRequest.Method.get, .delete] {
                let r = try await api.send(method, "/api/v1/blocks/\(theirBlock)", token: mine.admin.token)
                #expect(r.status == .notFound && r.errorCode == "BLOCK_NOT_FOUND")
            }
            #expect(try await api.send(.get, "/api/v1/blocks", token: mine.admin.token).data.isEmpty)
            let calendar = try await api.send(.get, "/api/v1/properties/\(theirProperty)/calendar", token: mine.admin.token)
            #expect(calendar.status == .notFound && calendar.errorCode == "PROPERTY_NOT_FOUND")
            let still = try await api.send(.get, "/api/v1/blocks/\(theirBlock)", token: theirs.admin.token)
            #expect(still.status == .ok)
            // Their nights are not ours: the same dates on our own property are free.
            let ours = try await api.createProperty(mine)
            #expect(try await api.createBlock(mine, property: ours, start: "2031-04-01", end: "2031-04-03").status == .created)
        }
    }

    @Test func ownersCloseOnlyTheirOwnPropertiesForTheirOwnStays() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let owner = agency.members[.owner]!
            let mine = try await api.createProperty(agency, name: "Mine", owner: owner.id)
            let notMine = try await api.createProperty(agency, name: "Not mine")

            let stay = try await api.createBlock(
                agency,
                property: mine,
                start: "2031-07-01",
                end: "2031-07-08",
                kind: "owner_stay",
                token: owner.token
            )
            #expect(stay.status == .created, "\(stay.raw)")
            let maintenance = try await api.createBlock(agency, property: mine, start: "2031-08-01", end: "2031-08-02", token: owner.token)
            #expect(maintenance.status == .forbidden && maintenance.errorCode == "INSUFFICIENT_ROLE")
            #expect(maintenance.json["error"]?["details"]?["allowed_roles"] == ["admin", "manager"])
            let elsewhere = try await api.createBlock(
                agency,
                property: notMine,
                start: "2031-07-01",
                end: "2031-07-08",
                kind: "owner_stay",
                token: owner.token
            )
            #expect(elsewhere.status == .notFound && elsewhere.errorCode == "PROPERTY_NOT_FOUND")

            let adminBlockOnMine = try #require(try await api.createBlock(agency, property: mine, start: "2031-09-01", end: "2031-09-03")["id"]?.uuid)
            let adminBlockElsewhere = try #require(
                try await api.createBlock(agency, property: notMine, start: "2031-09-01", end: "2031-09-03")["id"]?.uuid
            )
            let listed = try await api.send(.get, "/api/v1/blocks", token: owner.token)
            #expect(Set(listed.data.compactMap { $0["id"]?.uuid }) == [stay["id"]!.uuid!, adminBlockOnMine])
            let hidden = try await api.send(.get, "/api/v1/blocks/\(adminBlockElsewhere)", token: owner.token)
            #expect(hidden.status == .notFound)
            let deleteMaintenance = try await api.send(.delete, "/api/v1/blocks/\(adminBlockOnMine)", token: owner.token)
            #expect(deleteMaintenance.status == .forbidden && deleteMaintenance.errorCode == "INSUFFICIENT_ROLE")
            let deleteElsewhere = try await api.send(.delete, "/api/v1/blocks/\(adminBlockElsewhere)", token: owner.token)
            #expect(deleteElsewhere.status == .notFound && deleteElsewhere.errorCode == "BLOCK_NOT_FOUND")
            let deleteOwn = try await api.send(.delete, "/api/v1/blocks/\(stay["id"]!.uuid!)", token: owner.token)
            #expect(deleteOwn.status == .noContent)
            // Staff and accountants read but never write.
            for role in [Role.staff, .accountant] {
                let r = try await api.createBlock(agency, property: notMine, start: "2031-10-01", end: "2031-10-02", token: agency.token(role))
                #expect(r.status == .forbidden)
            }
        }
    }

    @Test func channelBlocksAreRefusedToTheAPIAndCannotBeDeleted() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let connection = try await api.createConnection(agency, property: property)
            let block = try await api.insertChannelBlock(agency, property: property, connection: connection, start: "2031-02-01", end: "2031-02-04")
            let r = try await api.send(.delete, "/api/v1/blocks/\(block)", token: agency.admin.token)
            #expect(r.status == .conflict && r.errorCode == "BLOCK_MANAGED_BY_CHANNEL")
            let got = try await api.send(.get, "/api/v1/blocks/\(block)", token: agency.admin.token)
            #expect(got["kind"] == "channel" && got["channel_connection_id"]?.uuid == connection && got["created_by"] == .null)
        }
    }

    @Test func aRetriedCreateWithTheSameKeyReplaysTheFirstAnswer() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            var headers = HTTPFields()
            headers[HTTPField.Name("Idempotency-Key")!] = UUID().uuidString
            let body: JSONValue = ["property_id": JSONValue(property), "start_date": "2031-11-01", "end_date": "2031-11-03", "kind": "hold"]
            let first = try await api.send(.post, "/api/v1/blocks", token: agency.admin.token, json: body, headers: headers)
            let second = try await api.send(.post, "/api/v1/blocks", token: agency.admin.token, json: body, headers: headers)
            #expect(first.status == .created && second.status == .created && first.raw == second.raw)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try await api.send(.get, "/api/v1/blocks", token: agency.admin.token).data.count == 1)
        }
    }
}
