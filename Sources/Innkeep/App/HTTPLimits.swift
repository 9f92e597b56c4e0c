import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The server's time limits (SPEC §14): no client can hold a connection, or the shutdown, for long.
public enum HTTPLimits {
    /// A connection with nothing in flight for this long is closed. Hummingbird's idle timer restarts on
    /// every request part read and every response written, and a request head is only "read" once it is
    /// complete, so this also bounds how long a client may take to send its headers.
    public static let idleTimeout: TimeAmount = .seconds(30)
    /// After SIGTERM/SIGINT, requests in flight get this long to finish; then everything is cancelled.
    public static let gracefulShutdown: Duration = .seconds(10)
    /// How long cancelled work may take to unwind before the process stops waiting for it.
    public static let cancellation: Duration = .seconds(5)
}
