import HummingbirdBcrypt
import NIOCore
import NIOPosix
import Synchronization

/// A counting semaphore with a bounded wait queue: `run` waits for one of `slots`, or throws 503
/// SERVICE_UNAVAILABLE at once when `queueLimit` callers are already waiting.
final class WorkGate: Sendable {
    private struct State {
        var running = 0
        var waiting: [CheckedContinuation<Bool, Never>] = []
    }
    let slots: Int
    let queueLimit: Int
    private let state = Mutex(State())
    /// Seconds a refused caller is told to wait.
    static let retryAfterSeconds = 1

    init(slots: Int, queueLimit: Int) {
        self.slots = slots
        self.queueLimit = queueLimit
    }

    /// Work running now, and waiting.
    var load: (running: Int, waiting: Int) { state.withLock { ($0.running, $0.waiting.count) } }

    func run<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        guard await acquire() else {
            throw APIError.retryLater(
                .serviceUnavailable,
                seconds: Self.retryAfterSeconds,
                message: "Too many sign-ins and sign-ups at once; retry shortly."
            )
        }
        defer { release() }
        return try await work()
    }

    private enum Admission { case run, queued, refused }

    /// True once a slot is ours; false (at once) when the queue is full.
    private func acquire() async -> Bool {
        await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            // Decided and enqueued under one lock, so a release in between cannot be missed.
            let admission = state.withLock { s -> Admission in
                if s.running < slots {
                    s.running += 1
                    return .run
                }
                guard s.waiting.count < queueLimit else { return .refused }
                s.waiting.append(continuation)
                return .queued
            }
            switch admission {
            case .run: continuation.resume(returning: true)
            case .refused: continuation.resume(returning: false)
            case .queued: break
            }
        }
    }

    /// Hands the slot to the longest waiter, or frees it.
    private func release() {
        let next = state.withLock { s -> CheckedContinuation<Bool, Never>? in
            if s.waiting.isEmpty {
                s.running -= 1
                return nil
            }
            return s.waiting.removeFirst()
        }
        next?.resume(returning: true)
    }
}
