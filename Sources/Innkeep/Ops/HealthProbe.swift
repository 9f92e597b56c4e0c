import Foundation
import Synchronization

/// The dependency check behind `GET /health`: one `SELECT 1` and one Redis `PING`, shared by the
/// requests that arrive while it runs or within `sharedFor` of its start (docs/benchmarks.md, issue 17).
///
/// A load balancer or a monitoring burst asking many times a second then costs the database one
/// round trip per `sharedFor`, not one per request, and each answer is at most that old (20 ms: far
/// below anything a caller can observe, and every outage test still sees the outage on its next ask).
/// A probe still running is always joined: during an outage it is waiting out the database deadline,
/// and a second probe would only wait the same.
final class HealthProbe: Sendable {
    struct Result: Sendable {
        var db: Bool
        var redis: RedisGuard.Status
    }

    private struct Shared {
        var started: ContinuousClock.Instant
        var task: Task<Result, Never>
        var done = false
    }

    private let check: @Sendable () async -> Result
    private let sharedFor: Duration
    private let current = Mutex<Shared?>(nil)

    init(sharedFor: Duration = .milliseconds(20), check: @escaping @Sendable () async -> Result) {
        self.sharedFor = sharedFor
        self.check = check
    }

    convenience init(db: Database, redis: RedisGuard) {
        self.init {
            async let dbOK = db.ping()
            async let redisStatus = redis.status()
            return await Result(db: dbOK, redis: redisStatus)
        }
    }

    /// The answer of the probe running now or started within `sharedFor`, else of a new one.
    func result() async -> Result {
        let now = ContinuousClock.now
        let check = check
        let task = current.withLock { shared -> Task<Result, Never> in
            if let s = shared, !s.done || now - s.started < sharedFor { return s.task }
            let task = Task { await check() }
            shared = Shared(started: now, task: task)
            return task
        }
        let result = await task.value
        current.withLock { shared in
            if shared?.task == task { shared?.done = true }
        }
        return result
    }
}
