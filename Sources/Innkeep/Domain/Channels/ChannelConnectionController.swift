import Foundation
import Hummingbird
import PostgresNIO

/// `/api/v1/channel-connections` (SPEC §4, §12), admin only: list, create, read, change, delete, sync
/// now, rotate the export token.
struct ChannelConnectionController {
    static let intervals: ClosedRange<Int64> = 5...1440

    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listChannelConnections, list)
        routes.tenant(API.createChannelConnection, create, awaitsNetwork: true)
        routes.tenant(API.getChannelConnection, get)
        routes.tenant(API.updateChannelConnection, update, awaitsNetwork: true)
        routes.tenant(API.deleteChannelConnection, delete)
        routes.tenant(API.syncChannelConnection, sync)
        routes.tenant(API.rotateExportToken, rotate)
    }

    static let notFound = APIError(.channelConnectionNotFound)

    @Sendable func list(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var query = FieldReader(query: request)
        let page = PageRequest(&query)
        let propertyId = query.uuid("property_id")
        try query.finish()
        let cursor = try page.cursor()
        let agency = context.caller.agencyId
        let base = context.services.config.publicBaseURL
        return try await context.read { conn in
            let rows = try await ChannelConnectionRepository.list(conn, agency: agency, propertyId: propertyId, cursor: cursor, limit: page.limit + 1)
            return page.reply(rows.map { ($0.createdAt, $0.id, $0.json(baseURL: base)) })
        }
    }

    /// `ical_url`, checked by the outbound URL rule (SPEC §12): http(s), and a public destination
    /// unless ALLOW_PRIVATE_URLS; a problem is a field issue. A host that does not resolve (yet) is
    /// accepted: the rule is about where a URL leads, and each fetch checks it again.
    static func readICalURL(_ body: inout FieldReader, services: AppServices) async -> String? {
        guard let url = body.string("ical_url", length: 1...2000) else { return nil }
        do {
            _ = try await OutboundURLPolicy.icalFeeds(allowPrivate: services.config.allowPrivateURLs)
                .check(url, lookUpLimit: OutboundURLPolicy.saveLookUpLimit)
        } catch .unresolvable, .slowLookup {
            // A name that does not resolve now (or not yet) may tomorrow; every fetch checks again and says why it failed.
        } catch {
            body.fail("ical_url", error.description)
            return nil
        }
        return url
    }

    @Sendable func create(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var body = try context.json()
        let propertyId = body.uuid("property_id", required: true)
        let channel = body.choice("channel", required: true, as: ChannelConnection.Channel.self)
        let listing = body.string("external_listing_id", required: true, length: 1...200)
        let interval = body.int("sync_interval_minutes", range: Self.intervals)
        let icalURL = await Self.readICalURL(&body, services: context.services)
        if channel == .ical, icalURL == nil, !body.has("ical_url") || body.isNull("ical_url") {
            body.fail("ical_url", "is required for the ical channel")
        }
        try body.finish()
        let caller = context.caller
        let base = context.services.config.publicBaseURL
        let new = ChannelConnectionRepository.New(
            propertyId: propertyId!,
            channel: channel!,
            externalListingId: listing!,
            icalURL: icalURL,
            syncIntervalMinutes: Int(interval ?? 30)
        )
        do {
            return try await context.transaction { conn in
                guard try await PropertyRepository.find(conn, agency: caller.agencyId, id: new.propertyId) != nil else {
                    throw APIError(.propertyNotFound)
                }
                let c = try await ChannelConnectionRepository.insert(conn, agency: caller.agencyId, new)
                try await AuditLog.record(
                    conn,
                    caller,
                    "channel_connection.create",
                    "channel_connection",
                    c.id,
                    details: ["channel": .string(c.channel.rawValue), "property_id": JSONValue(c.propertyId)]
                )
                return .json(c.json(baseURL: base), status: .created)
            }
        } catch  where isPostgresError(error, state: SQLState.uniqueViolation) {
            throw APIError(.channelConnectionExists)
        }
    }

    @Sendable func get(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let agency = context.caller.agencyId
        let base = context.services.config.publicBaseURL
        return try await context.read { conn in
            guard let c = try await ChannelConnectionRepository.find(conn, agency: agency, id: id) else { throw Self.notFound }
            return .json(c.json(baseURL: base))
        }
    }

    /// PATCH `ical_url` (null clears it, except on the ical channel), `sync_interval_minutes`, `status`.
    @Sendable func update(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        var body = try context.json()
        let icalURL = await Self.readICalURL(&body, services: context.services)
        let clearsURL = body.isNull("ical_url")
        let interval = body.int("sync_interval_minutes", range: Self.intervals)
        let status = body.choice("status", as: ChannelConnection.SettableStatus.self)
        try body.finish()
        let caller = context.caller
        let base = context.services.config.publicBaseURL
        let sent = body.values.keys.sorted()
        return try await context.transaction { conn in
            guard var c = try await ChannelConnectionRepository.find(conn, agency: caller.agencyId, id: id, forUpdate: true) else {
                throw Self.notFound
            }
            if clearsURL, c.channel == .ical { throw APIError.validation("ical_url", "is required for the ical channel") }
            let before = c.icalURL
            if let icalURL { c.icalURL = icalURL } else if clearsURL { c.icalURL = nil }
            if let interval { c.syncIntervalMinutes = Int(interval) }
            if let status { c.status = ChannelConnection.Status(rawValue: status.rawValue)! }
            c = try await ChannelConnectionRepository.update(conn, c, icalChanged: c.icalURL != before)
            try await AuditLog.record(
                conn,
                caller,
                "channel_connection.update",
                "channel_connection",
                c.id,
                details: [
                    "changed": .array(sent.filter { ["ical_url", "sync_interval_minutes", "status"].contains($0) }.map(JSONValue.string))
                ]
            )
            return .json(c.json(baseURL: base))
        }
    }

    @Sendable func delete(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.transaction { conn in
            guard let deleted = try await ChannelConnectionRepository.delete(conn, agency: caller.agencyId, id: id) else { throw Self.notFound }
            // Its blocks are gone: conflicts other connections had with them are over.
            try await ChannelConflicts.reconcile(conn, agency: caller.agencyId, propertyId: deleted.propertyId, user: caller.userId)
            try await AuditLog.record(
                conn,
                caller,
                "channel_connection.delete",
                "channel_connection",
                id,
                details: ["channel": .string(deleted.channel)]
            )
            return .noContent
        }
    }

    /// 202: the worker syncs it within its poll interval (SPEC §12: within 5 seconds).
    @Sendable func sync(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let agency = context.caller.agencyId
        let base = context.services.config.publicBaseURL
        return try await context.transaction { conn in
            guard let c = try await ChannelConnectionRepository.find(conn, agency: agency, id: id, forUpdate: true) else { throw Self.notFound }
            guard c.status != .paused else { throw APIError(.channelConnectionPaused) }
            guard c.icalURL != nil else { throw APIError.validation("ical_url", "the connection has no ical_url to import") }
            try await ChannelConnectionRepository.requestSync(conn, agency: agency, id: id)
            return .json(c.json(baseURL: base), status: .accepted)
        }
    }

    @Sendable func rotate(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        let base = context.services.config.publicBaseURL
        return try await context.transaction { conn in
            guard let c = try await ChannelConnectionRepository.rotateExportToken(conn, agency: caller.agencyId, id: id) else { throw Self.notFound }
            try await AuditLog.record(conn, caller, "channel_connection.update", "channel_connection", id, details: ["changed": ["export_url"]])
            return .json(c.json(baseURL: base))
        }
    }
}

extension OutboundURLPolicy {
    /// iCal feeds: http or https, public destinations unless ALLOW_PRIVATE_URLS (SPEC §12).
    static func icalFeeds(allowPrivate: Bool) -> OutboundURLPolicy { OutboundURLPolicy(schemes: ["http", "https"], allowPrivate: allowPrivate) }
}
