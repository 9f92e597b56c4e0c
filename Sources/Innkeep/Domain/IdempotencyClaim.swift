import Crypto
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Synchronization

/// A claimed key, waiting for its answer.
public final class IdempotencyClaim: Sendable {
    let agencyId: UUID
    let userId: UUID
    let key: String
    private let stored = Mutex(false)

    init(agencyId: UUID, userId: UUID, key: String) {
        self.agencyId = agencyId
        self.userId = userId
        self.key = key
    }

    var isStored: Bool { stored.withLock { $0 } }

    /// Records the answer on `conn` (inside the action's own transaction when there is one).
    func store(_ reply: Reply, on conn: PostgresConnection) async throws {
        guard reply.status.code < 500 else { return }
        try await conn.run("""
            UPDATE idempotency_keys SET response_status = \(Int(reply.status.code)), response_body = \(reply.body.map { ByteBuffer(string: $0) })
            WHERE agency_id = \(agencyId) AND user_id = \(userId) AND key = \(key)
            """)
        stored.withLock { $0 = true }
    }
}
