import Foundation
import InnkeepRedis
import NIOCore
import NIOPosix
import Testing

/// Against a real Redis on 127.0.0.1:$INNKEEP_REDIS_PORT (default 63799); they fail when none answers.
@Suite(.serialized) struct RedisClientIntegrationTests {
    static let port = Int(ProcessInfo.processInfo.environment["INNKEEP_REDIS_PORT"] ?? "") ?? 63799

    @Test func pingAnswers() async throws {
        try await withClient { client in
            let answered = try await client.ping()
            #expect(answered)
        }
    }

    @Test func setGetAndDelete() async throws {
        try await withClient { client in
            let key = uniqueKey("kv")
            let other = uniqueKey("kv")
            #expect(try await client.get(key) == nil)
            try await client.set(key, "wert ✓")
            try await client.set(other, "")
            #expect(try await client.get(key) == "wert ✓")
            #expect(try await client.get(other) == "")
            #expect(try await client.del(key, other, uniqueKey("missing")) == 2)
            #expect(try await client.get(key) == nil)
            // 2 MB arrives in many TCP reads, so the reply is parsed from partial buffers for real.
            let big = String(repeating: "0123456789abcdef", count: 128 * 1024)
            try await client.set(key, big)
            #expect(try await client.get(key) == big)
            try await client.del(key)
        }
    }

    @Test func valuesExpire() async throws {
        try await withClient { client in
            let key = uniqueKey("ttl")
            try await client.set(key, "soon gone", expiresIn: .milliseconds(300))
            #expect(try await client.get(key) == "soon gone")
            #expect((1...300).contains(try await client.send(["PTTL", key]).int ?? -1))
            try await Task.sleep(for: .milliseconds(450))
            #expect(try await client.get(key) == nil)
        }
    }

    @Test func incrementWindowCountsAndRestartsAfterTheWindow() async throws {
        try await withClient { client in
            let key = uniqueKey("window")
            #expect(try await client.incrementWindow(key: key, window: .seconds(60)) == (1, 60))
            let second = try await client.incrementWindow(key: key, window: .seconds(60))
            #expect(second.count == 2 && (59...60).contains(second.ttlSeconds))
            let short = uniqueKey("window")
            #expect(try await client.incrementWindow(key: short, window: .milliseconds(300)) == (1, 1))
            #expect(try await client.incrementWindow(key: short, window: .milliseconds(300)).count == 2)
            try await Task.sleep(for: .milliseconds(450))
            #expect(try await client.incrementWindow(key: short, window: .milliseconds(300)).count == 1)
            // A counter that lost its expiry gets one back instead of counting forever.
            let stuck = uniqueKey("window")
            try await client.set(stuck, "5")
            #expect(try await client.incrementWindow(key: stuck, window: .seconds(10)) == (6, 10))
            try await client.del(key, short, stuck)
        }
    }

    @Test func pipelinesManyConcurrentCommandsOverOneConnection() async throws {
        try await withClient { client in
            let connectionID = try await client.send(["CLIENT", "ID"])
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let reply = try await client.send(["ECHO", "message \(index)"])
                        #expect(reply.string == "message \(index)")
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await client.send(["CLIENT", "ID"]) == connectionID, "commands did not share one connection")
        }
    }

    @Test func errorRepliesThrowServerErrors() async throws {
        try await withClient { client in
            let unknown = await #expect(throws: RedisError.self) { try await client.send(["NO-SUCH-COMMAND"]) }
            guard case .server(let message) = unknown else {
                Issue.record("got \(String(describing: unknown))")
                return
            }
            #expect(message.contains("unknown command"))
            let key = uniqueKey("text")
            try await client.set(key, "not a number")
            await expectError({ if case .server = $0 { true } else { false } }) {
                _ = try await client.incrementWindow(key: key, window: .seconds(1))
            }
            #expect(try await client.ping(), "an error reply must not break the connection")
            try await client.del(key)
        }
    }

    @Test func closedPortFailsFastAsUnavailable() async throws {
        let client = RedisClient(configuration: .init(host: "127.0.0.1", port: try await freePort(), password: nil, database: 0))
        let elapsed = await ContinuousClock().measure {
            await expectError(isUnavailable) { _ = try await client.ping() }
        }
        #expect(elapsed < .seconds(1))
        await client.shutdown()
    }

    @Test func recoversWhenRedisRestartsWithoutNewClient() async throws {
        let server = try await ScratchRedis()
        defer { server.destroy() }
        try await server.start()
        let client = RedisClient(configuration: .init(host: "127.0.0.1", port: server.port, password: nil, database: 0))
        try await client.set("k", "before")
        server.stop()
        let elapsed = await ContinuousClock().measure {
            await expectError(isUnavailable) { _ = try await client.get("k") }
        }
        #expect(elapsed < .seconds(1))
        try await server.start()
        #expect(try await client.ping(), "client did not reconnect to the restarted server")
        #expect(try await client.get("k") == nil, "the scratch server keeps no data across restarts")
        await client.shutdown()
        await expectError(isUnavailable) { _ = try await client.ping() }
    }

    @Test func pausedRedisTimesOutThenRecovers() async throws {
        let server = try await ScratchRedis()
        defer { server.destroy() }
        try await server.start()
        let config = RedisClient.Configuration(host: "127.0.0.1", port: server.port, password: nil, database: 0, commandTimeout: .milliseconds(300))
        let client = RedisClient(configuration: config)
        #expect(try await client.ping())
        server.pause()
        let elapsed = await ContinuousClock().measure {
            async let first: Void = expectError(isUnavailable) { _ = try await client.ping() }
            async let second: Void = expectError(isUnavailable) { _ = try await client.get("k") }
            _ = await (first, second)
        }
        // Both fail at the 300 ms timeout rather than hanging; the bound leaves room for a loaded machine (the
        // full suite runs live-server floods beside this).
        #expect(elapsed < .seconds(2))
        server.resume()
        #expect(try await client.ping())
        await client.shutdown()
    }

    @Test func authenticatesAndSelectsTheDatabase() async throws {
        let server = try await ScratchRedis(extraArguments: ["--requirepass", "pa ss"])
        defer { server.destroy() }
        try await server.start()
        let onDB3 = try RedisClient(url: "redis://:pa%20ss@127.0.0.1:\(server.port)/3")
        try await onDB3.set("where", "three")
        #expect(try await onDB3.send(["CLIENT", "INFO"]).string?.contains("db=3") == true)
        let onDB0 = RedisClient(configuration: .init(host: "127.0.0.1", port: server.port, password: "pa ss", database: 0))
        #expect(try await onDB0.get("where") == nil)
        let noPassword = RedisClient(configuration: .init(host: "127.0.0.1", port: server.port, password: nil, database: 0))
        let isNoAuth: (RedisError) -> Bool = { if case .server(let message) = $0 { message.hasPrefix("NOAUTH") } else { false } }
        await expectError(isNoAuth) {
            _ = try await noPassword.ping()
        }
        for client in [onDB3, onDB0, noPassword] { await client.shutdown() }
    }
}

// MARK: - Helpers

private func withClient(
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (RedisClient) async throws -> Void
) async throws {
    let port = RedisClientIntegrationTests.port
    let client = RedisClient(configuration: .init(host: "127.0.0.1", port: port, password: nil, database: 0))
    do {
        _ = try await client.ping()
    } catch {
        Issue.record(
            "No Redis answers on 127.0.0.1:\(port) (INNKEEP_REDIS_PORT); start one, e.g. scripts/stack up: \(error)",
            sourceLocation: sourceLocation
        )
        return
    }
    do {
        try await body(client)
    } catch {
        await client.shutdown()
        throw error
    }
    await client.shutdown()
}

private func uniqueKey(_ name: String) -> String { "innkeep-test:\(name):\(UUID().uuidString)" }

private func isUnavailable(_ error: RedisError) -> Bool {
    if case .unavailable = error { true } else { false }
}

private func expectError(
    _ matches: (RedisError) -> Bool,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> Void
) async {
    do {
        try await body()
        Issue.record("expected a RedisError, but the call succeeded", sourceLocation: sourceLocation)
    } catch let error as RedisError {
        #expect(matches(error), "unexpected \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected a RedisError, got \(error)", sourceLocation: sourceLocation)
    }
}

/// A port nothing listens on (just released by the kernel).
private func freePort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress?.port ?? 63819
    try await channel.close()
    return port
}

/// A throwaway redis-server of the test's own, on a free port, that the test may stop, pause and restart.
private final class ScratchRedis: @unchecked Sendable {
    let port: Int
    private let extraArguments: [String]
    private var process: Process?

    init(extraArguments: [String] = []) async throws {
        self.port = try await freePort()
        self.extraArguments = extraArguments
    }

    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"] + extraArguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        self.process = process
        try await waitUntilAnswering()
    }

    /// Ready once it answers at all; a NOAUTH error reply counts as an answer.
    private func waitUntilAnswering() async throws {
        let probe = RedisClient(configuration: .init(host: "127.0.0.1", port: port, password: nil, database: 0))
        var answered = false
        for _ in 0..<100 where !answered {
            do {
                _ = try await probe.ping()
                answered = true
            } catch RedisError.server {
                answered = true
            } catch {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        await probe.shutdown()
        guard answered else { throw RedisError.unavailable("scratch redis-server on port \(port) did not start") }
    }

    /// A clean `SHUTDOWN NOSAVE`, as an operator would do it.
    func stop() {
        cli(["shutdown", "nosave"])
        waitForExit()
    }

    func pause() { _ = process?.suspend() }
    func resume() { _ = process?.resume() }

    /// SIGKILL, because the child inherits the test runner's blocked signals and so ignores SIGTERM.
    func destroy() {
        guard let process, process.isRunning else { return }
        _ = kill(process.processIdentifier, SIGKILL)
        waitForExit()
    }

    /// Polls instead of `waitUntilExit()`, which on Linux can wait forever (e.g. for a child that ignores SIGTERM).
    private func waitForExit(_ process: Process? = nil) {
        let process = process ?? self.process
        var polls = 0
        while process?.isRunning == true, polls < 100 {
            polls += 1
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Runs redis-cli against this server and waits for it.
    private func cli(_ arguments: [String]) {
        let cli = Process()
        cli.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        cli.arguments = ["-p", "\(port)"] + arguments
        cli.standardOutput = FileHandle.nullDevice
        cli.standardError = FileHandle.nullDevice
        guard (try? cli.run()) != nil else { return }
        waitForExit(cli)
    }
}
