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
                let entries = try await AuditLog.list(
                    conn,
                    agency: agency,
                    action: action,
                    resourceType: resourceType,
                    resourceId: resourceId,
                    cursor: cursor,
                    limit: page.limit + 1
                )
                return page.reply(entries.map { ($0.createdAt, $0.id, $0.json) })
            }
        }
    }
}
