import Foundation
import HTTPTypes
import PostgresNIO

@testable import Innkeep

/// Reads the audit-log, idempotency and feature tests share: every audit entry, a property's bookings, an
/// entitlement change, the idempotency row of a key.
extension APIClient {
    /// Every audit entry matching `query` (walked with the largest page).
    func auditEntries(_ agency: TestAgency, _ query: String = "", token: String? = nil) async throws -> [JSONValue] {
        var all: [JSONValue] = []
        var cursor: String?
        repeat {
            var path = "/api/v1/audit-log?limit=200" + (query.isEmpty ? "" : "&\(query)")
            if let cursor { path += "&cursor=\(cursor)" }
            let r = try await send(.get, path, token: token ?? agency.admin.token)
            guard r.status == .ok else { throw TestFailure("audit-log: \(r.status) \(r.raw)") }
            all += r.data
            cursor = r["next_cursor"]?.stringValue
        } while cursor != nil
        return all
    }

    /// The bookings of one property, all statuses.
    func bookings(_ agency: TestAgency, property: UUID) async throws -> [JSONValue] {
        let r = try await send(.get, "/api/v1/bookings?limit=200&property_id=\(property.uuidString.lowercased())", token: agency.admin.token)
        guard r.status == .ok else { throw TestFailure("bookings: \(r.raw)") }
        return r.data
    }

    func setFeature(_ agency: UUID, _ name: String, _ body: JSONValue, headers: HTTPFields = Fixtures.ops) async throws -> APIResponse {
        try await send(.put, "/ops/agencies/\(agency.uuidString.lowercased())/features/\(name)", json: body, headers: headers)
    }

    /// The agency's idempotency_keys row for `key`, read as the runtime role inside the agency.
    /// The key's row; keys are per user (SPEC §7), so `user` picks one when several members used the same key.
    func idempotencyRow(_ agency: UUID, _ key: String, user: UUID? = nil) async throws -> (status: Int?, expired: Bool)? {
        try await services.db.transaction(.tenant(agency, user: nil)) { conn in
            try await conn.run(
                """
                SELECT response_status, expires_at < now() FROM idempotency_keys
                WHERE agency_id = \(agency) AND key = \(key) AND (\(user)::uuid IS NULL OR user_id = \(user))
                """
            )
            .collect().first.map { row in
                let (status, expired) = try row.decode((Int?, Bool).self)
                return (status, expired)
            }
        }
    }
}
