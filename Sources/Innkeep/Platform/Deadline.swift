import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Thrown when an operation did not finish within its deadline.
public struct DeadlineExceeded: Error {}

/// Runs `operation` and gives up after `timeout` (`DeadlineExceeded`), or as soon as the caller is cancelled
/// (`CancellationError`). Unlike a task group, it gives up even when the operation ignores cancellation (a hung
/// database socket), so no request can hang. The abandoned operation is cancelled and finishes in the background:
/// after either error it may still have done its work (a `COMMIT` already sent), as after a lost connection.
/// A caller cancelled before the call does not start the operation.
///
/// The timer is a task scheduled on an event loop, which its cancellation takes off the loop's queue at
/// once. A `Task.sleep` cancelled early stays queued on the event loop (the executor) until its time comes:
/// one per database call, held for the whole deadline, made every call slower (docs/benchmarks.md, eighth pass).
public func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let box = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(nil)
    let work = NIOLockedValueBox<(op: Task<Void, Never>?, timer: Scheduled<Void>?)>((nil, nil))
    @Sendable func cancelWork() {
        let (op, timer) = work.withLockedValue { $0 }
        op?.cancel()
        timer?.cancel()
    }
    /// The first of the operation, the deadline and the caller's cancellation answers; the others find nothing.
    @Sendable func finish(_ result: Result<T, any Error>) {
        guard
            let c = box.withLockedValue({ c in
                defer { c = nil }
                return c
            })
        else { return }
        c.resume(with: result)
        cancelWork()
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            box.withLockedValue { $0 = continuation }
            // A caller cancelled before this point (before the call, too) found no continuation for the handler to
            // answer: answer it here, before anything starts.
            if Task.isCancelled {
                finish(.failure(CancellationError()))
                return
            }
            let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(timeout)) {
                finish(.failure(DeadlineExceeded()))
            }
            let op = Task {
                do { finish(.success(try await operation())) } catch { finish(.failure(error)) }
            }
            work.withLockedValue { $0 = (op, timer) }
            // The operation, the timer or the caller's cancellation may have answered before the tasks were
            // recorded, and found nothing to cancel.
            if box.withLockedValue({ $0 == nil }) { cancelWork() }
        }
    } onCancel: {
        // A cancelled caller (the worker or the server shutting down) is answered now, as at the deadline: an
        // operation that ignores cancellation (a hung socket, a DNS lookup) finishes in the background.
        finish(.failure(CancellationError()))
    }
}
