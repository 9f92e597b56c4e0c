import Foundation
import Logging
import ServiceLifecycle

/// Imports channel feeds (SPEC §12); runs in `innkeep worker`, any number of times. Every poll it claims
/// the due connections (each one held by a lease, so one sync per connection at a time across workers),
/// fetches each feed with no database connection held, then applies it in one transaction in the
/// connection's agency.
public struct ChannelSyncer: Service {
    public struct Options: Sendable {
        /// A sync requested with `POST …/sync` starts within this (SPEC §12: 5 seconds).
        public var pollInterval: Duration = .seconds(1)
        public var maxConcurrent = 4
        /// Longer than a fetch can take (10 s) plus the apply.
        public var leaseSeconds = 120
        /// Serve one agency only (tests that share a database with others); nil in production.
        public var onlyAgency: UUID?
        public init() {}
    }

    /// How often the open-conflicts gauge is recounted.
    static let conflictGaugeEvery: Duration = .seconds(15)
    let db: Database
    let logger: Logger
    let metrics: AppMetrics
    let fetcher: ICalFetcher
    let baseURL: String
    let options: Options

    public init(db: Database, logger: Logger, metrics: AppMetrics, fetcher: ICalFetcher, baseURL: String, options: Options = Options()) {
        (self.db, self.logger, self.metrics, self.fetcher, self.baseURL, self.options) = (db, logger, metrics, fetcher, baseURL, options)
    }

    public init(config: AppConfig, db: Database, logger: Logger, metrics: AppMetrics, options: Options = Options()) {
        let fetcher = ICalFetcher(allowPrivate: config.allowPrivateURLs, version: String((config.commitSHA ?? BuildCommit.sha).prefix(12)))
        self.init(db: db, logger: logger, metrics: metrics, fetcher: fetcher, baseURL: config.publicBaseURL, options: options)
    }

    public func run() async throws {
        logger.info("channel syncer started")
        let clock = ContinuousClock()
        var counted: ContinuousClock.Instant?
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await syncDue()
                if counted.map({ clock.now - $0 > Self.conflictGaugeEvery }) ?? true {
                    let open = try await db.transaction(.worker) { conn in try await ChannelConflicts.openCount(conn) }
                    metrics.gauge("channel_conflicts_open", "Open channel conflicts in every agency.").set(Double(open))
                    counted = clock.now
                }
            } catch {
                logger.warning("channel sync pass failed; will retry", metadata: ["error": "\(loggable(error))"])
            }
            try? await Task.sleep(for: options.pollInterval)
        }
        logger.info("channel syncer stopped")
    }

    /// Claims what is due and syncs it, `maxConcurrent` at a time; the number synced.
    @discardableResult
    public func syncDue() async throws -> Int {
        let options = options
        let claims = try await db.transaction(.worker) { conn in
            try await ChannelSync.claimDue(conn, limit: options.maxConcurrent, leaseSeconds: options.leaseSeconds, onlyAgency: options.onlyAgency)
        }
        await withDiscardingTaskGroup { group in
            for claim in claims { group.addTask { await self.sync(claim) } }
        }
        return claims.count
    }

    /// One connection: fetch, then apply in its agency. Failures are recorded on the connection, never thrown.
    func sync(_ claim: ChannelSync.Claim) async {
        let clock = ContinuousClock()
        let started = clock.now
        let baseURL = baseURL
        let scope = Database.Scope.tenant(claim.agencyId, user: nil)
        var result = "error"
        do {
            switch try await fetcher.fetch(claim.icalURL, etag: claim.etag, lastModified: claim.lastModified) {
            case .notModified:
                try await db.transaction(scope) { conn in try await ChannelSync.unchanged(conn, claim) }
                result = "unchanged"
            case .fetched(let body, let etag, let lastModified):
                let outcome = try await db.transaction(scope) { conn in
                    try await ChannelSync.apply(conn, claim, body: body, etag: etag, lastModified: lastModified, baseURL: baseURL)
                }
                if case .synced(let changes) = outcome {
                    result = "ok"
                    logger.info(
                        "channel synced",
                        metadata: [
                            "connection_id": "\(claim.connectionId)", "events": "\(changes.events)", "added": "\(changes.added)",
                            "moved": "\(changes.moved)", "removed": "\(changes.removed)", "skipped": "\(changes.skipped)",
                        ]
                    )
                }
            }
        } catch let failure as ICalFetcher.Failure where Task.isCancelled {
            // Shut down mid-fetch: the feed did not fail, so the connection keeps its status. The lease expires and
            // a later pass syncs it.
            logger.notice("channel sync abandoned", metadata: ["connection_id": "\(claim.connectionId)", "reason": "\(failure.description)"])
        } catch let failure as ICalFetcher.Failure {
            logger.notice("channel sync failed", metadata: ["connection_id": "\(claim.connectionId)", "reason": "\(failure.description)"])
            do {
                try await db.transaction(scope) { conn in try await ChannelSync.failed(conn, claim, reason: failure.description, baseURL: baseURL) }
            } catch {
                logger.warning("could not record a failed sync", metadata: ["connection_id": "\(claim.connectionId)", "error": "\(loggable(error))"])
            }
        } catch {
            // The database failed or timed out mid-apply (its COMMIT may have landed or not): the lease expires and a
            // later pass syncs the feed again, which converges on it either way.
            logger.warning("channel sync could not be applied", metadata: ["connection_id": "\(claim.connectionId)", "error": "\(loggable(error))"])
        }
        metrics.channelSync(result: result, duration: clock.now - started)
    }
}
