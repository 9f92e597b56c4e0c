import Hummingbird
import Logging

/// Serves `router` on a free port of 127.0.0.1 with a silent logger: the remote server a test needs (webhook
/// receiver, iCal feed, JWKS). Returns the port once it listens, and the task to cancel to stop it.
func startLoopbackServer(_ router: Router<BasicRequestContext>, name: String) async throws -> (port: Int, task: Task<Void, any Error>) {
    let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
    var quiet = Logger(label: name)
    quiet.logLevel = .critical
    let app = Application(
        router: router,
        configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? 0) },
        logger: quiet
    )
    let task = Task { try await app.runService(gracefulShutdownSignals: []) }
    var iterator = ports.makeAsyncIterator()
    guard let port = await iterator.next(), port > 0 else {
        task.cancel()
        throw TestFailure("the \(name) did not start")
    }
    return (port, task)
}
