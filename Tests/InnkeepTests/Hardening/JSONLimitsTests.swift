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

/// SPEC §14: JSON parsing is linear in the size, nests at most 64 deep, and a large body is parsed off the event loops.
@Suite struct JSONLimitsTests {
    static func nested(_ depth: Int) -> String { String(repeating: "[", count: depth) + String(repeating: "]", count: depth) }

    @Test func parserReadsJSONAndRefusesWhatIsNot() throws {
        #expect(
            JSONValue.parse(Array(#"{"a":[1,-2.5,1e2,2.0,true,false,null,"x\"\u00e9\ud83d\ude00"],"b":{}}"#.utf8))
                == ["a": [1, .double(-2.5), 100, 2, true, false, nil, .string("x\"é😀")], "b": [:]]
        )
        #expect(JSONValue.parse(Array(" 9223372036854775807 ".utf8)) == .int(Int64.max))
        #expect(JSONValue.parse(Array("9223372036854775808".utf8)) == .double(9_223_372_036_854_775_808))
        for bad in [
            "", "{", "[1,]", "{\"a\" 1}", "01", "1.", ".5", "-", "tru", "\"\u{01}\"", "\"\\x\"", "\"\\ud800\"", "1 2", "NaN", "1e999",
            "{\"a\":1,}", "[\"\\u12\"]",
        ] {
            #expect(JSONValue.parse(Array(bad.utf8)) == nil, "\(bad) parsed")
        }
        #expect(JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) == nil, "invalid UTF-8")
        // The last of duplicate keys wins.
        #expect(JSONValue.parse(Array(#"{"a":1,"a":2}"#.utf8)) == ["a": 2])
        // 64 levels of nesting are fine, 65 are not.
        #expect(JSONValue.parse(Array(Self.nested(64).utf8)) != nil)
        #expect(throws: JSONParser.Failure.tooDeep) { try JSONParser.parse(Array(Self.nested(65).utf8)) }
        #expect(throws: JSONParser.Failure.tooDeep) { try JSONParser.parse(Array((String(repeating: "{\"a\":", count: 100_000)).utf8)) }
    }

    @Test func parsingIsLinearInTheSize() throws {
        func bomb(_ count: Int) -> [UInt8] { Array(("{\"email\":[" + Array(repeating: "{}", count: count).joined(separator: ",") + "]}").utf8) }
        let clock = ContinuousClock()
        let small = bomb(33_000)
        let large = bomb(330_000)
        var t1 = clock.measure { _ = try? JSONParser.parse(small) }
        t1 = min(t1, clock.measure { _ = try? JSONParser.parse(small) })
        let t2 = clock.measure { _ = try? JSONParser.parse(large) }
        #expect(t2 < t1 * 25, "10× the input took \(t2) vs \(t1)")
        #expect(t2 < .seconds(5), "a 1 MiB bomb took \(t2)")
        print("JSONLimitsTests: 100 KiB of empty objects \(t1), 1 MiB \(t2)")
    }

    @Test func aJSONBombDoesNotStallTheEventLoopsAndDeepNestingIs400() async throws {
        try await HeavyLoad.exclusive {
            let server = try await LiveServer.start()
            defer { server.kill() }
            // ~1 MiB: a JSON object holding ~330,000 empty objects.
            let count = ((1 << 20) - 64) / 3
            let bomb = Array(("{\"email\":[" + Array(repeating: "{}", count: count).joined(separator: ",") + "]}").utf8)
            #expect(bomb.count <= 1 << 20)
            let clock = ContinuousClock()
            let done = Mutex(false)
            async let probe: Duration = {
                var slowest = Duration.zero
                while !done.withLock({ $0 }) {
                    let start = clock.now
                    _ = try await server.request("GET", "/health/live")
                    slowest = max(slowest, clock.now - start)
                    try await Task.sleep(for: .milliseconds(10))
                }
                return slowest
            }()
            var answers: [RawResponse] = []
            for _ in 0..<3 {
                answers.append(
                    try await server.request("POST", "/api/v1/auth/login", headers: ["Content-Type": "application/json"], body: bomb, timeout: 60)
                )
            }
            done.withLock { $0 = true }
            let slowest = try await probe
            for r in answers {
                #expect(r.status == 422, "\(r.status) \(r.body.prefix(300))")
                #expect(r.errorCode == "VALIDATION_ERROR")
            }
            // Alone it stays near 10 ms; the bound leaves room for the other suites sharing two cores.
            #expect(slowest < .seconds(1), "/health/live took \(slowest) while 1 MiB bombs were parsed")
            print("JSONLimitsTests: /health/live ≤ \(slowest) while three 1 MiB JSON bombs were parsed")

            let deep = try await server.request(
                "POST",
                "/api/v1/auth/login",
                headers: ["Content-Type": "application/json"],
                body: Array(("{\"email\":" + Self.nested(64) + "}").utf8)
            )
            #expect(deep.status == 400)
            #expect(deep.errorCode == "MALFORMED_JSON")
            #expect(deep.json["error"]?["message"]?.stringValue?.contains("64") == true)
            let fine = try await server.request(
                "POST",
                "/api/v1/auth/login",
                headers: ["Content-Type": "application/json"],
                body: Array(("{\"email\":" + Self.nested(63) + "}").utf8)
            )
            #expect(fine.status == 422, "63 levels inside the object: \(fine.body)")
        }
    }
}
