import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .relaxed) }
    var isSet: Bool { value.load(ordering: .relaxed) }
}
