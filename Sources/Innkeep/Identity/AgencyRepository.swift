import Foundation
import PostgresNIO

/// Agencies are created with their first admin, in one transaction scoped to the new agency.
enum AgencyRepository {
    @discardableResult
    static func create(_ conn: PostgresConnection, id: UUID, name: String, admin: UUID) async throws -> JSONValue {
        let created = try await conn.run("INSERT INTO agencies (id, name) VALUES (\(id), \(name)) RETURNING created_at")
            .collect()[0].decode(Date.self)
        let memberId = try await conn.run("INSERT INTO team_members (agency_id, user_id, role) VALUES (\(id), \(admin), 'admin') RETURNING id")
            .collect()[0].decode(UUID.self)
        try await AuditLog.record(
            conn,
            agency: id,
            user: admin,
            action: "member.add",
            resourceType: "team_member",
            resourceId: memberId,
            details: ["user_id": JSONValue(admin), "role": "admin"]
        )
        return ["id": JSONValue(id), "name": .string(name), "created_at": JSONValue(created)]
    }

    static func exists(_ conn: PostgresConnection, id: UUID) async throws -> Bool {
        try await !conn.run("SELECT 1 FROM agencies WHERE id = \(id)").collect().isEmpty
    }
}
