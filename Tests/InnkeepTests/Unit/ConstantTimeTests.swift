import Testing

@testable import Innkeep

extension Unit {
    /// The ops token is compared with `constantTimeEqual` (Identity/Authenticator.swift): the same answer as `==`,
    /// whatever the lengths, without returning at the first differing byte.
    @Suite struct ConstantTimeTests {
        @Test func answersLikeEqualityForEveryShape() {
            let secret = Array("ops-token-0123456789abcdef".utf8)
            #expect(constantTimeEqual(secret, secret))
            #expect(constantTimeEqual([], []))
            var last = secret
            last[last.count - 1] ^= 1
            var first = secret
            first[0] ^= 0x80
            #expect(!constantTimeEqual(secret, last))
            #expect(!constantTimeEqual(secret, first))
            #expect(!constantTimeEqual(secret, Array(secret.dropLast())), "a prefix is not equal")
            #expect(!constantTimeEqual(secret, secret + [0]), "a trailing NUL is not equal")
            #expect(!constantTimeEqual([], secret) && !constantTimeEqual(secret, []))
            // Exhaustively over short inputs: the same answer as ==.
            let samples: [[UInt8]] = [[], [0], [1], [0, 0], [0, 1], [1, 0], [255], [255, 255], [0, 0, 0]]
            for a in samples {
                for b in samples { #expect(constantTimeEqual(a, b) == (a == b), "\(a) vs \(b)") }
            }
        }
    }
}
