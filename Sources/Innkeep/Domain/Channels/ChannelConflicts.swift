import Foundation
import PostgresNIO

/// Conflict queries, and the one place that opens and resolves them.
public enum ChannelConflicts {
    /// The channel blocks of a property that overlap a confirmed booking, a manual block, or an older
    /// block of another connection (so a pair of channels conflicts once, on the later import). Overlap is two date
    /// comparisons, which row-level security lets an index use (`&&` it does not: migration 0021).
    /// (`$1` is the agency, `$2` the property.)
    private static let overlaps = """
        SELECT c.id AS block_id, c.channel_connection_id, c.start_date, c.end_date, b.id AS booking_id, NULL::uuid AS other_block_id
        FROM blocks c JOIN bookings b ON b.agency_id = c.agency_id AND b.property_id = c.property_id AND b.status = 'confirmed'
             AND b.check_in < c.end_date AND b.check_out > c.start_date
        WHERE c.agency_id = $1 AND c.property_id = $2 AND c.kind = 'channel'
        UNION ALL
        SELECT c.id, c.channel_connection_id, c.start_date, c.end_date, NULL, k.id
        FROM blocks c JOIN blocks k ON k.agency_id = c.agency_id AND k.property_id = c.property_id AND k.id <> c.id
             AND (k.kind <> 'channel' OR k.channel_connection_id <> c.channel_connection_id AND (k.created_at, k.id) < (c.created_at, c.id))
             AND k.start_date < c.end_date AND k.end_date > c.start_date
        WHERE c.agency_id = $1 AND c.property_id = $2 AND c.kind = 'channel'
        """

    /// Brings a property's conflicts in line with its blocks and bookings: resolves the open ones whose
    /// overlap is gone, opens one for each new overlap; audits and emits each change. Call it in the
    /// transaction of anything that can start or end an overlap (sync, cancel, block or connection delete).
    @discardableResult
    public static func reconcile(
        _ conn: PostgresConnection,
        agency: UUID,
        propertyId: UUID,
        user: UUID?
    ) async throws
        -> (opened: [ChannelConflict], resolved: [ChannelConflict])
    {
        var binds = PostgresBindings()
        binds.append(agency)
        binds.append(propertyId)
        let resolved = try await conn.query(
            PostgresQuery(
                unsafeSQL: """
                    WITH o AS (\(overlaps))
                    UPDATE channel_conflicts f SET status = 'resolved', resolved_at = now()
                    WHERE f.agency_id = $1 AND f.property_id = $2 AND f.status = 'open'
                      AND NOT EXISTS (SELECT 1 FROM o WHERE o.block_id = f.block_id
                                      AND coalesce(o.booking_id, o.other_block_id) = coalesce(f.conflicting_booking_id, f.conflicting_block_id))
                    RETURNING \(ChannelConflict.columns)
                    """,
                binds: binds
            ),
            logger: conn.logger
        ).collect().map(ChannelConflict.init(row:))
        let opened = try await conn.query(
            PostgresQuery(
                unsafeSQL: """
                    WITH o AS (\(overlaps))
                    INSERT INTO channel_conflicts (agency_id, property_id, channel_connection_id, block_id, start_date, end_date,
                                                   conflicting_booking_id, conflicting_block_id)
                    SELECT $1, $2, o.channel_connection_id, o.block_id, o.start_date, o.end_date, o.booking_id, o.other_block_id FROM o
                    WHERE NOT EXISTS (SELECT 1 FROM channel_conflicts f WHERE f.agency_id = $1 AND f.status = 'open' AND f.block_id = o.block_id
                                      AND coalesce(f.conflicting_booking_id, f.conflicting_block_id) = coalesce(o.booking_id, o.other_block_id))
                    RETURNING \(ChannelConflict.columns)
                    """,
                binds: binds
            ),
            logger: conn.logger
        ).collect().map(ChannelConflict.init(row:))
        for conflict in opened {
            let audit = AuditLog.Entry(
                agency: agency,
                user: user,
                action: "channel.conflict_detected",
                resourceType: "channel_conflict",
                resourceId: conflict.id,
                details: conflict.json
            )
            try await Outbox.emit(conn, agency: agency, type: .channelConflictDetected, data: conflict.json, recording: audit)
        }
        for conflict in resolved {
            try await Outbox.emit(conn, agency: agency, type: .channelConflictResolved, data: conflict.json)
        }
        return (opened, resolved)
    }

    public static func list(
        _ conn: PostgresConnection,
        agency: UUID,
        status: ChannelConflict.Status?,
        propertyId: UUID?,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> [ChannelConflict] {
        try await conn.run(
            """
            SELECT \(unescaped: ChannelConflict.columns) FROM channel_conflicts
            WHERE agency_id = \(agency) AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue))
              AND (\(propertyId)::uuid IS NULL OR property_id = \(propertyId)) AND \(after: cursor, time: "detected_at")
            ORDER BY detected_at DESC, id DESC LIMIT \(limit)
            """
        ).collect().map(ChannelConflict.init(row:))
    }

    /// The number of open conflicts in every agency, for the metrics gauge (the worker's scope).
    public static func openCount(_ conn: PostgresConnection) async throws -> Int {
        try await conn.run("SELECT count(*)::int8 FROM channel_conflicts WHERE status = 'open'").collect().first?.decode(Int.self) ?? 0
    }
}
