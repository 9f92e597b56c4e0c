import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// Thrown when an operation did not finish within its deadline.
public struct DeadlineExceeded: Error {}

/// Runs `operation` and gives up after `timeout`. Unlike a task group, this returns at the deadline
/// even if the operation ignores cancellation (a hung database socket), so no request can hang.
/// The abandoned operation is cancelled and finishes in the background.
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
    @Sendable func cancel() {
        let (op, timer) = work.withLockedValue { $0 }
        op?.cancel()
        timer?.cancel()
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            box.withLockedValue { $0 = continuation }
            @Sendable func finish(_ result: Result<T, any Error>) {
                guard
                    let c = box.withLockedValue({ c in
                        defer { c = nil }
                        return c
                    })
                else { return }
                c.resume(with: result)
                cancel()
            }
            let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(timeout)) {
                finish(.failure(DeadlineExceeded()))
            }
            let op = Task {
                do { finish(.success(try await operation())) } catch { finish(.failure(error)) }
            }
            work.withLockedValue { $0 = (op, timer) }
            // The operation may have finished, or the caller been cancelled, before the tasks were recorded.
            if box.withLockedValue({ $0 == nil }) || Task.isCancelled { cancel() }
        }
    } onCancel: {
        cancel()
    }
}
