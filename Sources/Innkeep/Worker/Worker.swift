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
            try await conn.run("""
                INSERT INTO worker_heartbeats (worker_id, hostname) VALUES (\(id), \(ProcessInfo.processInfo.hostName))
                ON CONFLICT (worker_id) DO UPDATE SET beat_at = now()
                """)
            try await conn.run("""
                INSERT INTO jobs (kind, unique_name) VALUES (\(Self.purgeJob), \(Self.purgeJob)) ON CONFLICT (unique_name) DO NOTHING
                """)
        }
    }

    /// Claims and runs one due job; false when there was none.
    @discardableResult
    public func runNextJob() async throws -> Bool {
        let id = id
        let claimed = try await db.transaction(.worker) { conn in
            try await conn.run("""
                UPDATE jobs SET locked_by = \(id), locked_at = now(), attempts = attempts + 1
                WHERE id = (
                    SELECT id FROM jobs
                    WHERE finished_at IS NULL AND run_at <= now()
                      AND (locked_at IS NULL OR locked_at < now() - make_interval(secs => \(Self.lockTimeoutSeconds)))
                    ORDER BY run_at FOR UPDATE SKIP LOCKED LIMIT 1)
                RETURNING id, kind, unique_name IS NOT NULL
                """).collect().first?.decode((UUID, String, Bool).self)
        }
        guard let (jobId, kind, recurring) = claimed else { return false }
        do {
            try await perform(kind)
            try await db.transaction(.worker) { conn in
                if recurring {
                    try await conn.run("""
                        UPDATE jobs SET locked_by = NULL, locked_at = NULL, last_error = NULL, attempts = 0,
                               run_at = now() + make_interval(secs => \(Self.purgeEverySeconds))
                        WHERE id = \(jobId)
                        """)
                } else {
                    try await conn.run("UPDATE jobs SET finished_at = now() WHERE id = \(jobId)")
                }
            }
        } catch {
            logger.error("job failed", metadata: ["job_id": "\(jobId)", "kind": "\(kind)", "error": "\(loggable(error))"])
            try await db.transaction(.worker) { conn in
                try await conn.run("""
                    UPDATE jobs SET locked_by = NULL, locked_at = NULL, last_error = \(loggable(error)),
                           run_at = now() + make_interval(secs => least(attempts * 30, 3600))
                    WHERE id = \(jobId)
                    """)
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
                try await conn.run("""
                    DELETE FROM idempotency_keys WHERE (agency_id, user_id, key) IN (
                        SELECT agency_id, user_id, key FROM idempotency_keys WHERE expires_at < now() LIMIT \(batchSize))
                    RETURNING 1
                    """).collect().count
            }
            total += deleted
            if deleted < batchSize { break }
        }
        return total
    }
}
