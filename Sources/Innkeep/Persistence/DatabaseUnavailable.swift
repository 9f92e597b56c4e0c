import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// The database could not be reached in time; answered as 503 DATABASE_UNAVAILABLE.
public struct DatabaseUnavailable: Error {
    public let underlying: any Error
}
