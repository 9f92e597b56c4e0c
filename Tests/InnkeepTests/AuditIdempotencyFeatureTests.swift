import Foundation
import HTTPTypes
@testable import Innkeep
import NIOCore
import PostgresNIO
import Testing

/// SPEC §7: the audit log, idempotency keys and feature entitlements.
enum AuditIdempotencyFeature {
    /// A date far in the future, `n` days after 2040-01-01, so stays never reach "today".
    static func day(_ n: Int) -> String { futureDay(n, year: 2040) }

    static func bookingBody(_ property: UUID, _ n: Int, nights: Int = 2, guests: Int = 2, name: String = "Guest") -> JSONValue {
        ["property_id": JSONValue(property), "guest_name": .string(name), "check_in": .string(day(n)),
         "check_out": .string(day(n + nights)), "guests": .int(Int64(guests))]
    }

    static func key(_ value: String) -> HTTPFields { [.idempotencyKey: value] }
    static func freshKey() -> String { "key-\(UUID().uuidString)" }

    static let ops: HTTPFields = [.authorization: "Bearer \(TestEnv.opsToken)"]
}

extension APIClient {
    /// Every audit entry matching `query` (walked with the largest page).
    func auditEntries(_ agency: TestAgency, _ query: String = "", token: String? = nil) async throws -> [JSONValue] {
        var all: [JSONValue] = []
        var cursor: String?
        repeat {
            var path = "/api/v1/audit-log?limit=200" + (query.isEmpty ? "" : "&\(query)")
            if let cursor { path += "&cursor=\(cursor)" }
            let r = try await send(.get, path, token: token ?? agency.admin.token)
            guard r.status == .ok else { throw TestFailure("audit-log: \(r.status) \(r.raw)") }
            all += r.data
            cursor = r["next_cursor"]?.stringValue
        } while cursor != nil
        return all
    }

    /// The bookings of one property, all statuses.
    func bookings(_ agency: TestAgency, property: UUID) async throws -> [JSONValue] {
        let r = try await send(.get, "/api/v1/bookings?limit=200&property_id=\(property.uuidString.lowercased())", token: agency.admin.token)
        guard r.status == .ok else { throw TestFailure("bookings: \(r.raw)") }
        return r.data
    }

    func setFeature(_ agency: UUID, _ name: String, _ body: JSONValue, headers: HTTPFields = AuditIdempotencyFeature.ops) async throws -> APIResponse {
        try await send(.put, "/ops/agencies/\(agency.uuidString.lowercased())/features/\(name)", json: body, headers: headers)
    }

    /// The agency's idempotency_keys row for `key`, read as the runtime role inside the agency.
    /// The key's row; keys are per user (SPEC §7), so `user` picks one when several members used the same key.
    func idempotencyRow(_ agency: UUID, _ key: String, user: UUID? = nil) async throws -> (status: Int?, expired: Bool)? {
        try await services.db.transaction(.tenant(agency, user: nil)) { conn in
            try await conn.run("""
                SELECT response_status, expires_at < now() FROM idempotency_keys
                WHERE agency_id = \(agency) AND key = \(key) AND (\(user)::uuid IS NULL OR user_id = \(user))
                """)
                .collect().first.map { row in
                    let (status, expired) = try row.decode((Int?, Bool).self)
                    return (status, expired)
                }
        }
    }
}

extension AuditIdempotencyFeature {
    // MARK: - Audit log

    @Suite struct AuditLogEntries {
        /// Exactly one entry for `resourceId`, with the caller and the agency on it.
        static func single(_ api: APIClient, _ agency: TestAgency, action: String, type: String, id: UUID,
                           user: UUID?, sourceLocation: SourceLocation = #_sourceLocation) async throws -> JSONValue {
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

                let updated = try await api.send(.patch, "/api/v1/properties/\(id)", token: agency.admin.token, json: ["name": "Renamed", "max_guests": 5])
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
                let r = try await api.send(.post, "/api/v1/bookings", token: manager.token, json: AuditIdempotencyFeature.bookingBody(property, 10))
                #expect(r.status == .created, "\(r.raw)")
                let id = try #require(r["id"]?.uuid)
                let e = try await Self.single(api, agency, action: "booking.create", type: "booking", id: id, user: manager.id)
                #expect(e["details"]?["property_id"]?.uuid == property)
                #expect(e["details"]?["check_in"] == .string(AuditIdempotencyFeature.day(10)))
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
                let first = try await api.createBooking(agency, property: property, checkIn: AuditIdempotencyFeature.day(20), checkOut: AuditIdempotencyFeature.day(25))
                #expect(first.status == .created)
                let before = try await api.auditEntries(agency)

                // A conflicting booking → 409, no entry.
                let conflict = try await api.createBooking(agency, property: property, checkIn: AuditIdempotencyFeature.day(22), checkOut: AuditIdempotencyFeature.day(23))
                #expect(conflict.status == .conflict)
                #expect(conflict.errorCode == "BOOKING_CONFLICT")
                // Too many guests → 422, no entry.
                let invalid = try await api.createBooking(agency, property: property, checkIn: AuditIdempotencyFeature.day(40), checkOut: AuditIdempotencyFeature.day(41), guests: 99)
                #expect(invalid.status == .unprocessableContent)
                // Deleting a property with a future booking → 409 PROPERTY_HAS_BOOKINGS, no entry.
                let blocked = try await api.send(.delete, "/api/v1/properties/\(property)", token: agency.admin.token)
                #expect(blocked.errorCode == "PROPERTY_HAS_BOOKINGS")
                // Demoting or removing the last admin → 409 LAST_ADMIN, no entry.
                let members = try await api.send(.get, "/api/v1/team-members?role=admin", token: agency.admin.token)
                let adminMember = try #require(members.data.first?["id"]?.uuid)
                #expect(try await api.send(.patch, "/api/v1/team-members/\(adminMember)", token: agency.admin.token, json: ["role": "staff"]).errorCode == "LAST_ADMIN")
                #expect(try await api.send(.delete, "/api/v1/team-members/\(adminMember)", token: agency.admin.token).errorCode == "LAST_ADMIN")
                // Inviting an existing member again → 409 ALREADY_MEMBER; a malformed invitation → 422; no entry.
                let staff = agency.members[.staff]!
                #expect(try await api.send(.post, "/api/v1/team-members", token: agency.admin.token,
                                           json: ["email": .string(staff.email), "role": "manager"]).errorCode == "ALREADY_MEMBER")
                #expect(try await api.send(.post, "/api/v1/team-members", token: agency.admin.token,
                                           json: ["email": .string(uniqueEmail()), "role": "king"]).errorCode == "VALIDATION_ERROR")
                // A role that may not act → 403, no entry.
                #expect(try await api.send(.post, "/api/v1/properties", token: agency.token(.staff), json: ["name": "X", "max_guests": 1]).status == .forbidden)

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
                        group.addTask { try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                                           json: AuditIdempotencyFeature.bookingBody(property, 30, name: "Racer \(i)")) }
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
                let invited = try await api.send(.post, "/api/v1/team-members", token: agency.admin.token, json: ["email": .string(user.email), "role": "staff"])
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
                let created = try await api.send(.post, "/api/v1/channel-connections", token: agency.admin.token, json: [
                    "property_id": JSONValue(property), "channel": "airbnb", "external_listing_id": "L-1",
                ])
                #expect(created.status == .created, "\(created.raw)")
                let id = try #require(created["id"]?.uuid)
                let c = try await Self.single(api, agency, action: "channel_connection.create", type: "channel_connection", id: id, user: agency.admin.id)
                #expect(c["details"]?["channel"] == "airbnb")
                #expect(c["details"]?["property_id"]?.uuid == property)

                #expect(try await api.send(.delete, "/api/v1/channel-connections/\(id)", token: agency.admin.token).status == .noContent)
                _ = try await Self.single(api, agency, action: "channel_connection.delete", type: "channel_connection", id: id, user: agency.admin.id)
                // Deleting it again → 404, nothing more.
                #expect(try await api.send(.delete, "/api/v1/channel-connections/\(id)", token: agency.admin.token).errorCode == "CHANNEL_CONNECTION_NOT_FOUND")
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
                    try await conn.run("""
                        INSERT INTO audit_log (agency_id, action, resource_type) VALUES (\(agency.id), 'test.insert', 'test')
                        """)
                    return try await conn.run("SELECT count(*) FROM audit_log WHERE agency_id = \(agency.id) AND id = \(entry)")
                        .collect().first?.decode(Int.self)
                }
                #expect(count == 1)
                let stored = try await api.auditEntries(agency, "resource_id=\(entry)")
                #expect(stored.isEmpty)
                #expect(try await api.auditEntries(agency).first { $0["id"]?.uuid == entry }?["action"] == "property.create")
            }
        }
    }

    @Suite struct AuditLogReading {
        @Test func filtersAndPaginationWalkEveryEntryExactlyOnce() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let p1 = try await api.createProperty(agency, name: "One")
                let p2 = try await api.createProperty(agency, name: "Two")
                #expect(try await api.send(.patch, "/api/v1/properties/\(p1)", token: agency.admin.token, json: ["name": "One!"]).status == .ok)
                let b = try await api.createBooking(agency, property: p2, checkIn: AuditIdempotencyFeature.day(50), checkOut: AuditIdempotencyFeature.day(52))
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
                let a = try await api.makeAgency(), b = try await api.makeAgency()
                let p = try await api.createProperty(a)
                #expect(try await api.auditEntries(b, "resource_id=\(p)").isEmpty)
                #expect(try await api.auditEntries(b).allSatisfy { $0["agency_id"]?.uuid == b.id })
                #expect(try await api.auditEntries(a).allSatisfy { $0["agency_id"]?.uuid == a.id })
            }
        }
    }

    // MARK: - Idempotency

    @Suite struct IdempotencyKeys {
        @Test func aRetryReplaysTheFirstResponseByteForByte() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let key = AuditIdempotencyFeature.freshKey(), body = AuditIdempotencyFeature.bookingBody(property, 60)
                let first = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(first.status == .created)
                #expect(first.headers[.idempotentReplayed] == nil)
                let second = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(second.status == .created)
                #expect(second.raw == first.raw)
                #expect(second.headers[.idempotentReplayed] == "true")
                #expect(second.headers[.contentType] == first.headers[.contentType])
                // Keys are per agency and user (SPEC §7): another member's identical key is another key, so the same
                // request from them runs (and meets the first booking: 409), never replaying someone else's answer.
                let third = try await api.send(.post, "/api/v1/bookings", token: agency.token(.manager), json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(third.errorCode == "BOOKING_CONFLICT", "\(third.raw)")
                #expect(third.headers[.idempotentReplayed] == nil)
                #expect(try await api.bookings(agency, property: property).count == 1)
                #expect(try await api.auditEntries(agency, "action=booking.create").count == 1)
                #expect(try await api.idempotencyRow(agency.id, key, user: agency.admin.id)?.status == 201)
                #expect(try await api.idempotencyRow(agency.id, key, user: agency.members[.manager]!.id)?.status == 409)
            }
        }

        @Test func theSameKeyWithADifferentRequestIs422() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let key = AuditIdempotencyFeature.freshKey()
                let first = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                               json: AuditIdempotencyFeature.bookingBody(property, 70), headers: AuditIdempotencyFeature.key(key))
                #expect(first.status == .created)
                let other = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                               json: AuditIdempotencyFeature.bookingBody(property, 80), headers: AuditIdempotencyFeature.key(key))
                #expect(other.status == .unprocessableContent)
                #expect(other.errorCode == "IDEMPOTENCY_KEY_MISMATCH")
                #expect(other.headers[.idempotentReplayed] == nil)
                // Another endpoint with the key is a different request too.
                let path = try await api.send(.post, "/api/v1/properties", token: agency.admin.token,
                                              json: ["name": "P", "max_guests": 2], headers: AuditIdempotencyFeature.key(key))
                #expect(path.errorCode == "IDEMPOTENCY_KEY_MISMATCH")
                // The original is still what the key replays.
                let replay = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                                json: AuditIdempotencyFeature.bookingBody(property, 70), headers: AuditIdempotencyFeature.key(key))
                #expect(replay.raw == first.raw && replay.headers[.idempotentReplayed] == "true")
                #expect(try await api.bookings(agency, property: property).count == 1)
            }
        }

        @Test func aKeyWhoseRequestIsStillRunningIs409AndAnAbandonedOneIsTakenOver() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let key = AuditIdempotencyFeature.freshKey(), body = AuditIdempotencyFeature.bookingBody(property, 90)
                let hash = Idempotency.fingerprint(method: "POST", path: "/api/v1/bookings", body: ByteBuffer(string: body.serialized))
                let agencyId = agency.id, userId = agency.admin.id
                // A claim with no answer yet, made just now: the first request is "still running".
                try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                    try await conn.run("""
                        INSERT INTO idempotency_keys (agency_id, key, user_id, request_method, request_path, request_hash, response_status, created_at, expires_at)
                        VALUES (\(agencyId), \(key), \(userId), 'POST', '/api/v1/bookings', \(hash), NULL, now(), now() + interval '24 hours')
                        """)
                }
                let busy = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(busy.status == .conflict, "\(busy.raw)")
                #expect(busy.errorCode == "IDEMPOTENCY_REQUEST_IN_PROGRESS")
                #expect(busy.headers[.retryAfter] != nil)
                // A different request with the key is still a mismatch, even while it runs.
                let other = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                               json: AuditIdempotencyFeature.bookingBody(property, 95), headers: AuditIdempotencyFeature.key(key))
                #expect(other.errorCode == "IDEMPOTENCY_KEY_MISMATCH")
                #expect(try await api.bookings(agency, property: property).isEmpty)

                // A claim left unanswered for minutes belonged to a request that died: a retry runs it.
                try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                    try await conn.run("UPDATE idempotency_keys SET created_at = now() - interval '10 minutes' WHERE agency_id = \(agencyId) AND key = \(key)")
                }
                let retried = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(retried.status == .created, "\(retried.raw)")
                #expect(retried.headers[.idempotentReplayed] == nil)
                #expect(try await api.bookings(agency, property: property).count == 1)
            }
        }

        @Test func keysAreScopedPerAgency() async throws {
            try await withApp { api in
                let a = try await api.makeAgency(), b = try await api.makeAgency()
                let pa = try await api.createProperty(a), pb = try await api.createProperty(b)
                let key = AuditIdempotencyFeature.freshKey()
                let ra = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: AuditIdempotencyFeature.bookingBody(pa, 100),
                                            headers: AuditIdempotencyFeature.key(key))
                let rb = try await api.send(.post, "/api/v1/bookings", token: b.admin.token, json: AuditIdempotencyFeature.bookingBody(pb, 100),
                                            headers: AuditIdempotencyFeature.key(key))
                #expect(ra.status == .created && rb.status == .created)
                #expect(rb.headers[.idempotentReplayed] == nil)
                #expect(ra["id"] != rb["id"])
                #expect(try await api.bookings(a, property: pa).count == 1)
                #expect(try await api.bookings(b, property: pb).count == 1)

                // Even a byte-identical request in another agency runs anew (an unknown property there → 404, not a replay).
                let foreign = try await api.send(.post, "/api/v1/bookings", token: b.admin.token, json: AuditIdempotencyFeature.bookingBody(pa, 100),
                                                 headers: AuditIdempotencyFeature.key(AuditIdempotencyFeature.freshKey()))
                #expect(foreign.errorCode == "PROPERTY_NOT_FOUND")
                let key2 = AuditIdempotencyFeature.freshKey(), body = AuditIdempotencyFeature.bookingBody(pa, 200)
                #expect(try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: body, headers: AuditIdempotencyFeature.key(key2)).status == .created)
                let cross = try await api.send(.post, "/api/v1/bookings", token: b.admin.token, json: body, headers: AuditIdempotencyFeature.key(key2))
                #expect(cross.errorCode == "PROPERTY_NOT_FOUND")
                #expect(cross.headers[.idempotentReplayed] == nil)
            }
        }

        @Test func fourHundredsAreKeptAndReplayed() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency, maxGuests: 2)
                // A validation error (too many guests, checked inside the action's transaction).
                let key = AuditIdempotencyFeature.freshKey(), body = AuditIdempotencyFeature.bookingBody(property, 110, guests: 3)
                let first = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(first.status == .unprocessableContent)
                #expect(first.errorCode == "VALIDATION_ERROR")
                let again = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(again.status == .unprocessableContent)
                #expect(again.raw == first.raw)  // the first request_id included
                #expect(again.headers[.idempotentReplayed] == "true")
                #expect(try await api.idempotencyRow(agency.id, key)?.status == 422)

                // A conflict: kept and replayed even after the conflicting booking is cancelled.
                let winner = try await api.createBooking(agency, property: property, checkIn: AuditIdempotencyFeature.day(120), checkOut: AuditIdempotencyFeature.day(125))
                let winnerId = try #require(winner["id"]?.uuid)
                let key2 = AuditIdempotencyFeature.freshKey(), body2 = AuditIdempotencyFeature.bookingBody(property, 121)
                let conflict = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body2, headers: AuditIdempotencyFeature.key(key2))
                #expect(conflict.status == .conflict)
                #expect(conflict["error"]?["details"]?["conflicting_booking_id"]?.uuid == winnerId)
                #expect(try await api.send(.post, "/api/v1/bookings/\(winnerId)/cancel", token: agency.admin.token).status == .ok)
                let replayed = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body2, headers: AuditIdempotencyFeature.key(key2))
                #expect(replayed.status == .conflict)
                #expect(replayed.raw == conflict.raw)
                #expect(replayed.headers[.idempotentReplayed] == "true")
                // Without the key the same request now succeeds.
                #expect(try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body2).status == .created)

                // A malformed body (400) is kept too.
                let key3 = AuditIdempotencyFeature.freshKey()
                let bad = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, rawBody: "{not json", headers: AuditIdempotencyFeature.key(key3))
                #expect(bad.errorCode == "MALFORMED_JSON")
                let badAgain = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, rawBody: "{not json", headers: AuditIdempotencyFeature.key(key3))
                #expect(badAgain.raw == bad.raw && badAgain.headers[.idempotentReplayed] == "true")
            }
        }

        @Test func keyLengthIsOneTo255Characters() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let long = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                              json: AuditIdempotencyFeature.bookingBody(property, 130), headers: AuditIdempotencyFeature.key(String(repeating: "k", count: 256)))
                #expect(long.status == .unprocessableContent)
                #expect(long.errorCode == "VALIDATION_ERROR")
                #expect(long.json["error"]?["details"]?["fields"]?.arrayValue?.first?["field"] == "Idempotency-Key")
                let empty = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                               json: AuditIdempotencyFeature.bookingBody(property, 130), headers: AuditIdempotencyFeature.key(""))
                #expect(empty.errorCode == "VALIDATION_ERROR")
                // 255 characters of text that are more than 255 Unicode scalars (combining accents): still too long
                // for the key column, so a 422 rather than a database error.
                let combining = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                                   json: AuditIdempotencyFeature.bookingBody(property, 130),
                                                   headers: AuditIdempotencyFeature.key(String(repeating: "e\u{301}", count: 200)))
                #expect(combining.errorCode == "VALIDATION_ERROR", "\(combining.raw)")
                #expect(try await api.bookings(agency, property: property).isEmpty)

                let exact = String(repeating: "k", count: 255)
                let ok = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                            json: AuditIdempotencyFeature.bookingBody(property, 130), headers: AuditIdempotencyFeature.key(exact))
                #expect(ok.status == .created, "\(ok.raw)")
                let one = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token,
                                             json: AuditIdempotencyFeature.bookingBody(property, 140), headers: AuditIdempotencyFeature.key("1"))
                #expect(one.status == .created, "\(one.raw)")
            }
        }

        @Test func concurrentRequestsWithOneKeyCreateExactlyOneBooking() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let key = AuditIdempotencyFeature.freshKey(), body = AuditIdempotencyFeature.bookingBody(property, 150)
                let answers = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                    for _ in 0..<8 {
                        group.addTask { try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key)) }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                let created = answers.filter { $0.status == .created }
                let busy = answers.filter { $0.status == .conflict }
                #expect(created.count + busy.count == 8, "\(answers.map { "\($0.status.code) \($0.raw)" })")
                #expect(busy.allSatisfy { $0.errorCode == "IDEMPOTENCY_REQUEST_IN_PROGRESS" })
                #expect(created.filter { $0.headers[.idempotentReplayed] == nil }.count == 1)
                #expect(Set(created.map(\.raw)).count == 1)
                let bookings = try await api.bookings(agency, property: property)
                #expect(bookings.count == 1)
                #expect(created.first?["id"] == bookings.first?["id"])
                #expect(try await api.auditEntries(agency, "action=booking.create").count == 1)
                // After the dust settles every retry is a replay of that one booking.
                let after = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(after.status == .created && after.headers[.idempotentReplayed] == "true" && after["id"] == bookings.first?["id"])
            }
        }

        @Test func theWorkerPurgesExpiredKeysAndAnExpiredKeyCanBeReused() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let agencyId = agency.id
                let expired = AuditIdempotencyFeature.freshKey(), live = AuditIdempotencyFeature.freshKey()
                #expect(try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: AuditIdempotencyFeature.bookingBody(property, 160),
                                           headers: AuditIdempotencyFeature.key(expired)).status == .created)
                #expect(try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: AuditIdempotencyFeature.bookingBody(property, 170),
                                           headers: AuditIdempotencyFeature.key(live)).status == .created)
                // Kept 24 h.
                let lifetime = try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn -> Int64? in
                    try await conn.run("SELECT extract(epoch FROM expires_at - created_at)::int8 FROM idempotency_keys WHERE agency_id = \(agencyId) AND key = \(live)")
                        .collect().first?.decode(Int64.self)
                }
                #expect(try #require(lifetime) == 24 * 3600)
                try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                    try await conn.run("UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE agency_id = \(agencyId) AND key = \(expired)")
                }
                #expect(try await api.idempotencyRow(agencyId, expired)?.expired == true)

                // Make the recurring purge due, then let a worker run it.
                let worker = Worker(db: api.services.db, logger: TestEnv.logger)
                try await worker.heartbeat()
                try await api.services.db.transaction(.worker) { conn in
                    try await conn.run("""
                        UPDATE jobs SET run_at = now() - interval '1 second', locked_by = NULL, locked_at = NULL
                        WHERE unique_name = 'purge_idempotency_keys'
                        """)
                }
                var ran = 0
                while try await worker.runNextJob(), ran < 20 { ran += 1 }
                #expect(ran >= 1)
                #expect(try await api.idempotencyRow(agencyId, expired) == nil)
                #expect(try await api.idempotencyRow(agencyId, live)?.status == 201)
                // The purge was rescheduled, not finished.
                let rescheduled = try await api.services.db.transaction(.worker) { conn in
                    try await conn.run("SELECT run_at > now() AND finished_at IS NULL FROM jobs WHERE unique_name = 'purge_idempotency_keys'")
                        .collect().first?.decode(Bool.self)
                }
                #expect(rescheduled == true)

                // The purged key now serves a new, different request.
                let reused = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: AuditIdempotencyFeature.bookingBody(property, 180),
                                                headers: AuditIdempotencyFeature.key(expired))
                #expect(reused.status == .created, "\(reused.raw)")
                #expect(reused.headers[.idempotentReplayed] == nil)
                #expect(try await api.bookings(agency, property: property).count == 3)
            }
        }

        @Test func anExpiredKeyNotYetPurgedIsReusedToo() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let agencyId = agency.id, key = AuditIdempotencyFeature.freshKey()
                #expect(try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: AuditIdempotencyFeature.bookingBody(property, 190),
                                           headers: AuditIdempotencyFeature.key(key)).status == .created)
                try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                    try await conn.run("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE agency_id = \(agencyId) AND key = \(key)")
                }
                // Same request again: no replay once expired, it runs anew (and conflicts with the first booking).
                let same = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: AuditIdempotencyFeature.bookingBody(property, 190),
                                              headers: AuditIdempotencyFeature.key(key))
                #expect(same.errorCode == "BOOKING_CONFLICT")
                #expect(same.headers[.idempotentReplayed] == nil)
                try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                    try await conn.run("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE agency_id = \(agencyId) AND key = \(key)")
                }
                let different = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: AuditIdempotencyFeature.bookingBody(property, 300),
                                                   headers: AuditIdempotencyFeature.key(key))
                #expect(different.status == .created, "\(different.raw)")
                #expect(try await api.idempotencyRow(agencyId, key)?.expired == false)
            }
        }

        @Test func otherCreatingPostsReplayToo() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                // Properties.
                let pKey = AuditIdempotencyFeature.freshKey(), pBody: JSONValue = ["name": "Once", "max_guests": 2]
                let p1 = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, json: pBody, headers: AuditIdempotencyFeature.key(pKey))
                let p2 = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, json: pBody, headers: AuditIdempotencyFeature.key(pKey))
                #expect(p1.status == .created && p2.status == .created)
                #expect(p2.raw == p1.raw && p2.headers[.idempotentReplayed] == "true")
                let props = try await api.send(.get, "/api/v1/properties?limit=200", token: agency.admin.token)
                #expect(props.data.filter { $0["name"] == "Once" }.count == 1)
                #expect(try await api.auditEntries(agency, "action=property.create").count == 1)

                // Team members.
                let user = try await api.signup()
                let mKey = AuditIdempotencyFeature.freshKey(), mBody: JSONValue = ["email": .string(user.email), "role": "staff"]
                let m1 = try await api.send(.post, "/api/v1/team-members", token: agency.admin.token, json: mBody, headers: AuditIdempotencyFeature.key(mKey))
                let m2 = try await api.send(.post, "/api/v1/team-members", token: agency.admin.token, json: mBody, headers: AuditIdempotencyFeature.key(mKey))
                #expect(m1.status == .created)
                #expect(m2.status == .created, "a retry must replay, not invite again: \(m2.raw)")
                #expect(m2.raw == m1.raw && m2.headers[.idempotentReplayed] == "true")
                #expect(try await api.auditEntries(agency, "action=member.invite").count == 5)

                // Channel connections.
                let property = try #require(p1["id"]?.uuid)
                let cKey = AuditIdempotencyFeature.freshKey()
                let cBody: JSONValue = ["property_id": JSONValue(property), "channel": "vrbo", "external_listing_id": "V-9"]
                let c1 = try await api.send(.post, "/api/v1/channel-connections", token: agency.admin.token, json: cBody, headers: AuditIdempotencyFeature.key(cKey))
                let c2 = try await api.send(.post, "/api/v1/channel-connections", token: agency.admin.token, json: cBody, headers: AuditIdempotencyFeature.key(cKey))
                #expect(c1.status == .created)
                #expect(c2.status == .created && c2.raw == c1.raw && c2.headers[.idempotentReplayed] == "true")
                #expect(try await api.send(.get, "/api/v1/channel-connections", token: agency.admin.token).data.count == 1)

                // Non-creating endpoints ignore the header: a cancel with a key is not replayed.
                let b = try await api.createBooking(agency, property: property, checkIn: AuditIdempotencyFeature.day(400), checkOut: AuditIdempotencyFeature.day(401))
                let bid = try #require(b["id"]?.uuid)
                let k = AuditIdempotencyFeature.freshKey()
                #expect(try await api.send(.post, "/api/v1/bookings/\(bid)/cancel", token: agency.admin.token, headers: AuditIdempotencyFeature.key(k)).status == .ok)
                let twice = try await api.send(.post, "/api/v1/bookings/\(bid)/cancel", token: agency.admin.token, headers: AuditIdempotencyFeature.key(k))
                #expect(twice.errorCode == "BOOKING_ALREADY_CANCELLED")
            }
        }

        /// A 5xx is not kept: while another transaction holds the property row, the booking's insert
        /// waits past the database deadline and the request answers 503; the key is released, the
        /// abandoned transaction must not commit later, and a retry with the key runs again.
        @Test func fiveHundredsAreNotKept() async throws {
            // Setup on a patient app; the request under test runs with the production deadline.
            let (agency, property) = try await withApp { api in
                let agency = try await api.makeAgency()
                return (agency, try await api.createProperty(agency))
            }
            try await withApp(databaseDeadline: TestEnv.productionDeadline) { api in
                let key = AuditIdempotencyFeature.freshKey(), body = AuditIdempotencyFeature.bookingBody(property, 500)
                let locker = try await PostgresConnection.open(TestEnv.adminURL(database: SharedDatabase.name), logger: TestEnv.logger)
                do {
                    try await locker.run("BEGIN")
                    try await locker.run("SELECT 1 FROM properties WHERE agency_id = \(agency.id) AND id = \(property) FOR UPDATE")
                    let failed = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                    #expect(failed.status == .serviceUnavailable, "\(failed.raw)")
                    #expect(failed.errorCode == "DATABASE_UNAVAILABLE")
                    // The key is released in the background right after the 503 (retried until the database
                    // answers), so the answer does not wait on it; it must be gone within moments.
                    try await eventually("the key released after a 5xx", timeout: .seconds(3)) {
                        try await api.idempotencyRow(agency.id, key) == nil
                    }
                    try await locker.run("ROLLBACK")
                } catch {
                    _ = try? await locker.run("ROLLBACK")
                    try? await locker.close()
                    throw error
                }
                try await locker.close()
                // Give the abandoned request every chance to (wrongly) commit its booking.
                try await Task.sleep(for: .seconds(1))
                #expect(try await api.bookings(agency, property: property).isEmpty, "the request answered 503 but its booking committed")
                #expect(try await api.auditEntries(agency, "action=booking.create").isEmpty)

                let retry = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(retry.status == .created, "\(retry.raw)")
                #expect(retry.headers[.idempotentReplayed] == nil)
                #expect(try await api.bookings(agency, property: property).count == 1)
                let replay = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: AuditIdempotencyFeature.key(key))
                #expect(replay.raw == retry.raw && replay.headers[.idempotentReplayed] == "true")
            }
        }
    }

    // MARK: - Features

    @Suite struct Features {
        static let defaults: JSONValue = [
            "data": [
                ["name": "channel_sync", "enabled": true, "config": [:]],
                ["name": "direct_booking", "enabled": true, "config": [:]],
                ["name": "owner_portal", "enabled": false, "config": [:]],
            ],
            "next_cursor": nil,
        ]

        @Test func everyRoleReadsTheRegistryDefaults() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                for role in Role.allCases {
                    let r = try await api.send(.get, "/api/v1/features", token: agency.token(role))
                    #expect(r.status == .ok, "\(role): \(r.raw)")
                    #expect(r.json == Self.defaults, "\(role): \(r.raw)")
                }
                #expect(try await api.send(.get, "/api/v1/features").errorCode == "AUTH_REQUIRED")
                #expect(Feature.allCases.map(\.rawValue) == ["channel_sync", "direct_booking", "owner_portal"])
            }
        }

        @Test func disablingChannelSyncGatesChannelConnectionsAndIsAudited() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency(), other = try await api.makeAgency()
                let property = try await api.createProperty(agency)
                let existing = try await api.send(.post, "/api/v1/channel-connections", token: agency.admin.token, json: [
                    "property_id": JSONValue(property), "channel": "airbnb", "external_listing_id": "A-1",
                ])
                let existingId = try #require(existing["id"]?.uuid)

                let off = try await api.setFeature(agency.id, "channel_sync", ["enabled": false])
                #expect(off.status == .ok, "\(off.raw)")
                #expect(off.json == ["name": "channel_sync", "enabled": false, "config": [:]])

                let list = try await api.send(.get, "/api/v1/channel-connections", token: agency.admin.token)
                #expect(list.status == .forbidden)
                #expect(list.errorCode == "FEATURE_DISABLED")
                #expect(list.json["error"]?["details"]?["feature"] == "channel_sync")
                let create = try await api.send(.post, "/api/v1/channel-connections", token: agency.admin.token, json: [
                    "property_id": JSONValue(property), "channel": "vrbo", "external_listing_id": "V-1",
                ], headers: AuditIdempotencyFeature.key(AuditIdempotencyFeature.freshKey()))
                #expect(create.errorCode == "FEATURE_DISABLED")
                #expect(try await api.send(.delete, "/api/v1/channel-connections/\(existingId)", token: agency.admin.token).errorCode == "FEATURE_DISABLED")
                // Role checks still come first; other agencies are untouched.
                #expect(try await api.send(.get, "/api/v1/channel-connections", token: agency.token(.staff)).errorCode == "INSUFFICIENT_ROLE")
                #expect(try await api.send(.get, "/api/v1/channel-connections", token: other.admin.token).status == .ok)
                #expect(try await api.send(.get, "/api/v1/features", token: other.admin.token).json == Self.defaults)

                let features = try await api.send(.get, "/api/v1/features", token: agency.token(.owner))
                #expect(features.data.first { $0["name"] == "channel_sync" }?["enabled"] == false)
                #expect(features.data.first { $0["name"] == "direct_booking" }?["enabled"] == true)

                let changes = try await api.auditEntries(agency, "action=feature.change")
                #expect(changes.count == 1)
                let change = try #require(changes.first)
                #expect(change["resource_type"] == "feature")
                #expect(change["agency_id"]?.uuid == agency.id)
                #expect(change["user_id"] == .null)
                #expect(change["details"]?["name"] == "channel_sync")
                #expect(change["details"]?["old"] == ["name": "channel_sync", "enabled": true, "config": [:]])
                #expect(change["details"]?["new"] == ["name": "channel_sync", "enabled": false, "config": [:]])
                #expect(try await api.auditEntries(other, "action=feature.change").isEmpty)

                // Re-enable: everything works again, and the change is audited with old/new swapped.
                let on = try await api.setFeature(agency.id, "channel_sync", ["enabled": true, "config": ["interval_minutes": 15]])
                #expect(on.status == .ok)
                #expect(on.json == ["name": "channel_sync", "enabled": true, "config": ["interval_minutes": 15]])
                let listAgain = try await api.send(.get, "/api/v1/channel-connections", token: agency.admin.token)
                #expect(listAgain.status == .ok)
                #expect(listAgain.data.map { $0["id"]?.uuid } == [existingId])
                #expect(try await api.send(.delete, "/api/v1/channel-connections/\(existingId)", token: agency.admin.token).status == .noContent)
                let features2 = try await api.send(.get, "/api/v1/features", token: agency.admin.token)
                #expect(features2.data.first { $0["name"] == "channel_sync" } == ["name": "channel_sync", "enabled": true, "config": ["interval_minutes": 15]])
                let changes2 = try await api.auditEntries(agency, "action=feature.change")
                #expect(changes2.count == 2)
                #expect(changes2.first?["details"]?["old"]?["enabled"] == false)
                #expect(changes2.first?["details"]?["new"]?["enabled"] == true)
            }
        }

        @Test func enablingAnOffByDefaultFeature() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let r = try await api.setFeature(agency.id, "owner_portal", ["enabled": true, "config": nil])
                #expect(r.status == .ok, "\(r.raw)")
                let features = try await api.send(.get, "/api/v1/features", token: agency.token(.accountant))
                #expect(features.data.map { $0["enabled"] } == [true, true, true])
                let change = try #require(try await api.auditEntries(agency, "action=feature.change").first)
                #expect(change["details"]?["old"]?["enabled"] == false)
                #expect(change["details"]?["new"]?["enabled"] == true)
            }
        }

        @Test func onlyTheOpsTokenChangesEntitlements() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let path = "/ops/agencies/\(agency.id.uuidString.lowercased())/features/channel_sync"
                let body: JSONValue = ["enabled": false]
                let admin = try await api.send(.put, path, token: agency.admin.token, json: body)
                // A real user without the right: 403, not 401.
                #expect(admin.status == .forbidden, "\(admin.raw)")
                #expect(admin.errorCode == "INSUFFICIENT_ROLE")
                let none = try await api.send(.put, path, json: body)
                #expect(none.status == .unauthorized)
                #expect(none.errorCode == "AUTH_REQUIRED")
                let wrong = try await api.send(.put, path, token: TestEnv.opsToken + "x", json: body)
                #expect(wrong.status == .unauthorized)
                #expect(wrong.errorCode == "INVALID_TOKEN")
                #expect(try await api.send(.get, "/api/v1/features", token: agency.admin.token).json == Self.defaults)
                #expect(try await api.auditEntries(agency, "action=feature.change").isEmpty)
            }
        }

        @Test func unknownFeatureUnknownAgencyAndBadBodies() async throws {
            try await withApp { api in
                let agency = try await api.makeAgency()
                let unknownFeature = try await api.setFeature(agency.id, "teleportation", ["enabled": true])
                #expect(unknownFeature.status == .notFound)
                #expect(unknownFeature.errorCode == "FEATURE_NOT_FOUND")
                let unknownAgency = try await api.setFeature(UUID(), "channel_sync", ["enabled": true])
                #expect(unknownAgency.status == .notFound)
                #expect(unknownAgency.errorCode == "AGENCY_NOT_FOUND")
                let badAgency = try await api.send(.put, "/ops/agencies/not-a-uuid/features/channel_sync", json: ["enabled": true], headers: AuditIdempotencyFeature.ops)
                #expect(badAgency.errorCode == "VALIDATION_ERROR")

                for bad: JSONValue in [["enabled": "yes"], [:], ["enabled": nil], ["enabled": true, "config": "x"], ["enabled": true, "config": [1]]] {
                    let r = try await api.setFeature(agency.id, "channel_sync", bad)
                    #expect(r.status == .unprocessableContent, "\(bad.serialized): \(r.raw)")
                    #expect(r.errorCode == "VALIDATION_ERROR")
                }
                let notJSON = try await api.send(.put, "/ops/agencies/\(agency.id.uuidString.lowercased())/features/channel_sync", rawBody: "{",
                                                 headers: AuditIdempotencyFeature.ops)
                #expect(notJSON.errorCode == "MALFORMED_JSON")
                #expect(try await api.send(.get, "/api/v1/features", token: agency.admin.token).json == Self.defaults)
                #expect(try await api.auditEntries(agency, "action=feature.change").isEmpty)
            }
        }
    }
}
