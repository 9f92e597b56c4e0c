import Foundation
import PostgresNIO

/// A property's listing on a channel (SPEC §4, §12), gated by the `channel_sync` feature. Each one
/// publishes a secret iCal feed (`export_url`) and, with an `ical_url`, imports the channel's feed.
public struct ChannelConnection: Sendable {
    public enum Channel: String, CaseIterable, Sendable { case airbnb, booking_com, vrbo, ical }
    public enum Status: String, CaseIterable, Sendable { case active, paused, error }
    /// What a client may set with PATCH.
    public enum SettableStatus: String, CaseIterable, Sendable { case active, paused }
    public enum SyncStatus: String, Sendable { case ok, error }

    static let columns = """
        id, agency_id, property_id, channel, external_listing_id, ical_url, status, export_token, sync_interval_minutes,
        last_synced_at, last_sync_status, last_error, imported_events, created_at
        """

    public var id: UUID, agencyId: UUID, propertyId: UUID, channel: Channel, externalListingId: String
    public var icalURL: String?, status: Status, exportToken: String, syncIntervalMinutes: Int
    public var lastSyncedAt: Date?, lastSyncStatus: SyncStatus?, lastError: String?, importedEvents: Int, createdAt: Date

    init(row: PostgresRow) throws {
        let (id, agency, property, channel, listing, ical, status, token, interval, synced, syncStatus, lastError, imported, created) =
            try row.decode((UUID, UUID, UUID, String, String, String?, String, String, Int, Date?, String?, String?, Int, Date).self)
        guard let c = Channel(rawValue: channel) else { throw UnknownValue(column: "channel_connections.channel", value: channel) }
        guard let s = Status(rawValue: status) else { throw UnknownValue(column: "channel_connections.status", value: status) }
        (self.id, self.agencyId, self.propertyId, self.channel, self.externalListingId) = (id, agency, property, c, listing)
        (self.icalURL, self.status, self.exportToken, self.syncIntervalMinutes) = (ical, s, token, interval)
        (self.lastSyncedAt, self.lastSyncStatus, self.lastError) = (synced, syncStatus.flatMap(SyncStatus.init(rawValue:)), lastError)
        (self.importedEvents, self.createdAt) = (imported, created)
    }

    /// The feed token in the URL: the agency (so the anonymous request runs under its RLS scope) and the secret.
    public var feedToken: String { FeedToken(agencyId: agencyId, secret: exportToken).encoded }

    /// The object as the API shows it; `baseURL` is `PUBLIC_BASE_URL`.
    public func json(baseURL: String) -> JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "property_id": JSONValue(propertyId), "channel": .string(channel.rawValue),
            "external_listing_id": .string(externalListingId), "ical_url": JSONValue(icalURL), "status": .string(status.rawValue),
            "export_url": .string("\(baseURL)/ical/\(feedToken).ics"), "sync_interval_minutes": .int(Int64(syncIntervalMinutes)),
            "last_synced_at": JSONValue(lastSyncedAt), "last_sync_status": JSONValue(lastSyncStatus?.rawValue), "last_error": JSONValue(lastError),
            "imported_events": .int(Int64(importedEvents)), "created_at": JSONValue(createdAt),
        ]
    }
}
