import Foundation
import PostgresNIO

/// Channel connection queries; every tenant method filters by agency.
public enum ChannelConnectionRepository {
    public struct New: Sendable {
        var propertyId: UUID, channel: ChannelConnection.Channel, externalListingId: String, icalURL: String?, syncIntervalMinutes: Int
    }

    public static func find(_ conn: PostgresConnection, agency: UUID, id: UUID, forUpdate: Bool = false) async throws -> ChannelConnection? {
        try await conn.run(
            """
            SELECT \(unescaped: ChannelConnection.columns) FROM channel_connections WHERE agency_id = \(agency) AND id = \(id)
            \(unescaped: forUpdate ? "FOR UPDATE" : "")
            """
        ).collect().first.map(ChannelConnection.init(row:))
    }

    public static func list(
        _ conn: PostgresConnection,
        agency: UUID,
        propertyId: UUID?,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> [ChannelConnection] {
        try await conn.run(
            """
            SELECT \(unescaped: ChannelConnection.columns) FROM channel_connections
            WHERE agency_id = \(agency) AND (\(propertyId)::uuid IS NULL OR property_id = \(propertyId)) AND \(after: cursor)
            ORDER BY created_at DESC, id DESC LIMIT \(limit)
            """
        ).collect().map(ChannelConnection.init(row:))
    }

    public static func insert(_ conn: PostgresConnection, agency: UUID, _ n: New) async throws -> ChannelConnection {
        try await conn.run(
            """
            INSERT INTO channel_connections (agency_id, property_id, channel, external_listing_id, ical_url, sync_interval_minutes)
            VALUES (\(agency), \(n.propertyId), \(n.channel.rawValue), \(n.externalListingId), \(n.icalURL), \(n.syncIntervalMinutes))
            RETURNING \(unescaped: ChannelConnection.columns)
            """
        ).collect().map(ChannelConnection.init(row:))[0]
    }

    /// Saves the settable fields; a changed `ical_url` forgets the old feed's validators and syncs soon.
    public static func update(_ conn: PostgresConnection, _ c: ChannelConnection, icalChanged: Bool) async throws -> ChannelConnection {
        try await conn.run(
            """
            UPDATE channel_connections SET ical_url = \(c.icalURL), sync_interval_minutes = \(c.syncIntervalMinutes), status = \(c.status.rawValue),
                   feed_etag = CASE WHEN \(icalChanged) THEN NULL ELSE feed_etag END,
                   feed_last_modified = CASE WHEN \(icalChanged) THEN NULL ELSE feed_last_modified END,
                   next_sync_at = CASE WHEN \(icalChanged) THEN now() ELSE next_sync_at END
            WHERE agency_id = \(c.agencyId) AND id = \(c.id)
            RETURNING \(unescaped: ChannelConnection.columns)
            """
        ).collect().map(ChannelConnection.init(row:))[0]
    }

    /// Deletes it (its channel blocks and conflicts go with it); the property it belonged to, if it existed.
    public static func delete(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> (channel: String, propertyId: UUID)? {
        try await conn.run(
            """
            DELETE FROM channel_connections WHERE agency_id = \(agency) AND id = \(id) RETURNING channel, property_id
            """
        ).collect().first?.decode((String, UUID).self)
    }

    /// Asks the worker to sync it now (within its poll interval).
    public static func requestSync(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws {
        try await conn.run("UPDATE channel_connections SET next_sync_at = now() WHERE agency_id = \(agency) AND id = \(id)")
    }

    /// A new secret: the old feed URL stops answering at once.
    public static func rotateExportToken(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws -> ChannelConnection? {
        try await conn.run(
            """
            UPDATE channel_connections SET export_token = new_export_token() WHERE agency_id = \(agency) AND id = \(id)
            RETURNING \(unescaped: ChannelConnection.columns)
            """
        ).collect().first.map(ChannelConnection.init(row:))
    }

    /// Claims up to `limit` due connections for one worker (`FOR UPDATE SKIP LOCKED` and a lease), so
    /// one connection syncs in one place at a time however many workers run. The next regular sync is
    /// scheduled at claim time, so a sync requested meanwhile still runs once this one ends.
    static func claimDueSyncs(_ conn: PostgresConnection, limit: Int, leaseSeconds: Int, onlyAgency: UUID?) async throws -> [ChannelSync.Claim] {
        try await conn.run(
            """
            UPDATE channel_connections c
            SET sync_locked_until = now() + make_interval(secs => \(leaseSeconds)),
                next_sync_at = now() + make_interval(mins => c.sync_interval_minutes)
            FROM (SELECT agency_id, id FROM channel_connections
                  WHERE status = 'active' AND ical_url IS NOT NULL AND next_sync_at <= now()
                    AND (sync_locked_until IS NULL OR sync_locked_until < now())
                    AND (\(onlyAgency)::uuid IS NULL OR agency_id = \(onlyAgency))
                  ORDER BY next_sync_at FOR UPDATE SKIP LOCKED LIMIT \(limit)) due
            WHERE c.agency_id = due.agency_id AND c.id = due.id
            RETURNING c.agency_id, c.id, c.ical_url, c.feed_etag, c.feed_last_modified
            """
        ).collect().map { row in
            let (agency, id, url, etag, modified) = try row.decode((UUID, UUID, String, String?, String?).self)
            return ChannelSync.Claim(agencyId: agency, connectionId: id, icalURL: url, etag: etag, lastModified: modified)
        }
    }

    /// A sync that mirrored a fetched feed: what it imported and the feed's validators; the lease is released.
    static func recordSync(
        _ conn: PostgresConnection,
        agency: UUID,
        id: UUID,
        importedEvents: Int,
        etag: String?,
        lastModified: String?
    )
        async throws
    {
        try await conn.run(
            """
            UPDATE channel_connections SET last_synced_at = now(), last_sync_status = 'ok', last_error = NULL,
                   imported_events = \(importedEvents), feed_etag = \(etag), feed_last_modified = \(lastModified), sync_locked_until = NULL
            WHERE agency_id = \(agency) AND id = \(id)
            """
        )
    }

    /// A 304: the feed is as it was; the sync counts as done and the lease is released.
    static func recordUnchanged(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws {
        try await conn.run(
            """
            UPDATE channel_connections SET last_synced_at = now(), last_sync_status = 'ok', last_error = NULL, sync_locked_until = NULL
            WHERE agency_id = \(agency) AND id = \(id)
            """
        )
    }

    /// A failed sync releases the lease and says why; returns the connection as it now is.
    static func recordSyncFailure(_ conn: PostgresConnection, agency: UUID, id: UUID, reason: String) async throws -> ChannelConnection {
        try await conn.run(
            """
            UPDATE channel_connections SET last_sync_status = 'error', last_error = \(reason), sync_locked_until = NULL
            WHERE agency_id = \(agency) AND id = \(id)
            RETURNING \(unescaped: ChannelConnection.columns)
            """
        ).collect().map(ChannelConnection.init(row:))[0]
    }
}
