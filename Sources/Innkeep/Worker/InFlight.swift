import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// What one dispatcher has in flight, per endpoint and in all; `wait` wakes when a slot frees.
final class InFlight: Sendable {
    private struct State {
        var counts: [UUID: Int] = [:]
        var total = 0
        var waiters: [UUID: CheckedContinuation<Void, Never>] = [:]
        /// A delivery finished while nobody waited: the next wait returns at once.
        var signalled = false
    }
    private let state = Mutex(State())

    var total: Int { state.withLock { $0.total } }
    var perEndpoint: [UUID: Int] { state.withLock { $0.counts } }

    func add(_ endpoint: UUID) {
        state.withLock {
            $0.counts[endpoint, default: 0] += 1
            $0.total += 1
        }
    }

    func remove(_ endpoint: UUID) {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.counts[endpoint, default: 1] -= 1
            if s.counts[endpoint] == 0 { s.counts[endpoint] = nil }
            s.total -= 1
            let all = Array(s.waiters.values)
            s.waiters = [:]
            s.signalled = all.isEmpty
            return all
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Sleeps up to `duration`, or until a delivery finishes.
    func wait(upTo duration: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(for: duration) }
            group.addTask { await self.signal() }
            await group.next()
            group.cancelAll()
        }
    }

    private func signal() async {
        let id = UUID.random()
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
                let now = state.withLock { s -> Bool in
                    if Task.isCancelled || s.signalled {
                        s.signalled = false
                        return true
                    }
                    s.waiters[id] = c
                    return false
                }
                if now { c.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}
