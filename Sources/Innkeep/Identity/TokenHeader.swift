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
