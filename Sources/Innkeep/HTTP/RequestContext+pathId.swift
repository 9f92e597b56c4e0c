import Foundation
import Hummingbird

extension RequestContext {
    /// A UUID path parameter, or 422 naming it.
    public func pathId(_ name: String = "id") throws -> UUID {
        guard let raw = parameters.get(name), let id = UUID(uuidString: raw) else {
            throw APIError.validation(name, "must be a UUID")
        }
        return id
    }
}
