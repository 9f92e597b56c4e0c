import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Releases the keys of requests that failed with a 5xx (SPEC §14: "released when the database returns").
///
/// A release deletes the key only while it has no stored answer: if the failed request's COMMIT did land
/// (a deadline that fired while it was in flight), its answer was stored in the same transaction, the
/// delete finds nothing to do, and the retry replays the committed answer instead of repeating the write.
/// A release that cannot reach the database is retried in the background every `retryEvery` until it can.
public final class IdempotencyReleaser: Sendable {
    let db: Database
    let logger: Logger
    let retryEvery: Duration
    private struct State {
        var pending: [IdempotencyClaim] = []
        var draining = false
    }
    private let state = Mutex(State())

    init(db: Database, logger: Logger, retryEvery: Duration = .milliseconds(250)) {
        self.db = db
        self.logger = logger
        self.retryEvery = retryEvery
    }

    /// Keys waiting for the database (a gauge for tests and /metrics).
    public var pendingCount: Int { state.withLock { $0.pending.count } }

    func release(_ claim: IdempotencyClaim) {
        let start = state.withLock { s -> Bool in
            s.pending.append(claim)
            defer { s.draining = true }
            return !s.draining
        }
        if start { Task { await drain() } }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { s -> [IdempotencyClaim] in
                defer { s.pending = [] }
                if s.pending.isEmpty { s.draining = false }
                return s.pending
            }
            if batch.isEmpty { return }
            var failed: [IdempotencyClaim] = []
            for claim in batch {
                do {
                    try await Self.delete(claim, db: db)
                } catch {
                    failed.append(claim)
                }
            }
            if !failed.isEmpty {
                state.withLock { $0.pending.insert(contentsOf: failed, at: 0) }
                try? await Task.sleep(for: retryEvery)
            }
        }
    }

    static func delete(_ claim: IdempotencyClaim, db: Database) async throws {
        try await db.transaction(.tenant(claim.agencyId, user: claim.userId)) { conn in
            try await IdempotencyRepository.release(conn, agency: claim.agencyId, user: claim.userId, key: claim.key)
        }
    }
}
