import Foundation
import NIOCore
import NIOPosix

/// Swift concurrency on NIO's event loops (docs/benchmarks.md).
public enum EventLoopExecutor {
    /// Makes NIO's event loop threads Swift concurrency's global executor, so a request's awaits resume
    /// on the thread that does its I/O instead of hopping to the concurrency pool and back: on two
    /// cores those hops (two context switches per database round trip) cost more CPU than the work.
    /// Blocking work must not run on it: bcrypt already runs on `NIOThreadPool`.
    ///
    /// Call once, first thing in `main`, before any task is created. `EVENT_LOOP_THREADS` sets how many
    /// event loops (and so threads running Swift tasks) there are; the default is one per core, half as many
    /// when Postgres runs on the same machine (`AppConfig.defaultEventLoopThreads`).
    @discardableResult
    public static func install(environment: [String: String] = AppConfig.processEnvironment()) -> Bool {
        // A bad value is ignored here; `AppConfig` then refuses it with a one-line error.
        if let n = try? AppConfig.eventLoopThreads(in: environment) { NIOSingletons.groupLoopCountSuggestion = n }
        return NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
    }
}
