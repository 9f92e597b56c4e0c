import Crypto
import Foundation

/// HS256 JSON Web Tokens in the Supabase shape (`sub`, `exp`, `iat`, `aud: "authenticated"`).
/// Verification is deliberately strict: the header must say HS256 (never `none` or anything else),
/// the signature must match in constant time, and the claims must be present and current.
public struct JWTSigner: Sendable {
    public static let audience = "authenticated"
    let key: SymmetricKey

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

/// Base64url without padding (RFC 7515 §2).
enum Base64URL {
    static func encode(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var s = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        s += String(repeating: "=", count: (4 - s.count % 4) % 4)
        return Data(base64Encoded: s).map(Array.init)
    }
}
