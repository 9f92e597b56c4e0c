import Foundation
import PostgresNIO

/// A property's listing on a channel (SPEC §4), gated by the `channel_sync` feature.
public struct ChannelConnection: Sendable {
    public enum Channel: String, CaseIterable, Sendable { case airbnb, booking_com, vrbo, ical }

    static let columns = "id, agency_id, property_id, channel, external_listing_id, ical_url, status, last_synced_at, created_at"

    public let id: UUID, agencyId: UUID, propertyId: UUID, channel: String, externalListingId: String
    public let icalURL: String?, status: String, lastSyncedAt: Date?, createdAt: Date

    init(row: PostgresRow) throws {
        (id, agencyId, propertyId, channel, externalListingId, icalURL, status, lastSyncedAt, createdAt) = try row.decode(
            (UUID, UUID, UUID, String, String, String?, String, Date?, Date).self)
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "property_id": JSONValue(propertyId), "channel": .string(channel),
            "external_listing_id": .string(externalListingId), "ical_url": JSONValue(icalURL), "status": .string(status),
            "last_synced_at": JSONValue(lastSyncedAt), "created_at": JSONValue(createdAt),
        ]
    }
}

/// `/api/v1/channel-connections`: list, create, delete (admin only).
struct ChannelConnectionController {
    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listChannelConnections, list)
        routes.tenant(API.createChannelConnection, create)
        routes.tenant(API.deleteChannelConnection, delete)
    }

    @Sendable func list(_ call: TenantCall) async throws -> Reply {
        var query = FieldReader(query: call.call.query)
        let page = PageRequest(&query)
        let propertyId = query.uuid("property_id")
        try query.finish()
        let cursor = try page.cursor(), agency = call.caller.agencyId
        return try await call.read { conn in
            let rows = try await conn.run("""
                SELECT \(unescaped: ChannelConnection.columns) FROM channel_connections
                WHERE agency_id = \(agency) AND (\(propertyId)::uuid IS NULL OR property_id = \(propertyId))
                  AND (\(cursor?.micros)::int8 IS NULL OR (created_at, id) < (timestamptz 'epoch' + \(cursor?.micros)::int8 * interval '1 microsecond', \(cursor?.id)))
                ORDER BY created_at DESC, id DESC LIMIT \(page.limit + 1)
                """).collect().map(ChannelConnection.init(row:))
            return page.reply(rows.map { ($0.createdAt, $0.id, $0.json) })
        }
    }

    @Sendable func create(_ call: TenantCall) async throws -> Reply {
        var body = try call.call.json()
        let propertyId = body.uuid("property_id", required: true)
        let channel = body.choice("channel", required: true, as: ChannelConnection.Channel.self)
        let listing = body.string("external_listing_id", required: true, length: 1...200)
        let icalURL = body.string("ical_url", length: 1...2000)
        if let url = icalURL, !(url.hasPrefix("https://") || url.hasPrefix("http://")) || URL(string: url)?.host == nil {
            body.fail("ical_url", "must be an http(s) URL")
        }
        if channel == .ical, icalURL == nil, !body.has("ical_url") || body.isNull("ical_url") {
            body.fail("ical_url", "is required for the ical channel")
        }
        try body.finish()
        let caller = call.caller
        do {
            return try await call.transaction { conn in
                guard try await PropertyRepository.find(conn, agency: caller.agencyId, id: propertyId!) != nil else {
                    throw APIError(.propertyNotFound)
                }
                let c = try await conn.run("""
                    INSERT INTO channel_connections (agency_id, property_id, channel, external_listing_id, ical_url)
                    VALUES (\(caller.agencyId), \(propertyId!), \(channel!.rawValue), \(listing!), \(icalURL))
                    RETURNING \(unescaped: ChannelConnection.columns)
                    """).collect().map(ChannelConnection.init(row:))[0]
                try await AuditLog.record(conn, caller, "channel_connection.create", "channel_connection", c.id,
                                          details: ["channel": .string(c.channel), "property_id": JSONValue(c.propertyId)])
                return .json(c.json, status: .created)
            }
        } catch where isPostgresError(error, state: "23505") {
            throw APIError(.channelConnectionExists)
        }
    }

    @Sendable func delete(_ call: TenantCall) async throws -> Reply {
        let id = try call.call.pathId(), caller = call.caller
        return try await call.transaction { conn in
            let deleted = try await conn.run("""
                DELETE FROM channel_connections WHERE agency_id = \(caller.agencyId) AND id = \(id) RETURNING channel
                """).collect()
            guard let channel = try deleted.first?.decode(String.self) else { throw APIError(.channelConnectionNotFound) }
            try await AuditLog.record(conn, caller, "channel_connection.delete", "channel_connection", id, details: ["channel": .string(channel)])
            return .noContent
        }
    }
}
