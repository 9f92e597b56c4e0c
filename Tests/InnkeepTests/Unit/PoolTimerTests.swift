import Foundation
import PostgresNIO
import Testing

@testable import Innkeep

extension Unit {
    /// Each release of a pooled connection arms the pool's keep-alive and idle timers (`Task.sleep`s) and the
    /// next lease cancels them; a cancelled `Task.sleep` holds its memory until its deadline
    /// (swiftlang/swift#60441). With PostgresNIO's defaults (30 s, 60 s) `innkeep serve` held +60 MiB at
    /// ~800 leases/s; `Database.configuration` keeps both at 10 s (docs/benchmarks.md, "RSS").
    @Suite struct PoolTimerTests {
        @Test func thePoolsTimersAreShort() throws {
            let url = try PostgresURL.parse("postgres://u:p@127.0.0.1:5432/d?sslmode=disable", source: "test")
            let options = Database.configuration(url, maximumConnections: 16).options
            #expect(options.connectionIdleTimeout <= .seconds(10))
            let keepAlive = try #require(options.keepAliveBehavior, "keep-alive stays on: it finds dead idle connections")
            #expect(keepAlive.frequency <= .seconds(10))
        }
    }
}
