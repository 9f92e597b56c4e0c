import Foundation
import JWTKit

/// Access tokens in the Supabase shape (`sub`, `exp`, `iat`, `aud: "authenticated"`), signed and verified
/// by vapor/jwt-kit (SPEC §2, §15):
/// - `HS256` with `JWT_SECRET` (the tokens this API issues at signup and login, and Supabase's legacy ones);
/// - `ES256` and `RS256` with the keys of `JWT_JWKS_URL`, chosen by the token's `kid` (see `JWKSKeys`).
/// The header's `alg` decides which keys may check a token, and only those three are accepted: `none`, any other
/// algorithm, and an `HS256` token signed with a public key as the secret (algorithm confusion) all fail, since
/// an `HS256` token is only ever checked against `JWT_SECRET`.
public struct JWTSigner: Sendable {
    public static let audience = "authenticated"
    /// jwt-kit's key collection is an actor that takes its keys asynchronously; this task has added the secret.
    private let hmac: Task<JWTKeyCollection, Never>
    /// The JWKS keys, when `JWT_JWKS_URL` is set.
    public let jwks: JWKSKeys?
    /// Tokens that passed every check, with their claims: a client sends the same token for up to an
    /// hour, and checking its signature and decoding its JSON costs more than the rest of a read request's
    /// own work (docs/benchmarks.md). Only the expiry depends on the time, and it is checked on every use.
    private let verified = VerifiedTokens()

    public init(secret: [UInt8], jwks: JWKSKeys? = nil) {
        // jwt-kit traps on shorter HMAC keys in debug builds; AppConfig refuses them with a message first.
        precondition(secret.count >= 32, "JWT_SECRET must be at least 32 bytes")
        hmac = Task {
            let keys = JWTKeyCollection()
            await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
            return keys
        }
        self.jwks = jwks
    }

    /// The verified claims of a token.
    public struct Claims: Sendable, Equatable {
        public var subject: UUID
        public var issuedAt: Int64
        public var expiresAt: Int64
    }

    /// An `HS256` token for a user of this API, signed with `JWT_SECRET`.
    public func sign(subject: UUID, now: Date = Date(), lifetime: Int64 = 3600) async -> String {
        let iat = Int64(now.timeIntervalSince1970)
        let payload = IssuedToken(sub: subject.uuidString.lowercased(), iat: iat, exp: iat + lifetime, aud: Self.audience, role: "authenticated")
        do {
            return try await hmac.value.sign(payload, header: ["typ": "JWT"])
        } catch {
            // HMAC signing of a plain Codable payload has no failure mode; reaching here is a programming error.
            preconditionFailure("signing an access token failed: \(error)")
        }
    }

    public enum Failure: Error, Equatable {
        case malformed, algorithm, signature, audience, expired, claims
    }

    public func verify(_ token: String, now: Date = Date()) async throws(Failure) -> Claims {
        if let claims = verified.claims(of: token) {
            guard claims.expiresAt > Int64(now.timeIntervalSince1970) else { throw .expired }
            return claims
        }
        let claims = try await verifyUncached(token, now: now)
        verified.add(token, claims)
        return claims
    }

    func verifyUncached(_ token: String, now: Date) async throws(Failure) -> Claims {
        guard token.utf8.count <= 8192 else { throw .malformed }
        let header = try TokenHeader(token)
        let payload: AccessPayload
        do {
            switch header.alg {
            case "HS256":
                payload = try await hmac.value.verify(token, as: AccessPayload.self)
            case "ES256", "RS256":
                guard let jwks, let kid = header.kid else { throw Failure.algorithm }
                payload = try await jwks.verify(token, kid: kid, alg: header.alg)
            default:
                throw Failure.algorithm
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as JWTError where error.errorType == .signatureVerificationFailed {
            throw .signature
        } catch {
            throw .malformed
        }
        return try payload.claims(now: now)
    }
}
