import Foundation
import HTTPTypes
import PostgresNIO

@testable import Innkeep

extension APIClient {
    /// `POST /api/v1/blocks` as `token` (the admin's by default).
    func createBlock(
        _ agency: TestAgency,
        property: UUID,
        start: String,
        end: String,
        kind: String = "maintenance",
        token: String? = nil
    ) async throws -> APIResponse {
        try await send(
            .post,
            "/api/v1/blocks",
            token: token ?? agency.admin.token,
            json: [
                "property_id": JSONValue(property), "start_date": .string(start), "end_date": .string(end), "kind": .string(kind),
            ]
        )
    }

    /// An iCal channel connection of the property, made through the API.
    func createConnection(_ agency: TestAgency, property: UUID) async throws -> UUID {
        let r = try await send(
            .post,
            "/api/v1/channel-connections",
            token: agency.admin.token,
            json: [
                "property_id": JSONValue(property), "channel": "airbnb", "external_listing_id": .string(UUID().uuidString),
            ]
        )
        guard let id = r["id"]?.uuid else { throw TestFailure("connection: \(r.raw)") }
        return id
    }

    /// A channel block as sync stores it: written straight to the database under the agency's RLS
    /// scope, since the API never makes one.
    func insertChannelBlock(_ agency: TestAgency, property: UUID, connection: UUID, start: String, end: String) async throws -> UUID {
        try await services.db.transaction(.tenant(agency.id, user: nil)) { conn in
            try await conn.run(
                """
                INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind, channel_connection_id, external_uid)
                VALUES (\(agency.id), \(property), \(start)::date, \(end)::date, 'channel', \(connection), \(UUID().uuidString)) RETURNING id
                """
            ).collect()[0].decode(UUID.self)
        }
    }

    /// The calendar's days as `date → day`.
    func calendarDays(_ agency: TestAgency, property: UUID, from: String, to: String, token: String? = nil) async throws -> [String: JSONValue] {
        let r = try await send(.get, "/api/v1/properties/\(property)/calendar?from=\(from)&to=\(to)", token: token ?? agency.admin.token)
        guard r.status == .ok, let days = r["days"]?.arrayValue else { throw TestFailure("calendar: \(r.raw)") }
        return Dictionary(uniqueKeysWithValues: days.map { ($0["date"]!.stringValue!, $0) })
    }
}

/// The conflicting id a 409 names.
func conflicting(_ r: APIResponse, _ key: String) -> UUID? { r.json["error"]?["details"]?[key]?.uuid }
