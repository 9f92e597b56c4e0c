import Crypto
import Foundation

@testable import Innkeep

/// Signs arbitrary HS256 header and payload JSON, so tests can forge what the API must refuse (an `alg` the
/// header lies about, a missing claim). The API itself signs and verifies with jwt-kit; this only writes bytes.
struct ForgingSigner {
    let key: SymmetricKey

    init(secret: [UInt8]) { key = SymmetricKey(data: secret) }

    func sign(header: JSONValue, payload: JSONValue) -> String {
        let input = Base64URL.encode(Array(header.serialized.utf8)) + "." + Base64URL.encode(Array(payload.serialized.utf8))
        let mac = HMAC<SHA256>.authenticationCode(for: Array(input.utf8), using: key)
        return input + "." + Base64URL.encode(Array(mac))
    }
}
