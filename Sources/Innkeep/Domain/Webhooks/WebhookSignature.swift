import Crypto
import Foundation
import PostgresNIO

/// Standard Webhooks signing (https://www.standardwebhooks.com): `v1,` + base64 of
/// HMAC-SHA256(`{id}.{timestamp}.{body}`), keyed by the bytes of the secret's base64 part.
public enum WebhookSignature {
    public static let prefix = "whsec_"

    /// `whsec_` + base64 of 32 random bytes (SPEC §13).
    public static func newSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return prefix + Data(bytes).base64EncodedString()
    }

    /// The key bytes of a `whsec_` secret.
    public static func key(_ secret: String) -> SymmetricKey? {
        let encoded = secret.hasPrefix(prefix) ? String(secret.dropFirst(prefix.count)) : secret
        return Data(base64Encoded: encoded).map { SymmetricKey(data: $0) }
    }

    /// One `v1,<base64>` signature.
    public static func sign(id: String, timestamp: Int64, body: String, secret: String) -> String? {
        guard let key = key(secret) else { return nil }
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(timestamp).\(body)".utf8), using: key)
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The `webhook-signature` value: one signature per secret, space-separated (two during a rotation).
    public static func header(id: String, timestamp: Int64, body: String, secrets: [String]) -> String {
        secrets.compactMap { sign(id: id, timestamp: timestamp, body: body, secret: $0) }.joined(separator: " ")
    }
}
