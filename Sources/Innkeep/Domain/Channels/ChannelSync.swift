import Foundation
import PostgresNIO

/// Applies an import to the database (SPEC §12): the feed is the truth for its connection. After a
/// successful sync the connection's current channel blocks are exactly the feed's events, matched by
/// UID (a moved event keeps its block id); the same feed twice changes nothing; a failed fetch changes
/// nothing but the connection's `last_sync_status`/`last_error`.
public enum ChannelSync {
    /// A connection the worker claimed, with what the fetch needs.
    public struct Claim: Sendable {
        public let agencyId: UUID, connectionId: UUID, icalURL: String, etag: String?, lastModified: String?
    }

    /// What one sync changed.
    public struct Changes: Sendable, Equatable {
        public var added = 0, moved = 0, removed = 0, skipped = 0, events = 0
    }

    /// How an apply ended: mirrored, refused (the body is not a calendar), or moot (the connection was
    /// deleted, paused or given another URL since the claim).
    public enum Outcome: Sendable, Equatable {
        case synced(Changes)
        case failed(String)
        case moot
    }

    /// Claims up to `limit` due connections for this worker (`FOR UPDATE SKIP LOCKED` and a lease), so
    /// one connection syncs in one place at a time however many workers run. The next regular sync is
    /// scheduled at claim time, so a sync requested meanwhile still runs once this one ends.
    public static func claimDue(_ conn: PostgresConnection, limit: Int, leaseSeconds: Int, onlyAgency: UUID?) async throws -> [Claim] {
        try await conn.run("""
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
            """).collect().map { row in
            let (agency, id, url, etag, modified) = try row.decode((UUID, UUID, String, String?, String?).self)
            return Claim(agencyId: agency, connectionId: id, icalURL: url, etag: etag, lastModified: modified)
        }
    }

    /// The connection, locked, with its property's time zone; nil when it was deleted, paused or its URL
    /// changed since the claim (that import no longer speaks for it).
    static func lock(_ conn: PostgresConnection, _ claim: Claim) async throws -> (ChannelConnection, TimeZone)? {
        guard let c = try await ChannelConnectionRepository.find(conn, agency: claim.agencyId, id: claim.connectionId, forUpdate: true),
              c.status == .active, c.icalURL == claim.icalURL else { return nil }
        let zone = try await conn.run("SELECT timezone FROM properties WHERE agency_id = \(c.agencyId) AND id = \(c.propertyId)")
            .collect().first?.decode(String.self)
        return (c, zone.flatMap(TimeZone.init(identifier:)) ?? .gmt)
    }

    /// Mirrors a fetched body into the connection's channel blocks; a body that is not a calendar is a
    /// failure and changes no block.
    public static func apply(_ conn: PostgresConnection, _ claim: Claim, body: String, etag: String?, lastModified: String?,
                             baseURL: String) async throws -> Outcome {
        guard let (connection, zone) = try await lock(conn, claim) else { return .moot }
        let today = CalendarDate.today(in: zone)
        let feed: ICalParser.Feed
        do { feed = try ICalParser.parse(body, timeZone: zone, today: today) } catch {
            try await fail(conn, connection, reason: error.description, baseURL: baseURL)
            return .failed(error.description)
        }
        var changes = Changes(skipped: feed.skipped, events: feed.events.count)
        let agency = connection.agencyId
        // Only current blocks are mirrored: a stay that has ended stays on record.
        let existing = try await conn.run("""
            SELECT id, external_uid, start_date::text, end_date::text FROM blocks
            WHERE agency_id = \(agency) AND channel_connection_id = \(connection.id) AND end_date > \(today.description)::date
            """).collect().map { row in try row.decode((UUID, String, String, String).self) }
        var incoming = Dictionary(feed.events.map { ($0.uid, $0) }, uniquingKeysWith: { first, _ in first })
        var gone: [(id: UUID, nights: String)] = []
        for (id, uid, start, end) in existing {
            guard let event = incoming.removeValue(forKey: uid) else { gone.append((id, "\(start)/\(end)")); continue }
            if event.nights.start.description != start || event.nights.end.description != end {
                try await move(conn, agency: agency, block: id, to: event)
                changes.moved += 1
            }
        }
        // Feeds whose UIDs change between fetches (Airbnb's "Not available" windows) keep their blocks
        // when the nights are the same: no new ids, no events, for an unchanged calendar.
        for event in incoming.values.sorted(by: { $0.uid < $1.uid }) {
            if let i = gone.firstIndex(where: { $0.nights == "\(event.nights.start)/\(event.nights.end)" }) {
                try await move(conn, agency: agency, block: gone.remove(at: i).id, to: event)
                continue
            }
            let block = try await conn.run("""
                WITH k AS (
                    INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind, channel_connection_id, external_uid)
                    VALUES (\(agency), \(connection.propertyId), \(event.nights.start.description)::date, \(event.nights.end.description)::date,
                            'channel', \(connection.id), \(event.uid))
                    RETURNING *)
                SELECT \(unescaped: Block.columns) FROM k
                """).collect().map(Block.init(row:))[0]
            try await Outbox.emit(conn, agency: agency, type: .blockCreated, data: block.json)
            changes.added += 1
        }
        for (id, _) in gone {
            if let block = try await BlockRepository.find(conn, agency: agency, id: id) {
                try await BlockRepository.delete(conn, agency: agency, id: id)
                try await Outbox.emit(conn, agency: agency, type: .blockDeleted, data: block.json)
                changes.removed += 1
            }
        }
        try await conn.run("""
            UPDATE channel_connections SET last_synced_at = now(), last_sync_status = 'ok', last_error = NULL,
                   imported_events = \(feed.events.count), feed_etag = \(etag), feed_last_modified = \(lastModified), sync_locked_until = NULL
            WHERE agency_id = \(agency) AND id = \(connection.id)
            """)
        try await ChannelConflicts.reconcile(conn, agency: agency, propertyId: connection.propertyId, user: nil)
        return .synced(changes)
    }

    static func move(_ conn: PostgresConnection, agency: UUID, block: UUID, to event: ImportedEvent) async throws {
        try await conn.run("""
            UPDATE blocks SET start_date = \(event.nights.start.description)::date, end_date = \(event.nights.end.description)::date,
                   external_uid = \(event.uid)
            WHERE agency_id = \(agency) AND id = \(block)
            """)
    }

    /// A 304: the calendar is as it was; the sync still counts as done.
    public static func unchanged(_ conn: PostgresConnection, _ claim: Claim) async throws {
        guard let (connection, _) = try await lock(conn, claim) else { return }
        try await conn.run("""
            UPDATE channel_connections SET last_synced_at = now(), last_sync_status = 'ok', last_error = NULL, sync_locked_until = NULL
            WHERE agency_id = \(connection.agencyId) AND id = \(connection.id)
            """)
    }

    /// A failed fetch: every block stays as it was; the connection says why, and the change from a
    /// working sync to a failing one is an event.
    public static func failed(_ conn: PostgresConnection, _ claim: Claim, reason: String, baseURL: String) async throws {
        guard let (connection, _) = try await lock(conn, claim) else { return }
        try await fail(conn, connection, reason: reason, baseURL: baseURL)
    }

    static func fail(_ conn: PostgresConnection, _ connection: ChannelConnection, reason: String, baseURL: String) async throws {
        let updated = try await conn.run("""
            UPDATE channel_connections SET last_sync_status = 'error', last_error = \(String(reason.prefix(1000))), sync_locked_until = NULL
            WHERE agency_id = \(connection.agencyId) AND id = \(connection.id)
            RETURNING \(unescaped: ChannelConnection.columns)
            """).collect().map(ChannelConnection.init(row:))[0]
        if connection.lastSyncStatus != .error {
            try await Outbox.emit(conn, agency: connection.agencyId, type: .channelConnectionSyncFailed, data: updated.json(baseURL: baseURL))
        }
    }
}
