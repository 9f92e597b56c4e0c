import Synchronization

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
