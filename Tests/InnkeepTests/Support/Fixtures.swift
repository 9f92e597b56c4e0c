import Foundation
import HTTPTypes

@testable import Innkeep

/// Stays, bodies and headers the audit-log, idempotency and feature tests share (SPEC §7).
enum Fixtures {
    /// A date far in the future, `n` days after 2040-01-01, so stays never reach "today".
    static func day(_ n: Int) -> String { futureDay(n, year: 2040) }

    static func bookingBody(_ property: UUID, _ n: Int, nights: Int = 2, guests: Int = 2, name: String = "Guest") -> JSONValue {
        [
            "property_id": JSONValue(property), "guest_name": .string(name), "check_in": .string(day(n)),
            "check_out": .string(day(n + nights)), "guests": .int(Int64(guests)),
        ]
    }

    static func key(_ value: String) -> HTTPFields { [.idempotencyKey: value] }
    static func freshKey() -> String { "key-\(UUID().uuidString)" }

    static let ops: HTTPFields = [.authorization: "Bearer \(TestEnv.opsToken)"]
}
