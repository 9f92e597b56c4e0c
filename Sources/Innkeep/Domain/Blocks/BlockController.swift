import Foundation
import Hummingbird
import PostgresNIO

/// `/api/v1/blocks` (SPEC §11): nights closed for an owner's stay, maintenance or a hold. A block and
/// a confirmed booking never share a night: the database's `occupancy_no_overlap` constraint refuses
/// the second of two racing requests (migration 0009).
struct BlockController {
    static let maxNights = 730
    /// The kinds people may create; `channel` blocks are made by sync only.
    static let manualKinds: [Block.Kind] = Block.Kind.allCases.filter { $0 != .channel }
    /// Owners may only close their own properties for their own stays.
    static let rolesForOtherKinds: [Role] = [.admin, .manager]

    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listBlocks, list)
        routes.tenant(API.getBlock, get)
        routes.tenant(API.createBlock, create)
        routes.tenant(API.deleteBlock, delete)
    }

    static let notFound = APIError(.blockNotFound)

    @Sendable func list(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var query = FieldReader(query: request)
        let page = PageRequest(&query)
        let filter = BlockRepository.Filter(
            propertyId: query.uuid("property_id"),
            kind: query.choice("kind", as: Block.Kind.self),
            from: query.date("from"),
            to: query.date("to")
        )
        if let from = filter.from, let to = filter.to, to <= from { query.fail("to", "must be after from") }
        try query.finish()
        let cursor = try page.cursor()
        let caller = context.caller
        return try await context.read { conn in
            let rows = try await BlockRepository.list(
                conn,
                agency: caller.agencyId,
                owner: caller.ownerScope,
                filter: filter,
                cursor: cursor,
                limit: page.limit + 1
            )
            return page.reply(rows.map { ($0.createdAt, $0.id, $0.json) })
        }
    }

    @Sendable func get(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.read { conn in
            guard let block = try await BlockRepository.find(conn, agency: caller.agencyId, id: id, owner: caller.ownerScope) else {
                throw Self.notFound
            }
            return .json(block.json)
        }
    }

    /// Reads and validates a new block, reporting every bad field at once.
    static func readNew(_ body: inout FieldReader) throws -> BlockRepository.New {
        let propertyId = body.uuid("property_id", required: true)
        let start = body.date("start_date", required: true)
        let end = body.date("end_date", required: true)
        var kind = body.choice("kind", required: true, as: Block.Kind.self)
        if kind == .channel {
            body.fail("kind", "must be one of \(manualKinds.map(\.rawValue).joined(separator: ", ")) (channel blocks are made by sync)")
            kind = nil
        }
        let note = body.string("note", length: 0...1000)
        if let start, let end {
            if end <= start {
                body.fail("end_date", "must be after start_date")
            } else if end - start > maxNights {
                body.fail("end_date", "a block is at most \(maxNights) nights")
            }
        }
        try body.finish()
        return .init(propertyId: propertyId!, nights: Nights(start!, end!), kind: kind!, note: note)
    }

    /// Owners may handle `owner_stay` blocks only; other kinds answer 403 as any role denial does.
    static func checkKind(_ kind: Block.Kind, _ context: TenantRequestContext, _ endpoint: Endpoint) throws {
        guard context.caller.role == .owner, kind != .ownerStay else { return }
        try RouteBuilder.authorize(context.caller, endpoint, allowed: rolesForOtherKinds, services: context.services, logger: context.logger)
    }

    @Sendable func create(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var body = try context.json()
        let new = try Self.readNew(&body)
        try Self.checkKind(new.kind, context, API.createBlock)
        let caller = context.caller
        do {
            return try await context.transaction { conn in
                let target = try await PropertyRepository.findWithFirstHolder(
                    conn,
                    agency: caller.agencyId,
                    id: new.propertyId,
                    owner: caller.ownerScope,
                    nights: new.nights
                )
                guard let (_, holder, _) = target else { throw APIError(.propertyNotFound) }
                if let holder { throw Self.conflict(holder) }
                let block = try await BlockRepository.insert(conn, agency: caller.agencyId, createdBy: caller.userId, new)
                let audit = AuditLog.Entry(
                    caller,
                    "block.create",
                    "block",
                    block.id,
                    details: [
                        "property_id": JSONValue(block.propertyId), "kind": .string(block.kind.rawValue),
                        "start_date": .string(block.nights.start.description), "end_date": .string(block.nights.end.description),
                    ]
                )
                try await Outbox.emit(conn, agency: caller.agencyId, type: .blockCreated, data: block.json, recording: audit)
                return .json(block.json, status: .created)
            }
        } catch  where isPostgresError(error, state: SQLState.exclusionViolation) {
            // Lost a race with a concurrent booking or block: the constraint held; name the winner.
            let holder = try await context.read { conn in
                try await CalendarRepository.firstHolder(conn, agency: caller.agencyId, propertyId: new.propertyId, nights: new.nights)
            }
            throw Self.conflict(holder)
        } catch  where isPostgresError(error, state: SQLState.foreignKeyViolation) {
            throw APIError(.propertyNotFound)  // the property was deleted meanwhile
        }
    }

    static func conflict(_ holder: CalendarEntry?) -> APIError {
        APIError(.blockConflict, "The block overlaps a confirmed booking or another block of this property.", details: holder?.conflictDetails)
    }

    @Sendable func delete(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.transaction { conn in
            guard let block = try await BlockRepository.find(conn, agency: caller.agencyId, id: id, owner: caller.ownerScope, forUpdate: true) else {
                throw Self.notFound
            }
            try Self.checkKind(block.kind, context, API.deleteBlock)
            guard block.kind != .channel else { throw APIError(.blockManagedByChannel) }
            try await BlockRepository.delete(conn, agency: caller.agencyId, id: id)
            let audit = AuditLog.Entry(
                caller,
                "block.delete",
                "block",
                id,
                details: ["property_id": JSONValue(block.propertyId), "kind": .string(block.kind.rawValue)]
            )
            try await Outbox.emit(conn, agency: caller.agencyId, type: .blockDeleted, data: block.json, recording: audit)
            try await ChannelConflicts.reconcile(conn, agency: caller.agencyId, propertyId: block.propertyId, user: caller.userId)
            return .noContent
        }
    }
}
