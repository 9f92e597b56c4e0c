import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// Answers the document promises that the server once broke (found while writing openapi.yaml and fuzzing
/// it); each was a 500 or an input the document says is rejected.
@Suite struct ContractRegressionTests {
    /// Lengths count Unicode code points, as JSON Schema's maxLength and Postgres' length() do. Counting
    /// grapheme clusters let "e" + 200 combining accents (201 code points, 1 character) past the 200 limit
    /// and into the CHECK constraint: a 500.
    @Test func lengthsCountCodePointsNotCharacters() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let long = "e" + String(repeating: "\u{301}", count: 200)
            #expect(long.count == 1 && long.unicodeScalars.count == 201)
            let p = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: ["name": .string(long), "max_guests": 2]
            )
            #expect(p.status == .unprocessableContent, "\(p.raw)")
            #expect(p["error"]?["details"]?["fields"]?.arrayValue?.first?["field"] == "name")
            let s = try await api.send(
                .post,
                "/api/v1/auth/signup",
                json: [
                    "email": .string(uniqueEmail()), "password": "correct horse battery", "full_name": .string(long),
                ]
            )
            #expect(s.status == .unprocessableContent, "\(s.raw)")
            let exact = "e" + String(repeating: "\u{301}", count: 199)
            let ok = try await api.send(
                .post,
                "/api/v1/properties",
                token: agency.admin.token,
                json: ["name": .string(exact), "max_guests": 2]
            )
            #expect(ok.status == .created, "\(ok.raw)")
            #expect(ok["name"]?.stringValue == exact)
        }
    }

    /// A cursor is opaque, but a forged one that decodes to an absurd time answered 500 (timestamp out of
    /// range in Postgres); it is a 422 naming `cursor`, like any other cursor this API did not issue.
    @Test func forgedCursorOutOfRangeIs422() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            for micros in ["-9223372036854775807", "9223372036854775807", "-999999999999999999"] {
                let cursor = Base64URL.encode(Array("\(micros):\(UUID().uuidString.lowercased())".utf8))
                for path in ["/api/v1/properties", "/api/v1/bookings", "/api/v1/team-members", "/api/v1/audit-log", "/api/v1/channel-connections"] {
                    let r = try await api.send(.get, "\(path)?cursor=\(cursor)", token: agency.admin.token)
                    #expect(r.status == .unprocessableContent, "\(path) \(micros): \(r.status) \(r.raw)")
                }
            }
        }
    }
}
