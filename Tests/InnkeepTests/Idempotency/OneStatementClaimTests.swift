import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import Innkeep

/// A creating POST with an `Idempotency-Key` admits its caller and claims the key in one statement (migration 0020,
/// `app_admit_and_claim_key`), and a booking create then records its answer in the statement that writes the
/// booking (`app_keep_answer`): two statements for the happy path. Everything the statements do not take goes the
/// full way and answers as before.
@Suite struct OneStatementClaimTests {
    static func counts(_ api: APIClient) -> (answered: Int, fullPath: Int) {
        (OneStatementReadTests.count(api, "answered"), OneStatementReadTests.count(api, "full_path"))
    }

    /// The key's stored answer, and whether it was written by the transaction that wrote `row` (a booking or a
    /// property): the same `xmin`.
    static func answer(
        _ api: APIClient,
        _ agency: UUID,
        _ key: String,
        row: UUID
    ) async throws -> (status: Int?, body: String?, sameTransaction: Bool)? {
        try await api.services.db.transaction(.tenant(agency, user: nil)) { conn in
            try await conn.run(
                """
                SELECT k.response_status, convert_from(k.response_body, 'UTF8'),
                       k.xmin::text = COALESCE((SELECT xmin::text FROM bookings WHERE agency_id = \(agency) AND id = \(row)),
                                               (SELECT xmin::text FROM properties WHERE agency_id = \(agency) AND id = \(row)))
                  FROM idempotency_keys k WHERE k.agency_id = \(agency) AND k.key = \(key)
                """
            ).collect().first.map { row in
                let (status, body, same) = try row.decode((Int?, String?, Bool?).self)
                return (status, body, same ?? false)
            }
        }
    }

    @Test func aKeyedBookingCreateIsTwoStatementsAndItsAnswerIsWrittenWithTheBooking() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let property = try await api.createProperty(a)
            let key = Fixtures.freshKey()
            let body = Fixtures.bookingBody(property, 70)
            let before = Self.counts(api)

            let first = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: body, headers: Fixtures.key(key))
            #expect(first.status == .created, "\(first.raw)")
            #expect(first.headers[.idempotentReplayed] == nil)
            // The claim's statement and the create's.
            #expect(Self.counts(api) == (before.answered + 2, before.fullPath))
            let id = try #require(first["id"]?.uuid)
            let stored = try #require(try await Self.answer(api, a.id, key, row: id))
            #expect(stored.status == 201 && stored.body == first.raw)
            #expect(stored.sameTransaction, "the answer was not written in the booking's transaction")
            #expect(try await api.auditEntries(a, "resource_id=\(id)").count == 1)

            // A retry is answered by the claim's statement alone.
            let replay = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: body, headers: Fixtures.key(key))
            #expect(replay.status == .created && replay.raw == first.raw)
            #expect(replay.headers[.idempotentReplayed] == "true")
            #expect(Self.counts(api) == (before.answered + 3, before.fullPath))

            let other = try await api.send(
                .post,
                "/api/v1/bookings",
                token: a.admin.token,
                json: Fixtures.bookingBody(property, 80),
                headers: Fixtures.key(key)
            )
            #expect(other.errorCode == "IDEMPOTENCY_KEY_MISMATCH", "\(other.raw)")
            #expect(try await api.bookings(a, property: property).count == 1)
        }
    }

    /// A booking the create's statement leaves to the full path gets the full path's answer, kept on the claimed
    /// key in the action's transaction; so does a create without a one-statement action (a property).
    @Test func whatTheCreatesStatementLeavesIsAnsweredTheFullWayAndKept() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let property = try await api.createProperty(a)
            let held = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: Fixtures.bookingBody(property, 90))
            #expect(held.status == .created)
            let before = Self.counts(api)

            let key = Fixtures.freshKey()
            let body = Fixtures.bookingBody(property, 91)
            let conflict = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: body, headers: Fixtures.key(key))
            #expect(conflict.errorCode == "BOOKING_CONFLICT", "\(conflict.raw)")
            #expect(Self.counts(api) == (before.answered + 1, before.fullPath + 1))
            #expect(try await Self.answer(api, a.id, key, row: UUID())?.status == 409)
            let replay = try await api.send(.post, "/api/v1/bookings", token: a.admin.token, json: body, headers: Fixtures.key(key))
            #expect(replay.raw == conflict.raw && replay.headers[.idempotentReplayed] == "true")

            let invalidKey = Fixtures.freshKey()
            let invalid = try await api.send(
                .post,
                "/api/v1/bookings",
                token: a.admin.token,
                json: Fixtures.bookingBody(property, 120, guests: 0),
                headers: Fixtures.key(invalidKey)
            )
            #expect(invalid.errorCode == "VALIDATION_ERROR")
            #expect(try await Self.answer(api, a.id, invalidKey, row: UUID())?.status == 422)

            let propertyKey = Fixtures.freshKey()
            let created = try await api.send(
                .post,
                "/api/v1/properties",
                token: a.admin.token,
                json: ["name": "Keyed villa", "max_guests": 4],
                headers: Fixtures.key(propertyKey)
            )
            #expect(created.status == .created, "\(created.raw)")
            let propertyId = try #require(created["id"]?.uuid)
            let stored = try #require(try await Self.answer(api, a.id, propertyKey, row: propertyId))
            #expect(stored.status == 201 && stored.body == created.raw && stored.sameTransaction)
        }
    }

    /// `app_keep_answer` refuses to let a booking be written whose key cannot hold its answer: the statement fails
    /// with IK422 (the full path answers) and writes nothing. The same statement without a key writes the booking,
    /// so the refusal is the key's.
    @Test func aCreateWhoseKeyIsGoneWritesNothing() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let property = try await api.createProperty(a)
            let user = a.admin.id
            @Sendable func create(key: String?) async throws -> String {
                try await api.services.db.statement { conn in
                    try await conn.run(
                        """
                        SELECT app_keep_answer(\(user), \(key)::text, 201, app_create_booking(\(user), \(a.id), '{admin,manager}',
                            \(property), 'Gone', NULL, date '2033-01-01', date '2033-01-03', 2, 'direct', NULL, NULL, NULL, 1000))
                        """
                    ).collect()[0].decode(String.self)
                }
            }
            var failure: (any Error)?
            do { _ = try await create(key: "no-such-key") } catch { failure = error }
            #expect(failure.map { isPostgresError($0, state: TenantEntry.notCreated) } == true, "\(String(describing: failure))")
            #expect(try await api.bookings(a, property: property).isEmpty)
            #expect(try await api.auditEntries(a, "action=booking.create").isEmpty)

            let written = try await create(key: nil)
            #expect(JSONValue.parse(Array(written.utf8))?["guest_name"] == "Gone")
            #expect(try await api.bookings(a, property: property).count == 1)
        }
    }

    /// A caller `app_admit` refuses, a malformed `X-Agency-Id`, an over-long key and an endpoint behind a feature
    /// go the full way as before, and claim nothing they may not.
    @Test func whatTheClaimsStatementDoesNotTakeGoesTheFullWay() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let property = try await api.createProperty(a)
            let key = Fixtures.freshKey()
            let body = Fixtures.bookingBody(property, 100)
            var before = Self.counts(api)

            let staff = try await api.send(.post, "/api/v1/bookings", token: a.token(.staff), json: body, headers: Fixtures.key(key))
            #expect(staff.errorCode == "INSUFFICIENT_ROLE")
            #expect(Self.counts(api) == (before.answered, before.fullPath + 1))
            #expect(try await api.idempotencyRow(a.id, key) == nil)

            before = Self.counts(api)
            let malformed = try await api.send(
                .post,
                "/api/v1/bookings",
                token: a.admin.token,
                json: body,
                headers: [.idempotencyKey: key, HTTPField.Name("X-Agency-Id")!: "not-a-uuid"]
            )
            #expect(malformed.errorCode == "VALIDATION_ERROR")
            let long = try await api.send(
                .post,
                "/api/v1/bookings",
                token: a.admin.token,
                json: body,
                headers: Fixtures.key(String(repeating: "k", count: 256))
            )
            #expect(long.errorCode == "VALIDATION_ERROR" && long.raw.contains("Idempotency-Key"), "\(long.raw)")
            #expect(Self.counts(api) == before)
            #expect(try await api.idempotencyRow(a.id, key) == nil)

            let connection: JSONValue = ["property_id": JSONValue(property), "channel": "airbnb", "external_listing_id": "L-claim"]
            let channel = try await api.send(.post, "/api/v1/channel-connections", token: a.admin.token, json: connection, headers: Fixtures.key(key))
            #expect(channel.status == .created, "\(channel.raw)")
            #expect(Self.counts(api) == before)
            #expect(try await api.idempotencyRow(a.id, key)?.status == 201)
        }
    }
}
