import Foundation
import Synchronization
import Testing

@testable import Innkeep

extension Unit {
    /// `HealthProbe`: requests of a few milliseconds share one check; a later request gets a fresh one.
    @Suite struct HealthProbeTests {
        /// A check that counts its runs, answers `db` from the flag, and takes `takes` to do it.
        final class Check: Sendable {
            let runs = Atomic(0)
            let db = Atomic(true)
            let takes: Duration
            init(takes: Duration) { self.takes = takes }
            func callAsFunction() async -> HealthProbe.Result {
                runs.add(1, ordering: .relaxed)
                try? await Task.sleep(for: takes)
                return HealthProbe.Result(db: db.load(ordering: .relaxed), redis: .ok)
            }
        }

        @Test func concurrentRequestsShareOneCheck() async {
            let check = Check(takes: .milliseconds(100))
            let probe = HealthProbe(sharedFor: .milliseconds(20)) { await check() }
            let answers = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<50 { group.addTask { await probe.result().db } }
                return await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(answers.count == 50 && answers.allSatisfy { $0 })
            // All 50 arrived while the first check ran (it takes 100 ms).
            #expect(check.runs.load(ordering: .relaxed) == 1)
        }

        @Test func aLaterRequestSeesTheChange() async throws {
            let check = Check(takes: .zero)
            let probe = HealthProbe(sharedFor: .milliseconds(20)) { await check() }
            #expect(await probe.result().db)
            check.db.store(false, ordering: .relaxed)
            try await Task.sleep(for: .milliseconds(30))
            #expect(await probe.result().db == false)
            #expect(check.runs.load(ordering: .relaxed) == 2)
        }

        @Test func withoutSharingEveryRequestChecks() async {
            let check = Check(takes: .zero)
            let probe = HealthProbe(sharedFor: .zero) { await check() }
            for _ in 0..<5 { _ = await probe.result() }
            #expect(check.runs.load(ordering: .relaxed) == 5)
        }
    }
}
