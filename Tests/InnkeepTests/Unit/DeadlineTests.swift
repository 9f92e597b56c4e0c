import Dispatch
import Foundation
import NIOConcurrencyHelpers
import Testing

@testable import Innkeep

extension Unit {
    /// `withDeadline` (Platform/Deadline.swift) answers by its deadline even when the operation ignores
    /// cancellation (a hung socket), which is what keeps a request from hanging on the database.
    @Suite struct DeadlineTests {
        /// Sleeps on a dispatch timer that no cancellation reaches.
        static func uncancellableSleep(_ seconds: Double) async {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { c.resume() }
            }
        }

        @Test func aFastOperationReturnsItsValue() async throws {
            let value = try await withDeadline(.seconds(5)) { 42 }
            #expect(value == 42)
        }

        @Test func theOperationsErrorIsRethrown() async {
            struct Boom: Error {}
            await #expect(throws: Boom.self) { try await withDeadline(.seconds(5)) { () async throws -> Int in throw Boom() } }
        }

        @Test func anOperationThatIgnoresCancellationIsAbandonedAtTheDeadline() async {
            let clock = ContinuousClock()
            let start = clock.now
            await #expect(throws: DeadlineExceeded.self) {
                try await withDeadline(.milliseconds(100)) {
                    await Self.uncancellableSleep(5)
                    return 1
                }
            }
            let elapsed = clock.now - start
            // 100 ms, with room for a loaded two-core machine; the operation itself takes 5 s.
            #expect(elapsed < .seconds(2), "returned after \(elapsed)")
        }

        @Test func anOperationThatHonoursCancellationIsCancelledAtTheDeadline() async throws {
            let cancelled = NIOLockedValueBox(false)
            await #expect(throws: DeadlineExceeded.self) {
                try await withDeadline(.milliseconds(50)) { () async throws -> Int in
                    do { try await Task.sleep(for: .seconds(30)) } catch {
                        cancelled.withLockedValue { $0 = true }
                        throw error
                    }
                    return 1
                }
            }
            try await eventually("the abandoned operation to be cancelled", timeout: .seconds(2)) { cancelled.withLockedValue { $0 } }
        }

        /// Cancelling the caller cancels the operation too, so that it stops rather than run on unseen.
        @Test func cancellingTheCallerCancelsTheOperation() async throws {
            let (started, cancelled) = (NIOLockedValueBox(false), NIOLockedValueBox(false))
            let task = Task {
                try await withDeadline(.seconds(30)) { () async throws -> Int in
                    started.withLockedValue { $0 = true }
                    do { try await Task.sleep(for: .seconds(30)) } catch {
                        cancelled.withLockedValue { $0 = true }
                        throw error
                    }
                    return 1
                }
            }
            try await eventually("the operation to start", timeout: .seconds(5)) { started.withLockedValue { $0 } }
            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            try await eventually("the operation to be cancelled", timeout: .seconds(5)) { cancelled.withLockedValue { $0 } }
        }

        /// A cancelled caller is answered at once even when the operation ignores cancellation (a worker shutting
        /// down while a lookup hangs): it neither waits for the operation nor for the deadline.
        @Test func aCancelledCallerIsAnsweredWhileTheOperationIgnoresIt() async throws {
            let started = NIOLockedValueBox(false)
            let task = Task {
                try await withDeadline(.seconds(30)) { () async throws -> Int in
                    started.withLockedValue { $0 = true }
                    await Self.uncancellableSleep(5)
                    return 1
                }
            }
            try await eventually("the operation to start", timeout: .seconds(5)) { started.withLockedValue { $0 } }
            let clock = ContinuousClock()
            let start = clock.now
            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            // At once, with room for a loaded two-core machine; the operation takes 5 s, the deadline 30 s.
            #expect(clock.now - start < .seconds(2), "returned after \(clock.now - start)")
        }

        /// A caller already cancelled when it calls is answered at once, and its operation never starts (a
        /// shutdown's last write does not take a connection and send BEGIN).
        @Test func aCallerCancelledBeforehandDoesNotStartTheOperation() async {
            let started = NIOLockedValueBox(false)
            let task = Task {
                while !Task.isCancelled { await Task.yield() }
                return try await withDeadline(.seconds(30)) { () async throws -> Int in
                    started.withLockedValue { $0 = true }
                    await Self.uncancellableSleep(5)
                    return 1
                }
            }
            task.cancel()
            let clock = ContinuousClock()
            let start = clock.now
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(clock.now - start < .seconds(2), "returned after \(clock.now - start)")
            // An operation started in the background would have set the flag by now.
            try? await Task.sleep(for: .milliseconds(200))
            #expect(!started.withLockedValue { $0 }, "the operation started")
        }
    }
}
