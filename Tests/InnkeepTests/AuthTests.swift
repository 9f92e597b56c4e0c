import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// Sign-up, login, tokens and the agency context (SPEC §2).
@Suite struct AuthTests {
    @Test func signupCreatesUserAgencyAndAdminMembership() async throws {
        try await withApp { api in
            let email = uniqueEmail("Mixed.Case")
            let r = try await api.send(
                .post,
                "/api/v1/auth/signup",
                json: [
                    "email": .string(email), "password": "long enough pw", "full_name": "Ana", "agency_name": "Ana's Stays",
                ]
            )
            #expect(r.status == .created)
            #expect(r["token_type"] == "bearer")
            #expect(r["expires_in"] == 3600)
            #expect(r["user"]?["email"] == .string(email))
            #expect(r.raw.contains("password") == false)
            let token = try #require(r["access_token"]?.stringValue)
            let me = try await api.send(.get, "/api/v1/me", token: token)
            #expect(me["user"]?["full_name"] == "Ana")
            #expect(me["memberships"]?.arrayValue?.first?["role"] == "admin")
            #expect(me["memberships"]?.arrayValue?.first?["agency_name"] == "Ana's Stays")
            // Case-insensitive duplicate.
            let dup = try await api.send(
                .post,
                "/api/v1/auth/signup",
                json: [
                    "email": .string(email.uppercased()), "password": "long enough pw", "full_name": "Other",
                ]
            )
            #expect(dup.status == .conflict)
            #expect(dup.errorCode == "EMAIL_TAKEN")
        }
    }

    @Test func signupReportsEveryBadFieldAtOnce() async throws {
        try await withApp { api in
            let r = try await api.send(.post, "/api/v1/auth/signup", json: ["email": "not-an-email", "password": "short", "full_name": 7])
            #expect(r.status == .unprocessableContent)
            let fields = r.json["error"]?["details"]?["fields"]?.arrayValue?.compactMap { $0["field"]?.stringValue }.sorted()
            #expect(fields == ["email", "full_name", "password"])
            let long = try await api.send(
                .post,
                "/api/v1/auth/signup",
                json: [
                    "email": .string(uniqueEmail()), "password": .string(String(repeating: "p", count: 129)), "full_name": "X",
                ]
            )
            #expect(long.errorCode == "VALIDATION_ERROR")
        }
    }

    @Test func wrongPasswordAndUnknownEmailLookTheSame() async throws {
        try await withApp { api in
            let user = try await api.signup()
            let ok = try await api.send(
                .post,
                "/api/v1/auth/login",
                json: ["email": .string(user.email.uppercased()), "password": .string(user.password)]
            )
            #expect(ok.status == .ok)
            #expect(ok["token_type"] == "bearer")
            let wrong = try await api.send(.post, "/api/v1/auth/login", json: ["email": .string(user.email), "password": "wrong password!"])
            let unknown = try await api.send(.post, "/api/v1/auth/login", json: ["email": .string(uniqueEmail()), "password": "wrong password!"])
            #expect(wrong.status == .unauthorized && unknown.status == .unauthorized)
            #expect(wrong.errorCode == "INVALID_CREDENTIALS" && unknown.errorCode == "INVALID_CREDENTIALS")
            #expect(wrong.json["error"]?["message"] == unknown.json["error"]?["message"])
            func stripId(_ r: APIResponse) -> String { r.raw.replacingOccurrences(of: r.json["error"]!["request_id"]!.stringValue!, with: "") }
            #expect(stripId(wrong) == stripId(unknown))
        }
    }

    @Test func missingTokenAsksForBearer() async throws {
        try await withApp { api in
            let r = try await api.send(.get, "/api/v1/properties")
            #expect(r.status == .unauthorized)
            #expect(r.errorCode == "AUTH_REQUIRED")
            #expect(r.headers[.wwwAuthenticate] == "Bearer")
        }
    }

    @Test func everyBadTokenIsInvalidToken() async throws {
        try await withApp { api in
            let user = try await api.signup(agencyName: "Tokens")
            let signer = ForgingSigner(secret: Array(TestEnv.jwtSecret.utf8))
            let other = ForgingSigner(secret: Array("another-secret-of-enough-length-000000".utf8))
            let now = Int64(Date().timeIntervalSince1970)
            let sub = JSONValue.string(user.id.uuidString.lowercased())
            func claims(_ extra: [String: JSONValue?]) -> JSONValue {
                var c: [String: JSONValue] = ["sub": sub, "aud": "authenticated", "iat": .int(now), "exp": .int(now + 600)]
                for (k, v) in extra { c[k] = v }
                return .object(c)
            }
            let hs: JSONValue = ["alg": "HS256", "typ": "JWT"]
            let valid = signer.sign(header: hs, payload: claims([:]))
            let parts = valid.split(separator: ".")
            let cases: [(String, String)] = [
                ("alg none", Base64URL.encode(Array(#"{"alg":"none","typ":"JWT"}"#.utf8)) + "." + parts[1] + "."),
                ("HS512 header", signer.sign(header: ["alg": "HS512", "typ": "JWT"], payload: claims([:]))),
                ("RS256 header", signer.sign(header: ["alg": "RS256", "typ": "JWT"], payload: claims([:]))),
                ("bad signature", other.sign(header: hs, payload: claims([:]))),
                (
                    "tampered payload",
                    parts[0] + "." + Base64URL.encode(Array(claims(["sub": .string(UUID().uuidString)]).serialized.utf8)) + "." + parts[2]
                ),
                ("wrong audience", signer.sign(header: hs, payload: claims(["aud": "anon"]))),
                ("no audience", signer.sign(header: hs, payload: claims(["aud": nil]))),
                ("expired", signer.sign(header: hs, payload: claims(["exp": .int(now - 1)]))),
                ("no exp", signer.sign(header: hs, payload: claims(["exp": nil]))),
                ("missing sub", signer.sign(header: hs, payload: claims(["sub": nil]))),
                ("sub not a uuid", signer.sign(header: hs, payload: claims(["sub": "admin"]))),
                ("user does not exist", signer.sign(header: hs, payload: claims(["sub": .string(UUID().uuidString)]))),
                ("garbage", "not.a.jwt"),
                ("two parts", String(parts[0] + "." + parts[1])),
            ]
            for (name, token) in cases {
                let r = try await api.send(.get, "/api/v1/properties", token: token)
                #expect(r.status == .unauthorized, "\(name)")
                #expect(r.errorCode == "INVALID_TOKEN", "\(name): \(r.raw)")
            }
            let basic = try await api.send(.get, "/api/v1/me", headers: [.authorization: "Basic dXNlcjpwYXNz"])
            #expect(basic.errorCode == "INVALID_TOKEN")
            #expect(try await api.send(.get, "/api/v1/properties", token: valid).status == .ok)
        }
    }

    @Test func aSupabaseMintedTokenIsAccepted() async throws {
        try await withApp { api in
            let user = try await api.signup(agencyName: "Supa")
            let now = Int64(Date().timeIntervalSince1970)
            // The shape Supabase Auth issues: extra claims, audience as given, session metadata.
            let token = ForgingSigner(secret: Array(TestEnv.jwtSecret.utf8)).sign(
                header: ["alg": "HS256", "typ": "JWT", "kid": "abc"],
                payload: [
                    "aud": "authenticated", "exp": .int(now + 3600), "iat": .int(now), "iss": "https://x.supabase.co/auth/v1",
                    "sub": .string(user.id.uuidString.lowercased()), "email": .string(user.email), "phone": "", "role": "authenticated",
                    "aal": "aal1", "amr": [["method": "password", "timestamp": .int(now)]], "session_id": .string(UUID().uuidString),
                    "app_metadata": ["provider": "email"], "user_metadata": [:], "is_anonymous": false,
                ]
            )
            #expect(try await api.send(.get, "/api/v1/me", token: token).status == .ok)
        }
    }

    @Test func agencyContextRules() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            let b = try await api.makeAgency()
            let admin = a.admin
            // A second agency for the same user makes the header necessary.
            let created = try await api.send(.post, "/api/v1/agencies", token: admin.token, json: ["name": "Second"])
            #expect(created.status == .created)
            let second = try #require(created["id"]?.uuid)
            let ambiguous = try await api.send(.get, "/api/v1/properties", token: admin.token)
            #expect(ambiguous.status == .badRequest)
            #expect(ambiguous.errorCode == "AGENCY_REQUIRED")
            #expect(try await api.send(.get, "/api/v1/properties", token: admin.token, agency: second).status == .ok)
            #expect(try await api.send(.get, "/api/v1/properties", token: admin.token, agency: a.id).status == .ok)
            // Another agency and one that does not exist answer identically.
            let foreign = try await api.send(.get, "/api/v1/properties", token: admin.token, agency: b.id)
            let missing = try await api.send(.get, "/api/v1/properties", token: admin.token, agency: UUID())
            #expect(foreign.status == .forbidden && missing.status == .forbidden)
            #expect(foreign.errorCode == "AGENCY_ACCESS_DENIED")
            #expect(foreign.json["error"]?["message"] == missing.json["error"]?["message"])
            let malformed = try await api.send(.get, "/api/v1/properties", token: admin.token, headers: [HTTPField.Name("X-Agency-Id")!: "1 OR 1=1"])
            #expect(malformed.errorCode == "VALIDATION_ERROR")
            // A user with no agency at all.
            let loner = try await api.signup()
            #expect(try await api.send(.get, "/api/v1/properties", token: loner.token).errorCode == "AGENCY_ACCESS_DENIED")
            #expect(try await api.send(.get, "/api/v1/me", token: loner.token)["memberships"] == [])
        }
    }
}
