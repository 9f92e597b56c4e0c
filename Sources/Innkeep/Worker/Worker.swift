import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// The background worker (the seed's Celery): claims due jobs from the `jobs` table with
/// `FOR UPDATE SKIP LOCKED`, so any number of workers can run without running a job twice;
/// writes a heartbeat that env-sanity reads; keeps the idempotency-key purge scheduled.
public struct Worker: Service {
    public let id: String
    let db: Database
    let logger: Logger
    let pollInterval: Duration
    /// A claimed job whose worker died is retried after this long.
    static let lockTimeoutSeconds = 300
    static let purgeJob = "purge_idempotency_keys"
    static let purgeEverySeconds = 60

    public init(db: Database, logger: Logger, id: String = "worker-\(UUID().uuidString.prefix(8).lowercased())", pollInterval: Duration = .seconds(1)) {
        self.id = id
        self.db = db
        self.logger = logger
        self.pollInterval = pollInterval
    }

    public func run() async throws {
        logger.info("worker started", metadata: ["worker_id": "\(id)"])
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await heartbeat()
                while try await runNextJob() {}
            } catch {
                logger.warning("worker tick failed; will retry", metadata: ["error": "\(loggable(error))"])
            }
            try? await Task.sleep(for: pollInterval)
        }
        logger.info("worker stopped", metadata: ["worker_id": "\(id)"])
    }

    /// Records that this worker is alive and makes sure the recurring purge is queued.
    public func heartbeat() async throws {
        let id = id
        try await db.transaction(.worker) { conn in
            try await JobRepository.beat(conn, worker: id)
            try await JobRepository.ensureRecurring(conn, name: Self.purgeJob)
        }
    }

    /// Claims and runs one due job; false when there was none.
    @discardableResult
    public func runNextJob() async throws -> Bool {
        let id = id
        let claimed = try await db.transaction(.worker) { conn in
            try await JobRepository.claimNext(conn, worker: id, lockTimeoutSeconds: Self.lockTimeoutSeconds)
        }
        guard let claimed else { return false }
        let (jobId, kind) = (claimed.id, claimed.kind)
        do {
            try await perform(kind)
            try await db.transaction(.worker) { conn in
                if claimed.recurring {
                    try await JobRepository.reschedule(conn, id: jobId, inSeconds: Self.purgeEverySeconds)
                } else {
                    try await JobRepository.finish(conn, id: jobId)
                }
            }
        } catch {
            logger.error("job failed", metadata: ["job_id": "\(jobId)", "kind": "\(kind)", "error": "\(loggable(error))"])
            try await db.transaction(.worker) { conn in
                try await JobRepository.fail(conn, id: jobId, error: loggable(error))
            }
        }
        return true
    }

    func perform(_ kind: String) async throws {
        switch kind {
        case Self.purgeJob:
            let purged = try await purgeExpiredKeys()
            if purged > 0 { logger.info("purged expired idempotency keys", metadata: ["count": "\(purged)"]) }
        case "noop":
            break
        default:
            throw WorkerError.unknownJob(kind)
        }
    }

    enum WorkerError: Error { case unknownJob(String) }

    /// Rows deleted per purge transaction: a backlog is worked off in bounded steps, each well inside
    /// the statement timeout, instead of one DELETE that fails forever once it grows too large.
    public static let purgeBatchSize = 1000

    /// Deletes every expired idempotency key, a batch per transaction; returns how many.
    public func purgeExpiredKeys(batchSize: Int = purgeBatchSize) async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let deleted = try await db.transaction(.worker) { conn in
                try await IdempotencyRepository.purgeExpired(conn, limit: batchSize)
            }
            total += deleted
            if deleted < batchSize { break }
        }
        return total
    }
}
