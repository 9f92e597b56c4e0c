import Foundation
import NIOConcurrencyHelpers

/// Thrown when an operation did not finish within its deadline.
public struct DeadlineExceeded: Error {}

/// Runs `operation` and gives up after `timeout`. Unlike a task group, this returns at the deadline
/// even if the operation ignores cancellation (a hung database socket), so no request can hang.
/// The abandoned operation is cancelled and finishes in the background.
public func withDeadline<T: Sendable>(
    _ timeout: Duration,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    let box = NIOLockedValueBox<CheckedContinuation<T, any Error>?>(nil)
    let work = NIOLockedValueBox<[Task<Void, Never>]>([])
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            box.withLockedValue { $0 = continuation }
            func finish(_ result: Result<T, any Error>) {
                guard
                    let c = box.withLockedValue({ c in
                        defer { c = nil }
                        return c
                    })
                else { return }
                c.resume(with: result)
                work.withLockedValue { for task in $0 { task.cancel() } }
            }
            let op = Task {
                do { finish(.success(try await operation())) } catch { finish(.failure(error)) }
            }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                if !Task.isCancelled { finish(.failure(DeadlineExceeded())) }
            }
            work.withLockedValue { $0 = [op, timer] }
            // The operation may have finished before the tasks were recorded.
            if box.withLockedValue({ $0 == nil }) {
                op.cancel()
                timer.cancel()
            }
        }
    } onCancel: {
        work.withLockedValue { for task in $0 { task.cancel() } }
    }
}
