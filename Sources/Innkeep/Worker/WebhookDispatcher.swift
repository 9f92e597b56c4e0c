import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// Delivers the outbox's webhook deliveries (SPEC §13); runs in `innkeep worker`, any number of times.
///
/// - **Claim.** Due deliveries are claimed with `FOR UPDATE SKIP LOCKED` and a lease (`locked_until`),
///   committed before the request is sent: several workers share the load and none sends a delivery
///   another holds. A worker that dies mid-request loses its lease when it expires, and the delivery
///   goes out again (at least once; the receiver dedupes on `webhook-id`).
/// - **Isolation of slow receivers.** At most `perEndpoint` requests per endpoint and `maxConcurrent` in
///   all are in flight per worker; the claim skips endpoints at their limit, so a slow or dead receiver
///   holds a few slots for at most the 10 s timeout while the others keep flowing.
/// - **Request.** `POST` of `{"type","timestamp","data"}` with `webhook-id` (the event id, the same on every
///   retry), `webhook-timestamp` and `webhook-signature` (Standard Webhooks); redirects are not followed;
///   the destination is checked by `OutboundURLPolicy` again and the connection pinned to the address it
///   approved; the response body is read up to a small cap.
/// - **Outcome.** 2xx succeeded; 410 disables the endpoint (audited) and fails its pending deliveries;
///   anything else retries after `schedule[attempt - 1]` ± 10 %, and fails after the last.
public struct WebhookDispatcher: Service {
    public struct Options: Sendable {
        public var maxConcurrent = 16
        public var perEndpoint = 4
        /// Claims at most this many per query.
        public var batch = 32
        public var pollInterval: Duration = .milliseconds(500)
        /// How long a claim holds before another worker may take the delivery again.
        public var leaseSeconds = 60
        public var timeout: TimeAmount = .seconds(10)
        public var responseBodyLimit = 4096
        /// On graceful shutdown, how long in-flight requests may finish before they are abandoned (released
        /// for another worker, the attempt not counted).
        public var shutdownGrace: Duration = .seconds(3)
        /// Serve one agency only (tests and benchmarks that share a database with others); nil in production.
        public var onlyAgency: UUID?
        public init() {}
    }

    public let id: String
    let db: Database
    let logger: Logger
    let metrics: AppMetrics
    let policy: OutboundURLPolicy
    let schedule: [Int]
    let options: Options
    let clients = PinnedHTTPClients()

    public init(
        db: Database,
        logger: Logger,
        metrics: AppMetrics,
        policy: OutboundURLPolicy,
        schedule: [Int],
        options: Options = Options(),
        id: String = "webhooks-\(UUID.random().lowercasedString.prefix(8))"
    ) {
        self.id = id
        self.db = db
        self.logger = logger
        self.metrics = metrics
        self.policy = policy
        self.schedule = schedule
        self.options = options
    }

    public init(config: AppConfig, db: Database, logger: Logger, metrics: AppMetrics, options: Options = Options()) {
        self.init(
            db: db,
            logger: logger,
            metrics: metrics,
            policy: .webhooks(allowPrivate: config.allowPrivateURLs),
            schedule: config.webhookRetrySchedule,
            options: options
        )
    }

    /// Claims and delivers until shut down; in-flight deliveries finish (≤ the timeout) before it returns.
    public func run() async throws {
        logger.info("webhook dispatcher started", metadata: ["worker_id": "\(id)"])
        let inFlight = InFlight()
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully, !Task.isCancelled {
                let free = options.maxConcurrent - inFlight.total
                var claimed: [WebhookDeliveryRepository.Claimed] = []
                if free > 0 {
                    do {
                        claimed = try await claim(limit: min(free, options.batch), inFlight: inFlight.perEndpoint)
                    } catch {
                        logger.warning("webhook claim failed; will retry", metadata: ["error": "\(loggable(error))"])
                    }
                }
                for delivery in claimed {
                    inFlight.add(delivery.endpointId)
                    group.addTask {
                        await self.deliver(delivery)
                        inFlight.remove(delivery.endpointId)
                    }
                }
                // Full batch: there may be more due now. Otherwise wait, waking early when a slot frees.
                if claimed.count < min(max(free, 0), options.batch) || free <= 0 {
                    await inFlight.wait(upTo: options.pollInterval)
                }
            }
            // Stopping: let in-flight requests finish for a moment, then abandon the rest (each is released).
            let deadline = ContinuousClock.now + options.shutdownGrace
            while inFlight.total > 0, ContinuousClock.now < deadline, !Task.isCancelled {
                await inFlight.wait(upTo: .milliseconds(100))
            }
            group.cancelAll()
        }
        await clients.shutdown()
        logger.info("webhook dispatcher stopped", metadata: ["worker_id": "\(id)"])
    }

    /// Claims up to `limit` due deliveries, at most `perEndpoint` minus those already in flight per endpoint.
    func claim(limit: Int, inFlight: [UUID: Int]) async throws -> [WebhookDeliveryRepository.Claimed] {
        let me = id
        let per = options.perEndpoint
        let lease = options.leaseSeconds
        let only = options.onlyAgency
        return try await db.transaction(.worker) { conn in
            try await WebhookDeliveryRepository.claim(
                conn,
                worker: me,
                limit: limit,
                perEndpoint: per,
                leaseSeconds: lease,
                onlyAgency: only,
                inFlight: inFlight
            )
        }
    }

    static let goneReason = "the receiver answered 410 Gone"

    /// What one attempt came to.
    struct Attempt: Sendable {
        /// `abandoned`: the worker is stopping; not an attempt.
        enum Result: Sendable { case delivered, gone, failed, abandoned }
        var result: Result
        var responseStatus: Int?
        var error: String?
        var durationMs: Int
    }

    /// The exact request body: `{"data":…,"timestamp":…,"type":…}` (keys sorted, as every response).
    static func body(type: String, createdAt: Date, payload: String) -> String {
        let data = JSONValue.parse(Array(payload.utf8)) ?? .null
        return JSONValue.object(["type": .string(type), "timestamp": JSONValue(createdAt), "data": data]).serialized
    }

    func deliver(_ d: WebhookDeliveryRepository.Claimed) async {
        let attempt = await send(d)
        do {
            try await record(d, attempt)
        } catch {
            // The lease expires and another attempt follows: at least once, never lost.
            logger.error("recording a webhook attempt failed", metadata: ["delivery_id": "\(d.id)", "error": "\(loggable(error))"])
        }
    }

    func send(_ d: WebhookDeliveryRepository.Claimed) async -> Attempt {
        let started = ContinuousClock.now
        func elapsed() -> Int {
            let e = ContinuousClock.now - started
            return Int(e.components.seconds * 1000 + e.components.attoseconds / 1_000_000_000_000_000)
        }
        let destination: OutboundURLPolicy.Destination
        do { destination = try await policy.check(d.url) } catch {
            return Attempt(result: .failed, error: "refused: url \(error.description)", durationMs: elapsed())
        }
        let body = Self.body(type: d.type, createdAt: d.createdAt, payload: d.payload)
        let timestamp = Int64(Date().timeIntervalSince1970)
        let messageId = d.eventId.uuidString.lowercased()
        var request = HTTPClientRequest(url: d.url)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: "user-agent", value: "Innkeep-Webhooks/1")
        request.headers.add(name: "webhook-id", value: messageId)
        request.headers.add(name: "webhook-timestamp", value: String(timestamp))
        request.headers.add(
            name: "webhook-signature",
            value: WebhookSignature.header(
                id: messageId,
                timestamp: timestamp,
                body: body,
                secrets: d.secrets
            )
        )
        request.body = .bytes(ByteBuffer(string: body))
        do {
            let client = await clients.client(for: destination)
            let response = try await client.execute(request, timeout: options.timeout, logger: nil)
            // Read a little of the body (receivers may send a reason), never more: a hostile one may be endless.
            var read = 0
            for try await chunk in response.body {
                read += chunk.readableBytes
                if read >= options.responseBodyLimit { break }
            }
            let status = Int(response.status.code)
            switch status {
            case 200..<300: return Attempt(result: .delivered, responseStatus: status, durationMs: elapsed())
            case 410: return Attempt(result: .gone, responseStatus: status, error: "the receiver answered 410 Gone", durationMs: elapsed())
            case 300..<400: return Attempt(result: .failed, responseStatus: status, error: "redirect (\(status)) not followed", durationMs: elapsed())
            default: return Attempt(result: .failed, responseStatus: status, error: "the receiver answered \(status)", durationMs: elapsed())
            }
        } catch {
            if Task.isCancelled { return Attempt(result: .abandoned, durationMs: elapsed()) }
            return Attempt(result: .failed, error: Self.describe(error), durationMs: elapsed())
        }
    }

    /// A short, secret-free description of a transport error for the delivery log.
    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError {
            switch e {
            case .deadlineExceeded, .readTimeout: return "timed out"
            case .connectTimeout: return "connection timed out"
            default: return String("\(e)".prefix(200))
            }
        }
        return String("\(type(of: error)): \(error)".prefix(200))
    }

    /// The next wait for a failed attempt number `attempt` (1-based), ±10 %; nil when none is left.
    func retryDelay(afterAttempt attempt: Int) -> Double? {
        guard attempt >= 1, attempt <= schedule.count else { return nil }
        return Double(schedule[attempt - 1]) * Double.random(in: 0.9...1.1)
    }

    func record(_ d: WebhookDeliveryRepository.Claimed, _ a: Attempt) async throws {
        let me = id
        if a.result == .abandoned {
            // Released at once (in a task of its own: this one is cancelled), so another worker sends it now
            // rather than after the lease; the attempt is not counted.
            try await Task {
                try await db.transaction(.tenant(d.agencyId, user: nil)) { conn in
                    try await WebhookDeliveryRepository.release(conn, agency: d.agencyId, id: d.id, worker: me)
                }
            }.value
            return
        }
        let status: WebhookDelivery.Status
        var delay: Double?
        switch a.result {
        case .delivered: status = .succeeded
        case .gone: status = .failed
        case .failed, .abandoned:
            delay = retryDelay(afterAttempt: d.attempt)
            status = delay == nil ? .failed : .retrying
        }
        let outcome = a.result == .gone ? "gone" : status.rawValue
        let retryIn = delay
        metrics.webhookAttempt(outcome: outcome, duration: .milliseconds(a.durationMs))
        // In the delivery's agency: the 410 path changes the endpoint and writes an audit entry.
        try await db.transaction(.tenant(d.agencyId, user: nil)) { conn in
            let updated = try await WebhookDeliveryRepository.recordAttempt(
                conn,
                d,
                worker: me,
                status: status,
                retryIn: retryIn,
                responseStatus: a.responseStatus,
                error: a.error,
                durationMs: a.durationMs
            )
            guard updated, a.result == .gone else { return }
            guard let url = try await WebhookEndpointRepository.disable(conn, agency: d.agencyId, id: d.endpointId, reason: Self.goneReason) else {
                return
            }
            try await WebhookEndpointRepository.failPending(conn, agency: d.agencyId, endpoint: d.endpointId, reason: "endpoint disabled")
            try await AuditLog.record(
                conn,
                agency: d.agencyId,
                user: nil,
                action: "webhook_endpoint.update",
                resourceType: "webhook_endpoint",
                resourceId: d.endpointId,
                details: [
                    "fields": ["enabled"], "url": .string(url), "enabled": false, "reason": .string(Self.goneReason),
                ]
            )
        }
        logger.info(
            "webhook attempt",
            metadata: [
                "delivery_id": "\(d.id)", "event_id": "\(d.eventId)", "attempt": "\(d.attempt)", "outcome": "\(outcome)",
                "response_status": "\(a.responseStatus.map(String.init) ?? "-")", "duration_ms": "\(a.durationMs)",
            ]
        )
    }
}
