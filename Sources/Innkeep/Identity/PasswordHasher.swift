import HummingbirdBcrypt
import NIOPosix

/// bcrypt password hashing, run off the event loops (it is deliberately slow).
public struct PasswordHasher: Sendable {
    /// bcrypt cost; 12 in production. Tests may lower it to keep thousands of sign-ups fast.
    public let cost: UInt8
    /// A real hash of a password nobody has: verifying against it costs the same as against a
    /// user's, so an unknown email is not faster to reject than a wrong password.
    public let decoy: String

    public init(cost: UInt8 = 12) {
        self.cost = cost
        decoy = Bcrypt.hash("decoy password that is never valid", cost: cost)
    }

    public func hash(_ password: String) async throws -> String {
        let cost = cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }
}
