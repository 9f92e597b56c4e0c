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
    /// The recurring jobs, each kept queued by the heartbeat, and how often each runs.
    static let recurring: [(name: String, everySeconds: Int)] = [(purgeJob, 60), (webhookPurgeJob, 3600)]
    static let purgeJob = "purge_idempotency_keys"
    static let webhookPurgeJob = "purge_webhook_events"

    public init(
        db: Database,
        logger: Logger,
        id: String = "worker-\(UUID.random().lowercasedString.prefix(8))",
        pollInterval: Duration = .seconds(1)
    ) {
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
            for job in Self.recurring { try await JobRepository.ensureRecurring(conn, name: job.name) }
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
                    let every = Self.recurring.first { $0.name == kind }?.everySeconds ?? 60
                    try await JobRepository.reschedule(conn, id: jobId, inSeconds: every)
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
        case Self.webhookPurgeJob:
            let purged = try await purgeExpiredWebhookEvents()
            if purged > 0 { logger.info("purged webhook events past retention", metadata: ["count": "\(purged)"]) }
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

    /// Deletes the webhook events past `Outbox.retentionDays` whose deliveries are all final, agency by
    /// agency (each in its own scope) and a batch per transaction; returns how many.
    public func purgeExpiredWebhookEvents(batchSize: Int = purgeBatchSize) async throws -> Int {
        var total = 0
        while !Task.isCancelled {
            let agencies = try await db.transaction(.worker) { conn in try await Outbox.agenciesWithExpiredEvents(conn, limit: 100) }
            var deletedThisRound = 0
            for agency in agencies {
                while !Task.isCancelled {
                    let deleted = try await db.transaction(.tenant(agency, user: nil)) { conn in
                        try await Outbox.purgeExpired(conn, agency: agency, limit: batchSize)
                    }
                    deletedThisRound += deleted
                    if deleted < batchSize { break }
                }
            }
            total += deletedThisRound
            // Agencies whose old events all still wait for a delivery delete nothing: stop rather than loop.
            if agencies.count < 100 || deletedThisRound == 0 { break }
        }
        return total
    }
}
