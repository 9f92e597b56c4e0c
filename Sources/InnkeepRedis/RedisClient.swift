import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A small Redis client: one lazily opened connection shared by all callers, commands pipelined on it.
///
/// The connection is opened by the first command and reopened by the first command after it was lost.
/// When it drops or a command times out, every command waiting on it fails with
/// `RedisError.unavailable`; there is no background reconnect loop, and at most one connect attempt
/// runs at a time (concurrent callers wait for it rather than opening their own).
public final class RedisClient: Sendable {
    /// The settings this client connects with.
    public let configuration: Configuration
    private let group: any EventLoopGroup
    private let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var phase = Phase.idle
        /// Tells a finishing connect attempt whether it is still the one the client is waiting for.
        var attempt = 0
        /// Only the first failure of an outage is a warning; each later command retries and would flood the log.
        var lastConnectFailed = false
    }

    private enum Phase {
        case idle
        case connecting(attempt: Int, task: Task<RedisConnection, any Error>)
        case connected(RedisConnection)
        case shutDown
    }

    private enum Next {
        case use(RedisConnection)
        case await(Task<RedisConnection, any Error>)
    }

    /// Creates a client; nothing is connected until the first command.
    /// - Parameters:
    ///   - eventLoopGroup: Runs the connection. The shared singleton is never shut down by the client.
    public init(
        configuration: Configuration,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "innkeep.redis")
    ) {
        self.configuration = configuration
        self.group = eventLoopGroup
        var logger = logger
        logger[metadataKey: "redis"] = "\(configuration.host):\(configuration.port)"
        self.logger = logger
    }

    /// Creates a client from `redis://[[user]:password@]host[:port][/db]`.
    /// - Throws: `RedisError.invalidURL` for a malformed URL.
    public convenience init(
        url: String,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "innkeep.redis")
    ) throws {
        self.init(configuration: try Configuration(url: url), eventLoopGroup: eventLoopGroup, logger: logger)
    }

    deinit {
        // Without this a forgotten `shutdown()` would leave the socket open.
        state.withLock { state in
            if case .connected(let connection) = state.phase { connection.channel.close(promise: nil) }
        }
    }

    /// Sends one command, e.g. `["SET", "key", "value"]`, and returns the reply.
    /// - Throws: `RedisError.server` for an error reply; `.unavailable` when Redis cannot be reached,
    ///   the connection drops, or no reply comes within `commandTimeout`.
    public func send(_ command: [String]) async throws -> RESPValue {
        guard !command.isEmpty else { throw RedisError.invalidCommand("empty command") }
        let reply = try await connection().send(command)
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }

    /// Closes the connection. Later commands fail with `.unavailable`. Safe to call more than once.
    public func shutdown() async {
        let previous = state.withLock { state in
            defer { state.phase = .shutDown }
            return state.phase
        }
        switch previous {
        case .connected(let connection):
            await connection.close()
        case .connecting(_, let task):
            // The attempt sees `.shutDown` when it finishes and closes what it opened.
            _ = try? await task.value
        case .idle, .shutDown:
            break
        }
    }

    /// The open connection, or the one being opened, or a new one.
    private func connection() async throws -> RedisConnection {
        let next = try state.withLock { state throws(RedisError) -> Next in
            switch state.phase {
            case .connected(let connection) where connection.isActive:
                return .use(connection)
            case .connecting(_, let task):
                return .await(task)
            case .shutDown:
                throw RedisError.unavailable("client is shut down")
            case .idle, .connected:
                state.attempt += 1
                let attempt = state.attempt
                let task = Task { try await self.openConnection(attempt: attempt) }
                state.phase = .connecting(attempt: attempt, task: task)
                return .await(task)
            }
        }
        switch next {
        case .use(let connection): return connection
        case .await(let task): return try await task.value
        }
    }

    private func openConnection(attempt: Int) async throws -> RedisConnection {
        let connection: RedisConnection
        do {
            connection = try await RedisConnection.open(configuration, group: group)
        } catch {
            let firstFailure = state.withLock { state in
                if case .connecting(attempt, _) = state.phase { state.phase = .idle }
                defer { state.lastConnectFailed = true }
                return !state.lastConnectFailed
            }
            logger.log(level: firstFailure ? .warning : .debug, "Redis connect failed", metadata: ["error": "\(error)"])
            throw error
        }
        let isCurrent = state.withLock { state in
            guard case .connecting(attempt, _) = state.phase else { return false }
            state.phase = .connected(connection)
            state.lastConnectFailed = false
            return true
        }
        guard isCurrent else {
            await connection.close()
            throw RedisError.unavailable("client is shut down")
        }
        logger.debug("Redis connected")
        connection.channel.closeFuture.whenComplete { [weak self] _ in self?.connectionClosed(connection) }
        return connection
    }

    /// Forgets a lost connection so the next command opens a new one.
    private func connectionClosed(_ connection: RedisConnection) {
        let wasCurrent = state.withLock { state in
            guard case .connected(let current) = state.phase, current === connection else { return false }
            state.phase = .idle
            return true
        }
        if wasCurrent { logger.info("Redis connection closed; the next command reconnects") }
    }
}
