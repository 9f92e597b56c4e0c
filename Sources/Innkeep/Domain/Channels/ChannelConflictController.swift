import Foundation
import Hummingbird

/// `GET /api/v1/channel-conflicts?status=&property_id=` (admin, manager), newest first.
struct ChannelConflictController {
    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listChannelConflicts) { request, context in
            var query = FieldReader(query: request)
            let page = PageRequest(&query)
            let status = query.choice("status", as: ChannelConflict.Status.self)
            let propertyId = query.uuid("property_id")
            try query.finish()
            let cursor = try page.cursor()
            let agency = context.caller.agencyId
            return try await context.read { conn in
                let rows = try await ChannelConflicts.list(
                    conn,
                    agency: agency,
                    status: status,
                    propertyId: propertyId,
                    cursor: cursor,
                    limit: page.limit + 1
                )
                return page.reply(rows.map { ($0.detectedAt, $0.id, $0.json) })
            }
        }
    }
}
