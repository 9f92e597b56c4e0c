import Foundation
import JWTKit
import Synchronization

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

/// The header fields that choose the keys (`alg`, `kid`); the signature is checked by jwt-kit.
struct TokenHeader {
    let alg: String
    let kid: String?

    init(_ token: String) throws(JWTSigner.Failure) {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = Base64URL.decode(parts[0]), case .object(let header)? = JSONValue.parse(bytes),
              case .string(let alg)? = header["alg"]
        else { throw .malformed }
        self.alg = alg
        if case .string(let kid)? = header["kid"] { self.kid = kid } else { kid = nil }
    }
}

/// The claims SPEC §2 reads, decoded by jwt-kit after the signature checked out; other claims are ignored.
struct AccessPayload: JWTPayload {
    var sub: String?
    var exp: Int64?
    var iat: Int64?
    var aud: AudienceClaim?

    enum CodingKeys: String, CodingKey { case sub, exp, iat, aud }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sub = try? c.decodeIfPresent(String.self, forKey: .sub)
        exp = try? c.decodeIfPresent(Int64.self, forKey: .exp)
        iat = try? c.decodeIfPresent(Int64.self, forKey: .iat)
        aud = try? c.decodeIfPresent(AudienceClaim.self, forKey: .aud)
    }

    /// The claim checks happen in `claims(now:)`, which knows the time the caller passed.
    func verify(using algorithm: some JWTAlgorithm) async throws {}

    /// `aud` must include "authenticated", `exp` must be a whole number in the future, `sub` a UUID.
    func claims(now: Date) throws(JWTSigner.Failure) -> JWTSigner.Claims {
        do { try aud?.verifyIntendedAudience(includes: JWTSigner.audience) } catch { throw .audience }
        guard aud != nil else { throw .audience }
        guard let exp else { throw .claims }
        do { try ExpirationClaim(value: Date(timeIntervalSince1970: TimeInterval(exp))).verifyNotExpired(currentDate: now) } catch {
            throw .expired
        }
        guard exp > Int64(now.timeIntervalSince1970) else { throw .expired }
        guard let sub, let subject = UUID(uuidString: sub) else { throw .claims }
        return JWTSigner.Claims(subject: subject, issuedAt: iat ?? 0, expiresAt: exp)
    }
}

/// What this API signs at signup and login.
struct IssuedToken: JWTPayload {
    var sub: String
    var iat: Int64
    var exp: Int64
    var aud: String
    var role: String
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// Verified tokens and their claims, bounded: when full it starts over.
final class VerifiedTokens: Sendable {
    static let capacity = 10_000
    private let tokens = Mutex<[String: JWTSigner.Claims]>([:])

    func claims(of token: String) -> JWTSigner.Claims? { tokens.withLock { $0[token] } }

    func add(_ token: String, _ claims: JWTSigner.Claims) {
        tokens.withLock { tokens in
            if tokens.count >= Self.capacity { tokens.removeAll(keepingCapacity: true) }
            tokens[token] = claims
        }
    }
}

/// Base64url without padding (RFC 7515 §2), byte by byte.
enum Base64URL {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var i = 0
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)], alphabet[Int(n & 63)]]
            i += 3
        }
        if bytes.count - i == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)], alphabet[Int(n >> 6 & 63)]]
        } else if bytes.count - i == 1 {
            let n = UInt32(bytes[i]) << 16
            out += [alphabet[Int(n >> 18 & 63)], alphabet[Int(n >> 12 & 63)]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// nil for any character outside the alphabet (padding included) or an impossible length.
    static func decode(_ text: Substring) -> [UInt8]? {
        let count = text.utf8.count
        guard count % 4 != 1 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(count * 3 / 4)
        var accumulator: UInt32 = 0, bits = 0
        for c in text.utf8 {
            let value: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"): value = 62
            case UInt8(ascii: "_"): value = 63
            default: return nil
            }
            accumulator = accumulator << 6 | UInt32(value)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        return out
    }
}
