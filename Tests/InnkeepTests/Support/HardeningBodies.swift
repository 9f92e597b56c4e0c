import Foundation
import HTTPTypes
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import Innkeep

#if canImport(Glibc)
import Glibc
#endif

enum HardeningBodies {
    static func booking(_ property: UUID) -> [String: JSONValue] {
        let day = Int.random(in: 0..<300)
        return [
            "property_id": JSONValue(property), "guest_name": "G", "check_in": .string(futureDay(day, year: 2046)),
            "check_out": .string(futureDay(day + 1, year: 2046)), "guests": 1,
        ]
    }
}
