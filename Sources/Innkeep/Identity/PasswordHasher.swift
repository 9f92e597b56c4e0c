import HummingbirdBcrypt
import NIOCore
import NIOPosix
import Synchronization

/// bcrypt password hashing, run off the event loops (it is deliberately slow) and bounded (SPEC §14): at
/// most `concurrency` hashes run at once, at most `queueLimit` wait, and anything beyond is refused at once
/// with 503 SERVICE_UNAVAILABLE and `Retry-After`, so anonymous sign-ups and logins cannot queue unbounded
/// work or take every core from the rest of the API.
public struct PasswordHasher: Sendable {
    /// bcrypt cost; 12 in production. Tests may lower it to keep thousands of sign-ups fast.
    public let cost: UInt8
    /// A real hash of a password nobody has: verifying against it costs the same as against a
    /// user's, so an unknown email is not faster to reject than a wrong password.
    public let decoy: String
    let gate: WorkGate

    /// - Parameters:
    ///   - concurrency: hashes at once (default: the machine's cores).
    ///   - queueLimit: hashes that may wait for a slot (default: four per core); more → 503.
    public init(cost: UInt8 = 12, concurrency: Int = System.coreCount, queueLimit: Int? = nil) {
        self.cost = cost
        decoy = Bcrypt.hash("decoy password that is never valid", cost: cost)
        gate = WorkGate(slots: max(1, concurrency), queueLimit: queueLimit ?? 4 * max(1, concurrency))
    }

    public func hash(_ password: String) async throws -> String {
        let cost = cost
        return try await gate.run { try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) } }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await gate.run { try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) } }
    }
}
