import Crypto
import Foundation
import Synchronization

/// HS256 JSON Web Tokens in the Supabase shape (`sub`, `exp`, `iat`, `aud: "authenticated"`).
/// Verification is deliberately strict: the header must say HS256 (never `none` or anything else),
/// the signature must match in constant time, and the claims must be present and current.
public struct JWTSigner: Sendable {
    public static let audience = "authenticated"
    let key: SymmetricKey
    /// Tokens that passed every check, with their claims: a client sends the same token for up to an
    /// hour, and decoding its JSON costs more than the rest of a read request's own work. Only the
    /// expiry depends on the time, and it is checked on every use.
    private let verified = VerifiedTokens()

    public init(secret: [UInt8]) {
        precondition(secret.count >= 32, "JWT_SECRET must be at least 32 bytes")
        key = SymmetricKey(data: secret)
    }

    /// The verified claims of a token.
    public struct Claims: Sendable, Equatable {
        public var subject: UUID
        public var issuedAt: Int64
        public var expiresAt: Int64
    }

    public func sign(subject: UUID, now: Date = Date(), lifetime: Int64 = 3600) -> String {
        let iat = Int64(now.timeIntervalSince1970)
        let header: JSONValue = ["alg": "HS256", "typ": "JWT"]
        let payload: JSONValue = [
            "sub": .string(subject.uuidString.lowercased()), "iat": .int(iat), "exp": .int(iat + lifetime),
            "aud": .string(Self.audience), "role": "authenticated",
        ]
        return sign(header: header, payload: payload)
    }

    /// Signs arbitrary header and payload JSON (tests use it to forge bad tokens).
    public func sign(header: JSONValue, payload: JSONValue) -> String {
        let input = Base64URL.encode(Array(header.serialized.utf8)) + "." + Base64URL.encode(Array(payload.serialized.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: key)
        return input + "." + Base64URL.encode(Array(mac))
    }

    public enum Failure: Error, Equatable {
        case malformed, algorithm, signature, audience, expired, claims
    }

    public func verify(_ token: String, now: Date = Date()) throws(Failure) -> Claims {
        if let claims = verified.claims(of: token) {
            guard claims.expiresAt > Int64(now.timeIntervalSince1970) else { throw .expired }
            return claims
        }
        let claims = try verifyUncached(token, now: now)
        verified.add(token, claims)
        return claims
    }

    private func verifyUncached(_ token: String, now: Date) throws(Failure) -> Claims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, token.utf8.count <= 8192,
              let headerBytes = Base64URL.decode(parts[0]), let payloadBytes = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2]),
              case .object(let header)? = JSONValue.parse(headerBytes),
              case .object(let payload)? = JSONValue.parse(payloadBytes)
        else { throw .malformed }
        guard header["alg"] == "HS256" else { throw .algorithm }
        let signed = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard HMAC<SHA256>.isValidAuthenticationCode(signature, authenticating: signed, using: key) else { throw .signature }
        switch payload["aud"] {
        case .string(Self.audience)?: break
        case .array(let list)? where list.contains(.string(Self.audience)): break
        default: throw .audience
        }
        guard case .int(let exp)? = payload["exp"] else { throw .claims }
        guard exp > Int64(now.timeIntervalSince1970) else { throw .expired }
        guard case .string(let sub)? = payload["sub"], let subject = UUID(uuidString: sub) else { throw .claims }
        var iat: Int64 = 0
        if case .int(let value)? = payload["iat"] { iat = value }
        return Claims(subject: subject, issuedAt: iat, expiresAt: exp)
    }
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
