import Foundation
import Testing

@testable import Innkeep

/// The verified-token cache still pays with jwt-kit (docs/benchmarks.md): a token seen before costs a dictionary
/// lookup, one seen for the first time a signature check and a JSON decode. Prints the figures it measured.
@Suite struct TokenCacheTests {
    static func perCall(_ n: Int, _ body: () async throws -> Void) async rethrows -> Duration {
        let clock = ContinuousClock()
        let start = clock.now
        for _ in 0..<n { try await body() }
        return (clock.now - start) / n
    }

    @Test func aCachedTokenIsVerifiedManyTimesFasterThanANewOne() async throws {
        let keys = try await PyJWT.keys([("EC", "m-ec"), ("RSA", "m-rsa")])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("innkeep-jwks-\(UUID().uuidString).json").path
        try PyJWT.jwks(keys).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let jwks = JWKSKeys(source: .file(path), logger: TestEnv.logger)
        try await jwks.load()
        let signer = JWTSigner(secret: Array(TestEnv.jwtSecret.utf8), jwks: jwks)
        let claims = JWKSTests.claims(UUID())
        let minted = try await PyJWT.mint([("ES256", keys[0].privatePEM, "m-ec", claims), ("RS256", keys[1].privatePEM, "m-rsa", claims)])
        let tokens = [("HS256", await signer.sign(subject: UUID())), ("ES256", minted[0]), ("RS256", minted[1])]
        let n = 300
        var lines: [String] = []
        for (alg, token) in tokens {
            let now = Date()
            let uncached = try await Self.perCall(n) { _ = try await signer.verifyUncached(token, now: now) }
            _ = try await signer.verify(token)
            let cached = try await Self.perCall(n * 10) { _ = try await signer.verify(token) }
            lines.append("\(alg): first use \(uncached), cached \(cached) per token")
            #expect(cached * 3 < uncached, "\(alg): cached \(cached) vs \(uncached)")
        }
        print("token verification (debug build): " + lines.joined(separator: "; "))
    }
}
