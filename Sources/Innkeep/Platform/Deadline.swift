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
/// The timer is a task scheduled on an event loop (the current one when called from one), not a second
/// Swift task sleeping: every database call comes through here, and a `Task` + `Task.sleep` per call
/// cost more than the loop's timer heap entry.
public func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let box = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(nil)
    let work = NIOLockedValueBox<(Task<Void, Never>?, Scheduled<Void>?)>((nil, nil))
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            box.withLockedValue { $0 = continuation }
            func finish(_ result: Result<T, any Error>) {
                guard let c = box.withLockedValue({ c in defer { c = nil }; return c }) else { return }
                c.resume(with: result)
                let (op, timer) = work.withLockedValue { $0 }
                op?.cancel()
                timer?.cancel()
            }
            let op = Task {
                do { finish(.success(try await operation())) } catch { finish(.failure(error)) }
            }
            let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .nanoseconds(nanoseconds)) {
                finish(.failure(DeadlineExceeded()))
            }
            work.withLockedValue { $0 = (op, timer) }
            // The operation may have finished before the tasks were recorded.
            if box.withLockedValue({ $0 == nil }) { op.cancel(); timer.cancel() }
        }
    } onCancel: {
        let (op, timer) = work.withLockedValue { $0 }
        op?.cancel()
        timer?.cancel()
    }
}
