import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

final class InFlightCounter: Sendable {
    let value = Atomic<Int>(0)
}
