import Foundation
import HTTPTypes
import NIOCore
import PostgresNIO
import Testing

@testable import Innkeep

/// SPEC §7: one audit entry per successful action, written in the action's transaction, append-only; read with
/// filters and pagination, by admins and accountants, within one agency.
@Suite struct AuditLogTests {
    /// Exactly one entry for `resourceId`, with the caller and the agency on it.
    static func single(
        _ api: APIClient,
        _ agency: TestAgency,
        action: String,
        type: String,
        id: UUID,
        user: UUID?,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> JSONValue {
        let entries = try await api.auditEntries(agency, "action=\(action)&resource_id=\(id.uuidString.lowercased())")
        #expect(entries.count == 1, "\(action) on \(id): \(entries)", sourceLocation: sourceLocation)
        let e = try #require(entries.first, sourceLocation: sourceLocation)
        #expect(e["action"] == .string(action), sourceLocation: sourceLocation)
        #expect(e["resource_type"] == .string(type), sourceLocation: sourceLocation)
        #expect(e["resource_id"]?.uuid == id, sourceLocation: sourceLocation)
        #expect(e["agency_id"]?.uuid == agency.id, sourceLocation: sourceLocation)
        #expect(e["user_id"] == JSONValue(user), sourceLocation: sourceLocation)
        #expect(e["id"]?.uuid != nil && e["created_at"]?.stringValue != nil, sourceLocation: sourceLocation)
        return e
    }

    @Test func propertyCreateUpdateDeleteEachLeaveOneEntry() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let manager = agency.members[.manager]!
            let created = try await api.send(.post, "/api/v1/properties", token: manager.token, json: ["name": "Audited", "max_guests": 3])
            #expect(created.status == .created)
            let id = try #require(created["id"]?.uuid)
            let c = try await Self.single(api, agency, action: "property.create", type: "property", id: id, user: manager.id)
            #expect(c["details"]?["name"] == "Audited")

            let updated = try await api.send(
                .patch,
                "/api/v1/properties/\(id)",
                token: agency.admin.token,
                json: ["name": "Renamed", "max_guests": 5]
            )
            #expect(updated.status == .ok)
            let u = try await Self.single(api, agency, action: "property.update", type: "property", id: id, user: agency.admin.id)
            #expect(u["details"]?["changed"] == ["max_guests", "name"])

            let deleted = try await api.send(.delete, "/api/v1/properties/\(id)", token: agency.admin.token)
            #expect(deleted.status == .noContent)
            let d = try await Self.single(api, agency, action: "property.delete", type: "property", id: id, user: agency.admin.id)
            #expect(d["details"]?["name"] == "Renamed")
            // Nothing else was written about the property.
            #expect(try await api.auditEntries(agency, "resource_id=\(id)").count == 3)
        }
    }

    @Test func bookingCreateAndCancelLeaveOneEntryInTheActionsTransaction() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let manager = agency.members[.manager]!
            let r = try await api.send(.post, "/api/v1/bookings", token: manager.token, json: Fixtures.bookingBody(property, 10))
            #expect(r.status == .created, "\(r.raw)")
            let id = try #require(r["id"]?.uuid)
            let e = try await Self.single(api, agency, action: "booking.create", type: "booking", id: id, user: manager.id)
            #expect(e["details"]?["property_id"]?.uuid == property)
            #expect(e["details"]?["check_in"] == .string(Fixtures.day(10)))
            // now() is the transaction's start: equal timestamps mean one transaction wrote both rows.
            #expect(e["created_at"] == r["created_at"])

            let cancel = try await api.send(.post, "/api/v1/bookings/\(id)/cancel", token: agency.admin.token)
            #expect(cancel.status == .ok)
            let ce = try await Self.single(api, agency, action: "booking.cancel", type: "booking", id: id, user: agency.admin.id)
            #expect(ce["created_at"] == cancel["cancelled_at"])

            // A second cancel fails (409) and leaves nothing.
            let again = try await api.send(.post, "/api/v1/bookings/\(id)/cancel", token: agency.admin.token)
            #expect(again.errorCode == "BOOKING_ALREADY_CANCELLED")
            #expect(try await api.auditEntries(agency, "resource_id=\(id)").count == 2)
        }
    }

    @Test func failedActionsLeaveNoEntry() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let first = try await api.createBooking(agency, property: property, checkIn: Fixtures.day(20), checkOut: Fixtures.day(25))
            #expect(first.status == .created)
            let before = try await api.auditEntries(agency)

            // A conflicting booking → 409, no entry.
            let conflict = try await api.createBooking(agency, property: property, checkIn: Fixtures.day(22), checkOut: Fixtures.day(23))
            #expect(conflict.status == .conflict)
            #expect(conflict.errorCode == "BOOKING_CONFLICT")
            // Too many guests → 422, no entry.
            let invalid = try await api.createBooking(agency, property: property, checkIn: Fixtures.day(40), checkOut: Fixtures.day(41), guests: 99)
            #expect(invalid.status == .unprocessableContent)
            // Deleting a property with a future booking → 409 PROPERTY_HAS_BOOKINGS, no entry.
            let blocked = try await api.send(.delete, "/api/v1/properties/\(property)", token: agency.admin.token)
            #expect(blocked.errorCode == "PROPERTY_HAS_BOOKINGS")
            // Demoting or removing the last admin → 409 LAST_ADMIN, no entry.
            let members = try await api.send(.get, "/api/v1/team-members?role=admin", token: agency.admin.token)
            let adminMember = try #require(members.data.first?["id"]?.uuid)
            #expect(
                try await api.send(.patch, "/api/v1/team-members/\(adminMember)", token: agency.admin.token, json: ["role": "staff"]).errorCode
                    == "LAST_ADMIN"
            )
            #expect(try await api.send(.delete, "/api/v1/team-members/\(adminMember)", token: agency.admin.token).errorCode == "LAST_ADMIN")
            // Inviting an existing member again → 409 ALREADY_MEMBER; a malformed invitation → 422; no entry.
            let staff = agency.members[.staff]!
            #expect(
                try await api.send(
                    .post,
                    "/api/v1/team-members",
                    token: agency.admin.token,
                    json: ["email": .string(staff.email), "role": "manager"]
                ).errorCode == "ALREADY_MEMBER"
            )
            #expect(
                try await api.send(
                    .post,
                    "/api/v1/team-members",
                    token: agency.admin.token,
                    json: ["email": .string(uniqueEmail()), "role": "king"]
                ).errorCode == "VALIDATION_ERROR"
            )
            // A role that may not act → 403, no entry.
            #expect(
                try await api.send(.post, "/api/v1/properties", token: agency.token(.staff), json: ["name": "X", "max_guests": 1]).status
                    == .forbidden
            )

            let after = try await api.auditEntries(agency)
            #expect(after == before, "failed actions wrote: \(after.count - before.count) entries")
        }
    }

    @Test func racingOverlappingBookingsLeaveExactlyOneEntry() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let answers = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                for i in 0..<8 {
                    // Different bodies (guest names), the same stay: only the constraint decides.
                    group.addTask {
                        try await api.send(
                            .post,
                            "/api/v1/bookings",
                            token: agency.admin.token,
                            json: Fixtures.bookingBody(property, 30, name: "Racer \(i)")
                        )
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.filter { $0.status == .created }.count == 1, "\(answers.map(\.raw))")
            #expect(answers.filter { $0.errorCode == "BOOKING_CONFLICT" }.count == 7)
            #expect(try await api.auditEntries(agency, "action=booking.create").count == 1)
            #expect(try await api.bookings(agency, property: property).count == 1)
        }
    }

    @Test func memberAddRoleChangeAndRemove() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            // The founding admin and the four members makeAgency invited: five member.add entries, each by the
            // member who joined (the founder, then each invitee accepting), and four member.invite by the admin.
            let adds = try await api.auditEntries(agency, "action=member.add")
            #expect(adds.count == 5)
            #expect(adds.compactMap { $0["details"]?["role"]?.stringValue }.sorted() == ["accountant", "admin", "manager", "owner", "staff"])
            #expect(adds.allSatisfy { $0["user_id"]?.uuid == $0["details"]?["user_id"]?.uuid && $0["resource_type"] == "team_member" })
            #expect(adds.last?["details"]?["user_id"]?.uuid == agency.admin.id)  // the oldest: the founder
            let invites = try await api.auditEntries(agency, "action=member.invite")
            #expect(invites.count == 4)
            #expect(invites.allSatisfy { $0["user_id"]?.uuid == agency.admin.id && $0["resource_type"] == "invitation" })

            let user = try await api.signup()
            let invited = try await api.send(
                .post,
                "/api/v1/team-members",
                token: agency.admin.token,
                json: ["email": .string(user.email), "role": "staff"]
            )
            #expect(invited.status == .created)
            let invitation = try #require(invited["id"]?.uuid)
            let i = try await Self.single(api, agency, action: "member.invite", type: "invitation", id: invitation, user: agency.admin.id)
            #expect(i["details"]?["role"] == "staff")
            let added = try await api.send(.post, "/api/v1/invitations/\(invitation)/accept", token: user.token)
            #expect(added.status == .ok)
            let member = try #require(added["id"]?.uuid)
            let a = try await Self.single(api, agency, action: "member.add", type: "team_member", id: member, user: user.id)
            #expect(a["details"]?["user_id"]?.uuid == user.id)
            #expect(a["details"]?["role"] == "staff")

            let changed = try await api.send(.patch, "/api/v1/team-members/\(member)", token: agency.admin.token, json: ["role": "manager"])
            #expect(changed.status == .ok)
            let c = try await Self.single(api, agency, action: "role.change", type: "team_member", id: member, user: agency.admin.id)
            #expect(c["details"]?["old_role"] == "staff")
            #expect(c["details"]?["new_role"] == "manager")
            #expect(c["details"]?["user_id"]?.uuid == user.id)

            let removed = try await api.send(.delete, "/api/v1/team-members/\(member)", token: agency.admin.token)
            #expect(removed.status == .noContent)
            let r = try await Self.single(api, agency, action: "member.remove", type: "team_member", id: member, user: agency.admin.id)
            #expect(r["details"]?["role"] == "manager")
            #expect(try await api.auditEntries(agency, "resource_id=\(member)").count == 3)
        }
    }

    @Test func channelConnectionCreateAndDelete() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let created = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "channel": "airbnb", "external_listing_id": "L-1",
                ]
            )
            #expect(created.status == .created, "\(created.raw)")
            let id = try #require(created["id"]?.uuid)
            let c = try await Self.single(api, agency, action: "channel_connection.create", type: "channel_connection", id: id, user: agency.admin.id)
            #expect(c["details"]?["channel"] == "airbnb")
            #expect(c["details"]?["property_id"]?.uuid == property)

            #expect(try await api.send(.delete, "/api/v1/channel-connections/\(id)", token: agency.admin.token).status == .noContent)
            _ = try await Self.single(api, agency, action: "channel_connection.delete", type: "channel_connection", id: id, user: agency.admin.id)
            // Deleting it again → 404, nothing more.
            #expect(
                try await api.send(.delete, "/api/v1/channel-connections/\(id)", token: agency.admin.token).errorCode
                    == "CHANNEL_CONNECTION_NOT_FOUND"
            )
            #expect(try await api.auditEntries(agency, "resource_id=\(id)").count == 2)
        }
    }

    @Test func runtimeRoleMayOnlyInsertAndSelect() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            _ = try await api.createProperty(agency)
            let entry = try #require(try await api.auditEntries(agency).first?["id"]?.uuid)
            let statements: [PostgresQuery] = [
                "UPDATE audit_log SET action = 'tampered' WHERE agency_id = \(agency.id) AND id = \(entry)",
                "DELETE FROM audit_log WHERE agency_id = \(agency.id) AND id = \(entry)",
                "TRUNCATE audit_log",
            ]
            for statement in statements {
                do {
                    try await api.services.db.transaction(.tenant(agency.id, user: nil)) { conn in try await conn.run(statement) }
                    Issue.record("\(statement.sql) was allowed")
                } catch let error as PSQLError {
                    #expect(error.sqlState == "42501", "\(statement.sql): \(String(reflecting: error))")
                }
            }
            // INSERT and SELECT are allowed (inside the agency).
            let count = try await api.services.db.transaction(.tenant(agency.id, user: nil)) { conn in
                try await conn.run(
                    """
                    INSERT INTO audit_log (agency_id, action, resource_type) VALUES (\(agency.id), 'test.insert', 'test')
                    """
                )
                return try await conn.run("SELECT count(*) FROM audit_log WHERE agency_id = \(agency.id) AND id = \(entry)")
                    .collect().first?.decode(Int.self)
            }
            #expect(count == 1)
            let stored = try await api.auditEntries(agency, "resource_id=\(entry)")
            #expect(stored.isEmpty)
            #expect(try await api.auditEntries(agency).first { $0["id"]?.uuid == entry }?["action"] == "property.create")
        }
    }

    @Test func filtersAndPaginationWalkEveryEntryExactlyOnce() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let p1 = try await api.createProperty(agency, name: "One")
            let p2 = try await api.createProperty(agency, name: "Two")
            #expect(try await api.send(.patch, "/api/v1/properties/\(p1)", token: agency.admin.token, json: ["name": "One!"]).status == .ok)
            let b = try await api.createBooking(agency, property: p2, checkIn: Fixtures.day(50), checkOut: Fixtures.day(52))
            let booking = try #require(b["id"]?.uuid)

            // 5 member.add (founder + 4 who accepted) + 4 member.invite + 2 property.create + 1 property.update
            // + 1 booking.create.
            let all = try await api.auditEntries(agency)
            #expect(all.count == 13)
            #expect(all.first?["action"] == "booking.create")  // newest first

            var walked: [JSONValue] = []
            var cursor: String?
            var pages = 0
            repeat {
                let r = try await api.send(.get, "/api/v1/audit-log?limit=2" + (cursor.map { "&cursor=\($0)" } ?? ""), token: agency.admin.token)
                #expect(r.status == .ok, "\(r.raw)")
                #expect(r.data.count <= 2)
                walked += r.data
                cursor = r["next_cursor"]?.stringValue
                pages += 1
            } while cursor != nil && pages < 20
            #expect(pages == 7)
            #expect(walked == all)
            #expect(Set(walked.compactMap { $0["id"]?.uuid }).count == 13)

            #expect(try await api.auditEntries(agency, "action=member.add").count == 5)
            #expect(try await api.auditEntries(agency, "action=property.create").count == 2)
            #expect(try await api.auditEntries(agency, "resource_type=property").count == 3)
            #expect(try await api.auditEntries(agency, "resource_type=booking").count == 1)
            #expect(try await api.auditEntries(agency, "resource_id=\(p1)").count == 2)
            let combined = try await api.auditEntries(agency, "resource_type=property&action=property.update&resource_id=\(p1)")
            #expect(combined.count == 1)
            #expect(try await api.auditEntries(agency, "resource_id=\(booking)").map { $0["action"] } == ["booking.create"])
            #expect(try await api.auditEntries(agency, "action=no.such.action").isEmpty)

            // Bad filters and cursors are 422s.
            #expect(try await api.send(.get, "/api/v1/audit-log?resource_id=nope", token: agency.admin.token).errorCode == "VALIDATION_ERROR")
            #expect(try await api.send(.get, "/api/v1/audit-log?cursor=garbage", token: agency.admin.token).errorCode == "VALIDATION_ERROR")
            #expect(try await api.send(.get, "/api/v1/audit-log?limit=0", token: agency.admin.token).errorCode == "VALIDATION_ERROR")
        }
    }

    @Test func accountantMayReadOthersMayNot() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let accountant = try await api.send(.get, "/api/v1/audit-log", token: agency.token(.accountant))
            #expect(accountant.status == .ok)
            #expect(accountant.data.count == 9)  // makeAgency's 5 member.add and 4 member.invite
            for role in [Role.manager, .staff, .owner] {
                let r = try await api.send(.get, "/api/v1/audit-log", token: agency.token(role))
                #expect(r.status == .forbidden, "\(role)")
                #expect(r.errorCode == "INSUFFICIENT_ROLE")
            }
            #expect(try await api.send(.get, "/api/v1/audit-log").errorCode == "AUTH_REQUIRED")
        }
    }

    @Test func oneAgencyNeverSeesAnothersEntries() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let p = try await api.createProperty(a)
            #expect(try await api.auditEntries(b, "resource_id=\(p)").isEmpty)
            #expect(try await api.auditEntries(b).allSatisfy { $0["agency_id"]?.uuid == b.id })
            #expect(try await api.auditEntries(a).allSatisfy { $0["agency_id"]?.uuid == a.id })
        }
    }
}
