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
        try await ChannelConnectionRepository.claimDueSyncs(conn, limit: limit, leaseSeconds: leaseSeconds, onlyAgency: onlyAgency)
    }

    /// The connection, locked, with its property's time zone; nil when it was deleted, paused or its URL
    /// changed since the claim (that import no longer speaks for it).
    static func lock(_ conn: PostgresConnection, _ claim: Claim) async throws -> (ChannelConnection, TimeZone)? {
        guard let c = try await ChannelConnectionRepository.find(conn, agency: claim.agencyId, id: claim.connectionId, forUpdate: true),
            c.status == .active, c.icalURL == claim.icalURL
        else { return nil }
        let zone = try await PropertyRepository.timezone(conn, agency: c.agencyId, id: c.propertyId)
        return (c, zone.flatMap(TimeZone.init(identifier:)) ?? .gmt)
    }

    /// Mirrors a fetched body into the connection's channel blocks; a body that is not a calendar is a
    /// failure and changes no block.
    public static func apply(
        _ conn: PostgresConnection,
        _ claim: Claim,
        body: String,
        etag: String?,
        lastModified: String?,
        baseURL: String
    ) async throws -> Outcome {
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
        let existing = try await BlockRepository.currentChannelBlocks(conn, agency: agency, connection: connection.id, today: today)
        var incoming = Dictionary(feed.events.map { ($0.uid, $0) }, uniquingKeysWith: { first, _ in first })
        var gone: [(id: UUID, nights: Nights)] = []
        for (id, uid, nights) in existing {
            guard let event = incoming.removeValue(forKey: uid) else {
                gone.append((id, nights))
                continue
            }
            if event.nights != nights {
                try await BlockRepository.moveChannelBlock(conn, agency: agency, id: id, to: event)
                changes.moved += 1
            }
        }
        // Feeds whose UIDs change between fetches (Airbnb's "Not available" windows) keep their blocks
        // when the nights are the same: no new ids, no events, for an unchanged calendar.
        for event in incoming.values.sorted(by: { $0.uid < $1.uid }) {
            if let i = gone.firstIndex(where: { $0.nights == event.nights }) {
                try await BlockRepository.moveChannelBlock(conn, agency: agency, id: gone.remove(at: i).id, to: event)
                continue
            }
            let block = try await BlockRepository.insertChannelBlock(
                conn,
                agency: agency,
                property: connection.propertyId,
                connection: connection.id,
                event: event
            )
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
        try await ChannelConnectionRepository.recordSync(
            conn,
            agency: agency,
            id: connection.id,
            importedEvents: feed.events.count,
            etag: etag,
            lastModified: lastModified
        )
        try await ChannelConflicts.reconcile(conn, agency: agency, propertyId: connection.propertyId, user: nil)
        return .synced(changes)
    }

    /// A 304: the calendar is as it was; the sync still counts as done.
    public static func unchanged(_ conn: PostgresConnection, _ claim: Claim) async throws {
        guard let (connection, _) = try await lock(conn, claim) else { return }
        try await ChannelConnectionRepository.recordUnchanged(conn, agency: connection.agencyId, id: connection.id)
    }

    /// A failed fetch: every block stays as it was; the connection says why, and the change from a
    /// working sync to a failing one is an event.
    public static func failed(_ conn: PostgresConnection, _ claim: Claim, reason: String, baseURL: String) async throws {
        guard let (connection, _) = try await lock(conn, claim) else { return }
        try await fail(conn, connection, reason: reason, baseURL: baseURL)
    }

    static func fail(_ conn: PostgresConnection, _ connection: ChannelConnection, reason: String, baseURL: String) async throws {
        let updated = try await ChannelConnectionRepository.recordSyncFailure(
            conn,
            agency: connection.agencyId,
            id: connection.id,
            reason: String(reason.prefix(1000))
        )
        if connection.lastSyncStatus != .error {
            try await Outbox.emit(conn, agency: connection.agencyId, type: .channelConnectionSyncFailed, data: updated.json(baseURL: baseURL))
        }
    }
}
