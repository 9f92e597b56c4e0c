import Foundation
import HTTPTypes
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import Innkeep

#if canImport(Glibc)
import Glibc
#endif

/// SPEC §14, driven against the built `innkeep serve` (a real process on a real port) or the in-process
/// app, with the real Postgres and Redis: what a hostile client or a fault can do.
@Suite struct HTTPLimitsTests {
    /// Idle connections are closed within 60 s, and headers must arrive within 30 s.
    @Test func idleAndSlowHeaderConnectionsAreClosed() async throws {
        let server = try await LiveServer.start()
        defer { server.kill() }
        let clock = ContinuousClock()
        let start = clock.now
        async let silent: Duration? = offPool {
            let s = try RawSocket(port: server.port, timeout: 65)
            defer { s.close() }
            return s.waitForClose() ? clock.now - start : nil
        }
        async let slowHeaders: Duration? = offPool {
            let s = try RawSocket(port: server.port, timeout: 65)
            defer { s.close() }
            try s.send(Array("GET /health/live HTTP/1.1\r\nHost: x\r\n".utf8))  // and never the blank line
            return s.waitForClose() ? clock.now - start : nil
        }
        let (a, b) = try await (silent, slowHeaders)
        let idle = try #require(a, "a silent connection was still open after 65 s")
        let headers = try #require(b, "a connection that never finished its headers was still open after 65 s")
        #expect(idle <= .seconds(60))
        #expect(headers <= .seconds(31), "headers took \(headers) to be cut")
        // The server still serves.
        #expect(try await server.request("GET", "/health/live").status == 200)
    }

    /// SIGTERM ends the process within 30 s even with a half-sent request and a silent connection open.
    @Test func sigtermEndsTheServerWithinThirtySecondsWhateverClientsDo() async throws {
        let server = try await LiveServer.start()
        defer { server.kill() }
        let silent = try RawSocket(port: server.port, timeout: 60)
        let half = try RawSocket(port: server.port, timeout: 60)
        defer {
            silent.close()
            half.close()
        }
        try half.send(Array("POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{".utf8))
        // A keep-alive connection that completed one request and then went quiet.
        let kept = try RawSocket(port: server.port, timeout: 60)
        defer { kept.close() }
        try kept.send(Array("GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        try await Task.sleep(for: .milliseconds(500))
        server.signal(SIGTERM)
        let took = await server.waitForExit(timeout: .seconds(30))
        #expect(took != nil, "innkeep serve still running 30 s after SIGTERM; log: \(server.log.suffix(2000))")
        if let took { print("HTTPLimitsTests: serve exited \(took) after SIGTERM with a half-sent request and a silent connection open") }
    }
}
