import Crypto
import Foundation
import Testing

@testable import Innkeep

extension Unit {
    /// Access tokens (Identity/JWTSigner.swift) with `JWT_SECRET` only: sign and verify, expiry (cached tokens too), the
    /// wrong key, a tampered payload, any algorithm but the three accepted, malformed tokens and bad claims.
    /// ES256/RS256 against a JWKS, with tokens minted by PyJWT, are in `JWKSTests`.
    @Suite struct JWTTests {
        static let secret = Array("unit-test-secret-0123456789abcdef-0123456789".utf8)
        static let signer = JWTSigner(secret: secret)
        static let now = Date(timeIntervalSince1970: 1_900_000_000)

        /// An HS256 token built by hand (RFC 7515: base64url header and payload, HMAC-SHA256 over both).
        static func token(header: String = #"{"alg":"HS256","typ":"JWT"}"#, payload: String, secret: [UInt8] = secret) -> String {
            let input = Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(payload.utf8))
            let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: SymmetricKey(data: secret))
            return input + "." + Base64URL.encode(Array(mac))
        }

        static func claims(sub: String = UUID().uuidString.lowercased(), exp: String = "1900003600", aud: String = #""authenticated""#) -> String {
            #"{"sub":"\#(sub)","iat":1900000000,"exp":\#(exp),"aud":\#(aud)}"#
        }

        @Test func aSignedTokenVerifiesWithItsClaims() async throws {
            let user = UUID()
            let token = await Self.signer.sign(subject: user, now: Self.now)
            #expect(token.split(separator: ".").count == 3)
            let claims = try await Self.signer.verify(token, now: Self.now)
            #expect(claims == JWTSigner.Claims(subject: user, issuedAt: 1_900_000_000, expiresAt: 1_900_003_600))
            let header = try #require(Base64URL.decode(token.split(separator: ".")[0]).flatMap { JSONValue.parse($0) })
            #expect(header["alg"] == "HS256")
        }

        /// A token built by hand to RFC 7515 with the same secret is accepted: the signer speaks plain HS256.
        @Test func aStandardHS256TokenIsAccepted() async throws {
            let user = UUID()
            let claims = try await Self.signer.verify(Self.token(payload: Self.claims(sub: user.uuidString.lowercased())), now: Self.now)
            #expect(claims.subject == user && claims.expiresAt == 1_900_003_600)
            let audiences = Self.token(payload: Self.claims(aud: #"["other","authenticated"]"#))
            #expect(try await Self.signer.verify(audiences, now: Self.now).expiresAt == 1_900_003_600)
        }

        /// Expired at `exp` itself; a token verified (and cached) before still expires on time.
        @Test func expiryIsCheckedOnEveryUseCachedOrNot() async throws {
            let token = await Self.signer.sign(subject: UUID(), now: Self.now, lifetime: 60)
            _ = try await Self.signer.verify(token, now: Self.now)
            await #expect(throws: JWTSigner.Failure.expired) { try await Self.signer.verify(token, now: Self.now.addingTimeInterval(60)) }
            await #expect(throws: JWTSigner.Failure.expired) { try await Self.signer.verifyUncached(token, now: Self.now.addingTimeInterval(61)) }
            let old = await Self.signer.sign(subject: UUID(), now: Self.now.addingTimeInterval(-7200))
            await #expect(throws: JWTSigner.Failure.expired) { try await Self.signer.verify(old, now: Self.now) }
        }

        @Test func theWrongKeyOrATamperedPayloadIsABadSignature() async throws {
            let other = JWTSigner(secret: Array("another-secret-0123456789abcdef-0123456789".utf8))
            let token = await other.sign(subject: UUID(), now: Self.now)
            await #expect(throws: JWTSigner.Failure.signature) { try await Self.signer.verify(token, now: Self.now) }
            let mine = await Self.signer.sign(subject: UUID(), now: Self.now).split(separator: ".")
            let forged = Base64URL.encode(Array(Self.claims(sub: UUID().uuidString.lowercased()).utf8))
            await #expect(throws: JWTSigner.Failure.signature) { try await Self.signer.verify("\(mine[0]).\(forged).\(mine[2])", now: Self.now) }
            // The signature is checked before the payload is read: a payload that is no longer JSON is a bad signature too.
            await #expect(throws: JWTSigner.Failure.signature) { try await Self.signer.verify("\(mine[0]).\(mine[1])x.\(mine[2])", now: Self.now) }
        }

        /// Only HS256 (with `JWT_SECRET`), ES256 and RS256 (with a JWKS, absent here) are accepted.
        @Test(arguments: [
            #"{"alg":"none","typ":"JWT"}"#, #"{"alg":"HS512"}"#, #"{"alg":"hs256"}"#, #"{"alg":"ES256","kid":"k1"}"#,
            #"{"alg":"RS256","kid":"k1"}"#, #"{"alg":"PS256"}"#,
        ])
        func anyOtherAlgorithmIsRefused(_ header: String) async throws {
            let token = Self.token(header: header, payload: Self.claims())
            await #expect(throws: JWTSigner.Failure.algorithm) { try await Self.signer.verify(token, now: Self.now) }
            let unsigned = token.split(separator: ".").prefix(2).joined(separator: ".") + "."
            await #expect(throws: JWTSigner.Failure.algorithm) { try await Self.signer.verify(unsigned, now: Self.now) }
        }

        @Test func malformedTokensAreMalformed() async throws {
            let good = await Self.signer.sign(subject: UUID(), now: Self.now)
            let parts = good.split(separator: ".").map(String.init)
            let bad = [
                "", "abc", "a.b", good + ".x", "!!!." + parts[1] + "." + parts[2],
                Base64URL.encode(Array("not json".utf8)) + "." + parts[1] + "." + parts[2],
                Base64URL.encode(Array(#"{"typ":"JWT"}"#.utf8)) + "." + parts[1] + "." + parts[2],
                Base64URL.encode(Array(#"{"alg":7}"#.utf8)) + "." + parts[1] + "." + parts[2],
                parts[0] + "." + String(repeating: "A", count: 8200) + "." + parts[2],
            ]
            for token in bad {
                await #expect(throws: JWTSigner.Failure.malformed, "\(token.prefix(80))") { try await Self.signer.verify(token, now: Self.now) }
            }
        }

        @Test func claimsOtherThanSupabasesShapeAreRefused() async throws {
            let cases: [(String, JWTSigner.Failure)] = [
                (Self.claims(aud: #""anon""#), .audience),
                (#"{"sub":"\#(UUID())","exp":1900003600}"#, .audience),
                (Self.claims(sub: "not-a-uuid"), .claims),
                (#"{"sub":"\#(UUID())","aud":"authenticated"}"#, .claims),
                (Self.claims(exp: #""1900003600""#), .claims),
            ]
            for (payload, failure) in cases {
                await #expect(throws: failure, "\(payload)") { try await Self.signer.verify(Self.token(payload: payload), now: Self.now) }
            }
        }
    }
}
