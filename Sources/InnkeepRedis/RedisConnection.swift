import NIOCore
import NIOPosix

/// One TCP connection to Redis with the RESP handlers installed, authenticated and on the right database.
final class RedisConnection: Sendable {
    let channel: any Channel
    private let commandTimeout: TimeAmount

    private init(channel: any Channel, commandTimeout: TimeAmount) {
        self.channel = channel
        self.commandTimeout = commandTimeout
    }

    /// Whether the connection can still carry commands.
    var isActive: Bool { channel.isActive }

    /// Connects, then sends `AUTH` and `SELECT` as configured.
    /// - Throws: `RedisError.unavailable` if the server cannot be reached in time; `.server` if `AUTH`
    ///   or `SELECT` is refused.
    static func open(_ configuration: RedisClient.Configuration, group: any EventLoopGroup) async throws -> RedisConnection {
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(TimeAmount(configuration.connectTimeout))
            // Commands are small and latency matters more than packet count.
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPDecoder()))
                    try channel.pipeline.syncOperations.addHandler(RedisCommandHandler())
                }
            }
        let channel: any Channel
        do {
            channel = try await bootstrap.connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisError.unavailable("cannot connect to \(configuration.host):\(configuration.port): \(error)")
        }
        let connection = RedisConnection(channel: channel, commandTimeout: TimeAmount(configuration.commandTimeout))
        do {
            if let password = configuration.password {
                let credentials = configuration.username.map { [$0, password] } ?? [password]
                try await connection.sendExpectingSuccess(["AUTH"] + credentials)
            }
            if configuration.database != 0 {
                try await connection.sendExpectingSuccess(["SELECT", String(configuration.database)])
            }
        } catch {
            await connection.close()
            throw error
        }
        return connection
    }

    /// Sends one command; Redis error replies are returned as `.error`, not thrown.
    func send(_ command: [String]) async throws -> RESPValue {
        let reply = channel.eventLoop.makePromise(of: RESPValue.self)
        let request = RedisRequest(command: command, reply: reply, timeout: commandTimeout)
        channel.writeAndFlush(request).whenFailure { [channel] error in
            // A failed write leaves the reply order unknown, so the connection must go.
            reply.fail(RedisError.unavailable("write failed: \(error)"))
            channel.close(promise: nil)
        }
        return try await reply.futureResult.get()
    }

    /// Closes the connection; commands still waiting fail with `.unavailable`.
    func close() async {
        try? await channel.close()
    }

    private func sendExpectingSuccess(_ command: [String]) async throws {
        if case .error(let message) = try await send(command) {
            throw RedisError.server(message)
        }
    }
}
