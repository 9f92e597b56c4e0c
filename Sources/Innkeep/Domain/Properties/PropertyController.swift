import Foundation
import Hummingbird
import PostgresNIO

/// `/api/v1/properties` (SPEC §4). Owners see only their own; another agency's property is 404.
struct PropertyController {
    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listProperties, list, inOneStatement: listInOneStatement)
        routes.tenant(API.getProperty, get)
        routes.tenant(API.createProperty, create)
        routes.tenant(API.updateProperty, update)
        routes.tenant(API.deleteProperty, delete)
    }

    static let notFound = APIError(.propertyNotFound)

    /// The parameters of the list: `limit`, `cursor` and `status`.
    struct ListQuery: Sendable {
        let page: PageRequest
        let status: Property.Status?
        let cursor: PageCursor?

        init(_ request: Request) throws {
            var query = FieldReader(query: request)
            page = PageRequest(&query)
            status = query.choice("status", as: Property.Status.self)
            try query.finish()
            cursor = try page.cursor()
        }
    }

    @Sendable func list(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let list = try ListQuery(request)
        let caller = context.caller
        return try await context.read { conn in
            try await PropertyRepository.list(
                conn,
                agency: caller.agencyId,
                owner: caller.ownerScope,
                status: list.status,
                cursor: list.cursor,
                limit: list.page.limit
            ).reply
        }
    }

    /// The same list in one statement (`TenantEntry`); nil sends the request the full way (`list`).
    @Sendable func listInOneStatement(_ call: Call, _ entry: TenantEntry) async throws -> Reply? {
        guard let list = try? ListQuery(call.request) else { return nil }
        return try await entry.run { conn in
            try await PropertyRepository.list(conn, entering: entry, status: list.status, cursor: list.cursor, limit: list.page.limit).reply
        }
    }

    @Sendable func get(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.read { conn in
            guard let p = try await PropertyRepository.find(conn, agency: caller.agencyId, id: id, owner: caller.ownerScope) else {
                throw Self.notFound
            }
            return .json(p)
        }
    }

    /// The fields shared by create and update, validated together.
    struct Fields {
        var name: String?, address: String?, timezone: String?, maxGuests: Int?, minNights: Int?, maxNights: Int?, status: Property.Status?
        var ownerId: UUID??

        init(_ body: inout FieldReader, creating: Bool) {
            name = body.string("name", required: creating, length: 1...200)
            address = body.string("address", length: 0...500)
            timezone = body.string("timezone", length: 1...100)
            if let tz = timezone, TimeZone(identifier: tz) == nil {
                body.fail("timezone", "must be an IANA time zone such as Europe/Lisbon")
                timezone = nil
            }
            maxGuests = body.int("max_guests", required: creating, range: 1...100).map(Int.init)
            minNights = body.int("min_nights", range: 1...365).map(Int.init)
            maxNights = body.int("max_nights", range: 1...365).map(Int.init)
            status = body.choice("status", as: Property.Status.self)
            if body.isNull("owner_id") { ownerId = .some(nil) } else if let id = body.uuid("owner_id") { ownerId = .some(id) }
        }
    }

    /// 422 unless the stay rules that result (sent values over stored ones) keep `max_nights ≥ min_nights`.
    static func checkStayRules(min: Int, max: Int, sent f: Fields) throws {
        guard max < min else { return }
        let sent = [("max_nights", f.maxNights), ("min_nights", f.minNights)].filter { $0.1 != nil }.map(\.0)
        throw APIError.validation(sent.map { FieldIssue($0, "max_nights must be at least min_nights") })
    }

    /// 422 unless `owner_id` names a member of this agency with role owner.
    static func checkOwner(_ ownerId: UUID??, _ conn: PostgresConnection, agency: UUID) async throws {
        guard case .some(.some(let owner)) = ownerId else { return }
        guard try await PropertyRepository.isOwnerMember(conn, agency: agency, userId: owner) else {
            throw APIError.validation("owner_id", "must be a member of this agency with role owner")
        }
    }

    @Sendable func create(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var body = try context.json()
        let f = Fields(&body, creating: true)
        try body.finish()
        let caller = context.caller
        let minNights = f.minNights ?? 1
        let maxNights = f.maxNights ?? 365
        try Self.checkStayRules(min: minNights, max: maxNights, sent: f)
        return try await context.transaction { conn in
            try await Self.checkOwner(f.ownerId, conn, agency: caller.agencyId)
            let p = try await PropertyRepository.insert(
                conn,
                agency: caller.agencyId,
                ownerId: f.ownerId ?? nil,
                name: f.name!,
                address: f.address ?? "",
                timezone: f.timezone ?? "UTC",
                maxGuests: f.maxGuests!,
                minNights: minNights,
                maxNights: maxNights,
                status: f.status ?? .active
            )
            try await AuditLog.record(conn, caller, "property.create", "property", p.id, details: ["name": .string(p.name)])
            return .json(p, status: .created)
        }
    }

    @Sendable func update(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        var body = try context.json()
        let f = Fields(&body, creating: false)
        try body.finish()
        let caller = context.caller
        let sent = body.values.keys.sorted()
        return try await context.transaction { conn in
            // Owner-scoped: with ENFORCE_RBAC=false an owner gets here, and must not change what they cannot see.
            guard var p = try await PropertyRepository.find(conn, agency: caller.agencyId, id: id, owner: caller.ownerScope, forUpdate: true)
            else { throw Self.notFound }
            try await Self.checkOwner(f.ownerId, conn, agency: caller.agencyId)
            let before = p.json
            if let v = f.name { p.name = v }
            if let v = f.address { p.address = v }
            if let v = f.timezone { p.timezone = v }
            if let v = f.maxGuests { p.maxGuests = v }
            if let v = f.minNights { p.minNights = v }
            if let v = f.maxNights { p.maxNights = v }
            try Self.checkStayRules(min: p.minNights, max: p.maxNights, sent: f)
            if let v = f.status { p.status = v }
            if let v = f.ownerId { p.ownerId = v }
            p = try await PropertyRepository.update(conn, p)
            try await AuditLog.record(
                conn,
                caller,
                "property.update",
                "property",
                p.id,
                details: ["changed": .array(sent.filter { before[$0] != nil }.map(JSONValue.string))]
            )
            return .json(p)
        }
    }

    @Sendable func delete(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.transaction { conn in
            guard let p = try await PropertyRepository.find(conn, agency: caller.agencyId, id: id, owner: caller.ownerScope, forUpdate: true)
            else { throw Self.notFound }
            if let booking = try await PropertyRepository.futureBooking(conn, agency: caller.agencyId, id: id) {
                throw APIError(.propertyHasBookings, details: ["booking_id": JSONValue(booking)])
            }
            try await PropertyRepository.delete(conn, agency: caller.agencyId, id: id)
            try await AuditLog.record(conn, caller, "property.delete", "property", id, details: ["name": .string(p.name)])
            return .noContent
        }
    }
}
