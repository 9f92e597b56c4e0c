import Foundation
import HTTPTypes
import NIOCore
import PostgresNIO
import Testing

@testable import Innkeep

/// SPEC §7: `Idempotency-Key` on the creating POSTs: replayed byte for byte, per agency and user, refused for
/// another request, taken over when abandoned, purged when expired; 5xx answers are not kept.
@Suite struct IdempotencyTests {
    @Test func aRetryReplaysTheFirstResponseByteForByte() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let key = Fixtures.freshKey()
            let body = Fixtures.bookingBody(property, 60)
            let first = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
            #expect(first.status == .created)
            #expect(first.headers[.idempotentReplayed] == nil)
            let second = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
            #expect(second.status == .created)
            #expect(second.raw == first.raw)
            #expect(second.headers[.idempotentReplayed] == "true")
            #expect(second.headers[.contentType] == first.headers[.contentType])
            // Keys are per agency and user (SPEC §7): another member's identical key is another key, so the same
            // request from them runs (and meets the first booking: 409), never replaying someone else's answer.
            let third = try await api.send(.post, "/api/v1/bookings", token: agency.token(.manager), json: body, headers: Fixtures.key(key))
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
            let key = Fixtures.freshKey()
            let first = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 70),
                headers: Fixtures.key(key)
            )
            #expect(first.status == .created)
            let other = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 80),
                headers: Fixtures.key(key)
            )
            #expect(other.status == .unprocessableContent)
            #expect(other.errorCode == "IDEMPOTENCY_KEY_MISMATCH")
            #expect(other.headers[.idempotentReplayed] == nil)
            // Another endpoint with the key is a different request too.
            let path = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: ["name": "P", "max_guests": 2],
                headers: Fixtures.key(key)
            )
            #expect(path.errorCode == "IDEMPOTENCY_KEY_MISMATCH")
            // The original is still what the key replays.
            let replay = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 70),
                headers: Fixtures.key(key)
            )
            #expect(replay.raw == first.raw && replay.headers[.idempotentReplayed] == "true")
            #expect(try await api.bookings(agency, property: property).count == 1)
        }
    }

    @Test func aKeyWhoseRequestIsStillRunningIs409AndAnAbandonedOneIsTakenOver() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let key = Fixtures.freshKey()
            let body = Fixtures.bookingBody(property, 90)
            let hash = Idempotency.fingerprint(method: "POST", path: "/api/v1/bookings", body: ByteBuffer(string: body.serialized))
            let agencyId = agency.id
            let userId = agency.admin.id
            // A claim with no answer yet, made just now: the first request is "still running".
            try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                try await conn.run(
                    """
                    INSERT INTO idempotency_keys (agency_id, key, user_id, request_method, request_path, request_hash, response_status,
                        created_at, expires_at)
                    VALUES (\(agencyId), \(key), \(userId), 'POST', '/api/v1/bookings', \(hash), NULL, now(), now() + interval '24 hours')
                    """
                )
            }
            let busy = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
            #expect(busy.status == .conflict, "\(busy.raw)")
            #expect(busy.errorCode == "IDEMPOTENCY_REQUEST_IN_PROGRESS")
            #expect(busy.headers[.retryAfter] != nil)
            // A different request with the key is still a mismatch, even while it runs.
            let other = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 95),
                headers: Fixtures.key(key)
            )
            #expect(other.errorCode == "IDEMPOTENCY_KEY_MISMATCH")
            #expect(try await api.bookings(agency, property: property).isEmpty)

            // A claim left unanswered for minutes belonged to a request that died: a retry runs it.
            try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                try await conn.run(
                    "UPDATE idempotency_keys SET created_at = now() - interval '10 minutes' WHERE agency_id = \(agencyId) AND key = \(key)"
                )
            }
            let retried = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
            #expect(retried.status == .created, "\(retried.raw)")
            #expect(retried.headers[.idempotentReplayed] == nil)
            #expect(try await api.bookings(agency, property: property).count == 1)
        }
    }

    @Test func keysAreScopedPerAgency() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let pa = try await api.createProperty(a)
            let pb = try await api.createProperty(b)
            let key = Fixtures.freshKey()
            let ra = try await api.send(
                .post,
                "/api/v1/bookings",
                token: a.admin.token,
                json: Fixtures.bookingBody(pa, 100),
                headers: Fixtures.key(key)
            )
            let rb = try await api.send(
                .post,
                "/api/v1/bookings",
                token: b.admin.token,
                json: Fixtures.bookingBody(pb, 100),
                headers: Fixtures.key(key)
            )
            #expect(ra.status == .created && rb.status == .created)
            #expect(rb.headers[.idempotentReplayed] == nil)
            #expect(ra["id"] != rb["id"])
            #expect(try await api.bookings(a, property: pa).count == 1)
            #expect(try await api.bookings(b, property: pb).count == 1)

            // Even a byte-identical request in another agency runs anew (an unknown property there → 404, not a replay).
            let foreign = try await api.send(
                .post,
                "/api/v1/bookings",
                token: b.admin.token,
                json: Fixtures.bookingBody(pa, 100),
                headers: Fixtures.key(Fixtures.freshKey())
            )
            #expect(foreign.errorCode == "PROPERTY_NOT_FOUND")
            let key2 = Fixtures.freshKey()
            let body = Fixtures.bookingBody(pa, 200)
            #expect(try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: body, headers: Fixtures.key(key2)).status == .created)
            let cross = try await api.send(.post, "/api/v1/bookings", token: b.admin.token, json: body, headers: Fixtures.key(key2))
            #expect(cross.errorCode == "PROPERTY_NOT_FOUND")
            #expect(cross.headers[.idempotentReplayed] == nil)
        }
    }

    @Test func fourHundredsAreKeptAndReplayed() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency, maxGuests: 2)
            // A validation error (too many guests, checked inside the action's transaction).
            let key = Fixtures.freshKey()
            let body = Fixtures.bookingBody(property, 110, guests: 3)
            let first = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
            #expect(first.status == .unprocessableContent)
            #expect(first.errorCode == "VALIDATION_ERROR")
            let again = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
            #expect(again.status == .unprocessableContent)
            #expect(again.raw == first.raw)  // the first request_id included
            #expect(again.headers[.idempotentReplayed] == "true")
            #expect(try await api.idempotencyRow(agency.id, key)?.status == 422)

            // A conflict: kept and replayed even after the conflicting booking is cancelled.
            let winner = try await api.createBooking(agency, property: property, checkIn: Fixtures.day(120), checkOut: Fixtures.day(125))
            let winnerId = try #require(winner["id"]?.uuid)
            let key2 = Fixtures.freshKey()
            let body2 = Fixtures.bookingBody(property, 121)
            let conflict = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body2, headers: Fixtures.key(key2))
            #expect(conflict.status == .conflict)
            #expect(conflict["error"]?["details"]?["conflicting_booking_id"]?.uuid == winnerId)
            #expect(try await api.send(.post, "/api/v1/bookings/\(winnerId)/cancel", token: agency.admin.token).status == .ok)
            let replayed = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body2, headers: Fixtures.key(key2))
            #expect(replayed.status == .conflict)
            #expect(replayed.raw == conflict.raw)
            #expect(replayed.headers[.idempotentReplayed] == "true")
            // Without the key the same request now succeeds.
            #expect(try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body2).status == .created)

            // A malformed body (400) is kept too.
            let key3 = Fixtures.freshKey()
            let bad = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, rawBody: "{not json", headers: Fixtures.key(key3))
            #expect(bad.errorCode == "MALFORMED_JSON")
            let badAgain = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, rawBody: "{not json", headers: Fixtures.key(key3))
            #expect(badAgain.raw == bad.raw && badAgain.headers[.idempotentReplayed] == "true")
        }
    }

    /// The caller is admitted in the transaction that claims the key (one BEGIN/COMMIT fewer), before the key is
    /// read: a request refused there (not a member, a role the endpoint refuses, a feature switched off) writes
    /// no key and gets the same answer as without one; a retry once allowed runs afresh.
    @Test func aRequestRefusedBeforeItsClaimWritesNoKey() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let property = try await api.createProperty(a)
            let key = "refused-\(UUID())"
            let body: JSONValue = ["name": "Refused villa", "max_guests": 2]
            let accountant = try await api.send(
                .post,
                "/api/v1/properties",
                token: a.members[.accountant]!.token,
                json: body,
                headers: Fixtures.key(key)
            )
            #expect(accountant.errorCode == "INSUFFICIENT_ROLE")
            let foreign = try await api.send(.post, "/api/v1/properties", token: b.admin.token, agency: a.id, json: body, headers: Fixtures.key(key))
            #expect(foreign.errorCode == "AGENCY_ACCESS_DENIED")
            // Admission comes before the key's own check, as it did when they were two transactions.
            let long = String(repeating: "k", count: 256)
            let foreignLong = try await api.send(
                .post,
                "/api/v1/properties",
                token: b.admin.token,
                agency: a.id,
                json: body,
                headers: Fixtures.key(long)
            )
            #expect(foreignLong.errorCode == "AGENCY_ACCESS_DENIED")
            #expect(try await api.idempotencyRow(a.id, key) == nil)

            #expect(try await api.setFeature(a.id, "channel_sync", ["enabled": false]).status == .ok)
            let connection: JSONValue = ["property_id": JSONValue(property), "channel": "airbnb", "external_listing_id": "L-1"]
            let off = try await api.send(.post, "/api/v1/channel-connections", token: a.admin.token, json: connection, headers: Fixtures.key(key))
            #expect(off.errorCode == "FEATURE_DISABLED")
            #expect(try await api.idempotencyRow(a.id, key) == nil)
            #expect(try await api.setFeature(a.id, "channel_sync", ["enabled": true]).status == .ok)
            let on = try await api.send(.post, "/api/v1/channel-connections", token: a.admin.token, json: connection, headers: Fixtures.key(key))
            #expect(on.status == .created, "\(on.raw)")
            #expect(try await api.idempotencyRow(a.id, key)?.status == 201)
            let replay = try await api.send(.post, "/api/v1/channel-connections", token: a.admin.token, json: connection, headers: Fixtures.key(key))
            #expect(replay.raw == on.raw && replay.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
        }
    }

    @Test func keyLengthIsOneTo255Characters() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let long = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 130),
                headers: Fixtures.key(String(repeating: "k", count: 256))
            )
            #expect(long.status == .unprocessableContent)
            #expect(long.errorCode == "VALIDATION_ERROR")
            #expect(long.json["error"]?["details"]?["fields"]?.arrayValue?.first?["field"] == "Idempotency-Key")
            let empty = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 130),
                headers: Fixtures.key("")
            )
            #expect(empty.errorCode == "VALIDATION_ERROR")
            // 255 characters of text that are more than 255 Unicode scalars (combining accents): still too long
            // for the key column, so a 422 rather than a database error.
            let combining = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 130),
                headers: Fixtures.key(String(repeating: "e\u{301}", count: 200))
            )
            #expect(combining.errorCode == "VALIDATION_ERROR", "\(combining.raw)")
            #expect(try await api.bookings(agency, property: property).isEmpty)

            let exact = String(repeating: "k", count: 255)
            let ok = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 130),
                headers: Fixtures.key(exact)
            )
            #expect(ok.status == .created, "\(ok.raw)")
            let one = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 140),
                headers: Fixtures.key("1")
            )
            #expect(one.status == .created, "\(one.raw)")
        }
    }

    @Test func concurrentRequestsWithOneKeyCreateExactlyOneBooking() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let key = Fixtures.freshKey()
            let body = Fixtures.bookingBody(property, 150)
            let answers = try await withThrowingTaskGroup(of: APIResponse.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key)) }
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
            let after = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
            #expect(after.status == .created && after.headers[.idempotentReplayed] == "true" && after["id"] == bookings.first?["id"])
        }
    }

    @Test func theWorkerPurgesExpiredKeysAndAnExpiredKeyCanBeReused() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let agencyId = agency.id
            let expired = Fixtures.freshKey()
            let live = Fixtures.freshKey()
            #expect(
                try await api.send(
                    .post,
                    "/api/v1/bookings",
                    token: agency.admin.token,
                    json: Fixtures.bookingBody(property, 160),
                    headers: Fixtures.key(expired)
                ).status == .created
            )
            #expect(
                try await api.send(
                    .post,
                    "/api/v1/bookings",
                    token: agency.admin.token,
                    json: Fixtures.bookingBody(property, 170),
                    headers: Fixtures.key(live)
                ).status == .created
            )
            // Kept 24 h.
            let lifetime = try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn -> Int64? in
                try await conn.run(
                    "SELECT extract(epoch FROM expires_at - created_at)::int8 FROM idempotency_keys WHERE agency_id = \(agencyId) AND key = \(live)"
                )
                .collect().first?.decode(Int64.self)
            }
            #expect(try #require(lifetime) == 24 * 3600)
            try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                try await conn.run(
                    "UPDATE idempotency_keys SET expires_at = now() - interval '1 minute' WHERE agency_id = \(agencyId) AND key = \(expired)"
                )
            }
            #expect(try await api.idempotencyRow(agencyId, expired)?.expired == true)

            // Make the recurring purge due, then let a worker run it.
            let worker = Worker(db: api.services.db, logger: TestEnv.logger)
            try await worker.heartbeat()
            try await api.services.db.transaction(.worker) { conn in
                try await conn.run(
                    """
                    UPDATE jobs SET run_at = now() - interval '1 second', locked_by = NULL, locked_at = NULL
                    WHERE unique_name = 'purge_idempotency_keys'
                    """
                )
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
            let reused = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 180),
                headers: Fixtures.key(expired)
            )
            #expect(reused.status == .created, "\(reused.raw)")
            #expect(reused.headers[.idempotentReplayed] == nil)
            #expect(try await api.bookings(agency, property: property).count == 3)
        }
    }

    @Test func anExpiredKeyNotYetPurgedIsReusedToo() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let agencyId = agency.id
            let key = Fixtures.freshKey()
            #expect(
                try await api.send(
                    .post,
                    "/api/v1/bookings",
                    token: agency.admin.token,
                    json: Fixtures.bookingBody(property, 190),
                    headers: Fixtures.key(key)
                ).status == .created
            )
            try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                try await conn.run(
                    "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE agency_id = \(agencyId) AND key = \(key)"
                )
            }
            // Same request again: no replay once expired, it runs anew (and conflicts with the first booking).
            let same = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 190),
                headers: Fixtures.key(key)
            )
            #expect(same.errorCode == "BOOKING_CONFLICT")
            #expect(same.headers[.idempotentReplayed] == nil)
            try await api.services.db.transaction(.tenant(agencyId, user: nil)) { conn in
                try await conn.run(
                    "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE agency_id = \(agencyId) AND key = \(key)"
                )
            }
            let different = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: Fixtures.bookingBody(property, 300),
                headers: Fixtures.key(key)
            )
            #expect(different.status == .created, "\(different.raw)")
            #expect(try await api.idempotencyRow(agencyId, key)?.expired == false)
        }
    }

    @Test func otherCreatingPostsReplayToo() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            // Properties.
            let pKey = Fixtures.freshKey()
            let pBody: JSONValue = ["name": "Once", "max_guests": 2]
            let p1 = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, json: pBody, headers: Fixtures.key(pKey))
            let p2 = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, json: pBody, headers: Fixtures.key(pKey))
            #expect(p1.status == .created && p2.status == .created)
            #expect(p2.raw == p1.raw && p2.headers[.idempotentReplayed] == "true")
            let props = try await api.send(.get, "/api/v1/properties?limit=200", token: agency.admin.token)
            #expect(props.data.filter { $0["name"] == "Once" }.count == 1)
            #expect(try await api.auditEntries(agency, "action=property.create").count == 1)

            // Team members.
            let user = try await api.signup()
            let mKey = Fixtures.freshKey()
            let mBody: JSONValue = ["email": .string(user.email), "role": "staff"]
            let m1 = try await api.send(.post, "/api/v1/team-members", token: agency.admin.token, json: mBody, headers: Fixtures.key(mKey))
            let m2 = try await api.send(.post, "/api/v1/team-members", token: agency.admin.token, json: mBody, headers: Fixtures.key(mKey))
            #expect(m1.status == .created)
            #expect(m2.status == .created, "a retry must replay, not invite again: \(m2.raw)")
            #expect(m2.raw == m1.raw && m2.headers[.idempotentReplayed] == "true")
            #expect(try await api.auditEntries(agency, "action=member.invite").count == 5)

            // Channel connections.
            let property = try #require(p1["id"]?.uuid)
            let cKey = Fixtures.freshKey()
            let cBody: JSONValue = ["property_id": JSONValue(property), "channel": "vrbo", "external_listing_id": "V-9"]
            let c1 = try await api.send(.post, "/api/v1/channel-connections", token: agency.admin.token, json: cBody, headers: Fixtures.key(cKey))
            let c2 = try await api.send(.post, "/api/v1/channel-connections", token: agency.admin.token, json: cBody, headers: Fixtures.key(cKey))
            #expect(c1.status == .created)
            #expect(c2.status == .created && c2.raw == c1.raw && c2.headers[.idempotentReplayed] == "true")
            #expect(try await api.send(.get, "/api/v1/channel-connections", token: agency.admin.token).data.count == 1)

            // Non-creating endpoints ignore the header: a cancel with a key is not replayed.
            let b = try await api.createBooking(agency, property: property, checkIn: Fixtures.day(400), checkOut: Fixtures.day(401))
            let bid = try #require(b["id"]?.uuid)
            let k = Fixtures.freshKey()
            #expect(try await api.send(.post, "/api/v1/bookings/\(bid)/cancel", token: agency.admin.token, headers: Fixtures.key(k)).status == .ok)
            let twice = try await api.send(.post, "/api/v1/bookings/\(bid)/cancel", token: agency.admin.token, headers: Fixtures.key(k))
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
            let key = Fixtures.freshKey()
            let body = Fixtures.bookingBody(property, 500)
            let locker = try await PostgresConnection.open(TestEnv.adminURL(database: SharedDatabase.name), logger: TestEnv.logger)
            do {
                try await locker.run("BEGIN")
                try await locker.run("SELECT 1 FROM properties WHERE agency_id = \(agency.id) AND id = \(property) FOR UPDATE")
                let failed = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
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

            let retry = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
            #expect(retry.status == .created, "\(retry.raw)")
            #expect(retry.headers[.idempotentReplayed] == nil)
            #expect(try await api.bookings(agency, property: property).count == 1)
            let replay = try await api.send(.post, "/api/v1/bookings", token: agency.admin.token, json: body, headers: Fixtures.key(key))
            #expect(replay.raw == retry.raw && replay.headers[.idempotentReplayed] == "true")
        }
    }
}
