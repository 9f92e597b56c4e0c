import Foundation
import Hummingbird
import PostgresNIO

/// `GET /api/v1/audit-log` with filters `action`, `resource_type`, `resource_id`.
struct AuditLogController {
    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.auditLog) { request, context in
            var query = FieldReader(query: request)
            let page = PageRequest(&query)
            let action = query.string("action", length: 1...100)
            let resourceType = query.string("resource_type", length: 1...100)
            let resourceId = query.uuid("resource_id")
            try query.finish()
            let cursor = try page.cursor()
            let agency = context.caller.agencyId
            return try await context.read { conn in
                let rows = try await conn.run("""
                    SELECT id, user_id, action, resource_type, resource_id, details::text, created_at FROM audit_log
                    WHERE agency_id = \(agency)
                      AND (\(action)::text IS NULL OR action = \(action))
                      AND (\(resourceType)::text IS NULL OR resource_type = \(resourceType))
                      AND (\(resourceId)::uuid IS NULL OR resource_id = \(resourceId))
                      AND \(after: cursor)
                    ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)
                    """).collect()
                let items = try rows.map { row -> (Date, UUID, JSONValue) in
                    let (id, user, action, type, resource, details, created) = try row.decode(
                        (UUID, UUID?, String, String?, UUID?, String?, Date).self)
                    let json: JSONValue = [
                        "id": JSONValue(id), "agency_id": JSONValue(agency), "user_id": JSONValue(user), "action": .string(action),
                        "resource_type": JSONValue(type), "resource_id": JSONValue(resource),
                        "details": details.flatMap { JSONValue.parse(Array($0.utf8)) } ?? .null, "created_at": JSONValue(created),
                    ]
                    return (created, id, json)
                }
                return page.reply(items)
            }
        }
    }
}
