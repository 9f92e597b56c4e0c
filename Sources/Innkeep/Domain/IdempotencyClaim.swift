import Foundation
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

    /// The answer was recorded by the statement that wrote the action (`app_keep_answer`, `TenantEntry.claim`).
    func answeredInItsStatement() { stored.withLock { $0 = true } }

    /// Records the answer on `conn` (inside the action's own transaction when there is one).
    func store(_ reply: Reply, on conn: PostgresConnection) async throws {
        guard reply.status.code < 500 else { return }
        try await IdempotencyRepository.storeReply(conn, agency: agencyId, user: userId, key: key, reply)
        stored.withLock { $0 = true }
    }
}
