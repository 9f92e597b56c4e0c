import NIOCore
import NIOPosix

/// Swift concurrency on NIO's event loops (docs/benchmarks.md).
public enum EventLoopExecutor {
    /// Makes NIO's event loop threads Swift concurrency's global executor, so a request's awaits resume
    /// on the thread that does its I/O instead of hopping to the concurrency pool and back: on two
    /// cores those hops (two context switches per database round trip) cost more CPU than the work.
    /// Blocking work must not run on it: bcrypt already runs on `NIOThreadPool`.
    ///
    /// Call once, first thing in `main`, before any task is created.
    @discardableResult
    public static func install() -> Bool {
        NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
