import JWTKit

/// What this API signs at signup and login.
struct IssuedToken: JWTPayload {
    var sub: String
    var iat: Int64
    var exp: Int64
    var aud: String
    var role: String
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
