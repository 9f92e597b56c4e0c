import Foundation
import HTTPTypes
import NIOCore
import Testing

@testable import Innkeep

/// Bad input gets a clear error in the envelope and changes nothing; nothing answers 500.
@Suite struct HostileInputTests {
    @Test func malformedJSONIs400() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            for body in ["{", "{\"name\": }", "[1,2]", "\"just a string\"", "nul", "{\"a\":1}}"] {
                let r = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, rawBody: body)
                #expect(r.status == .badRequest, "\(body)")
                #expect(r.errorCode == "MALFORMED_JSON", "\(body)")
            }
            let empty = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, headers: [.contentType: "application/json"])
            #expect(empty.errorCode == "MALFORMED_JSON")
        }
    }

    @Test func invalidUTF8Is400() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            var buffer = ByteBuffer(string: "{\"name\": \"")
            buffer.writeBytes([0xFF, 0xFE, 0xC3])
            buffer.writeString("\", \"max_guests\": 2}")
            let r = try await api.client.execute(
                uri: "/api/v1/properties",
                method: .post,
                headers: [.authorization: "Bearer \(agency.admin.token)", .contentType: "application/json"],
                body: buffer
            )
            #expect(r.status == .badRequest)
            #expect(String(buffer: r.body).contains("MALFORMED_JSON"))
        }
    }

    @Test func wrongContentTypeIs415() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            for type in ["text/plain", "application/x-www-form-urlencoded", "application/xml"] {
                let r = try await api.send(
                    .post,
                    "/api/v1/properties",
                    token: agency.admin.token,
                    rawBody: "{\"name\":\"x\",\"max_guests\":1}",
                    headers: [.contentType: type]
                )
                #expect(r.status == .unsupportedMediaType, "\(type)")
                #expect(r.errorCode == "UNSUPPORTED_MEDIA_TYPE")
            }
            let charset = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                rawBody: "{\"name\":\"x\",\"max_guests\":1}",
                headers: [.contentType: "application/json; charset=utf-8"]
            )
            #expect(charset.status == .created)
        }
    }

    @Test func bodiesOverOneMebibyteAre413() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let huge = "{\"name\": \"" + String(repeating: "a", count: (1 << 20) + 10) + "\", \"max_guests\": 1}"
            let r = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, rawBody: huge)
            #expect(r.status == .contentTooLarge)
            #expect(r.errorCode == "PAYLOAD_TOO_LARGE")
            // Also refused before reading when only the announced length is too large.
            let announced = try await api.send(.post, "/api/v1/auth/login", rawBody: huge)
            #expect(announced.errorCode == "PAYLOAD_TOO_LARGE")
            #expect(try await api.send(.get, "/api/v1/properties", token: agency.admin.token).data.isEmpty)
        }
    }

    @Test func wrongTypesHugeNumbersNulBytesAndUnknownEnumsAre422() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let r = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                rawBody: """
                    {"name": "bad\\u0000name", "max_guests": 99999999999999999999999, "timezone": ["UTC"], "status": "ACTIVE", "address": null}
                    """
            )
            #expect(r.status == .unprocessableContent)
            #expect(fields(r) == ["max_guests", "name", "status", "timezone"])
            let floaty = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, json: ["name": "x", "max_guests": .double(2.5)])
            #expect(fields(floaty) == ["max_guests"])
            let boolean = try await api.send(.post, "/api/v1/properties", token: agency.admin.token, json: ["name": true, "max_guests": "2"])
            #expect(fields(boolean) == ["max_guests", "name"])
            let p = try await api.createProperty(agency)
            let booking = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(p), "guest_name": "G", "check_in": "2044-01-01", "check_out": "2044-01-02", "guests": 1,
                    "total_amount_cents": .int(Int64.max), "currency": "EUR",
                ]
            )
            #expect(fields(booking) == ["total_amount_cents"])
        }
    }

    @Test func serverOwnedFieldsInBodiesAreNeverObeyed() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let other = try await api.makeAgency()
            let p = try await api.createProperty(agency)
            let forgedId = UUID()
            let r = try await api.send(
                .post,
                "/api/v1/bookings",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(p), "guest_name": "G", "check_in": "2045-01-01", "check_out": "2045-01-02", "guests": 1,
                    "id": JSONValue(forgedId), "agency_id": JSONValue(other.id), "created_by": JSONValue(other.admin.id), "status": "cancelled",
                    "cancelled_at": "2000-01-01T00:00:00Z",
                ]
            )
            #expect(r.status == .created)
            #expect(r["id"]?.uuid != forgedId)
            #expect(r["agency_id"]?.uuid == agency.id)
            #expect(r["created_by"]?.uuid == agency.admin.id)
            #expect(r["status"] == "confirmed" && r["cancelled_at"] == .null)
            #expect(try await api.send(.get, "/api/v1/bookings", token: other.admin.token).data.isEmpty)
        }
    }

    @Test func oddPathsAndQueriesNeverAnswer500() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let t = agency.admin.token
            let probes = [
                "/api/v1/properties/%00", "/api/v1/properties/' OR 1=1 --", "/api/v1/bookings?limit=999999999999999999999",
                "/api/v1/bookings?from=9999-99-99", "/api/v1/properties/\(UUID())/../../me", "/api/v1/audit-log?resource_id=%ff",
                "/api/v1/properties?limit=-1", "/api/v1/team-members?role=root", "/api/v1//properties",
            ]
            for path in probes {
                let r = try await api.send(.get, path, token: t)
                #expect(r.status.code < 500, "\(path): \(r.raw)")
                #expect(r.errorCode != nil || r.status == .ok, "\(path)")
            }
        }
    }
}
