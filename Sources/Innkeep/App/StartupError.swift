import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// A reason `serve` will not start, printed as one line.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
}
