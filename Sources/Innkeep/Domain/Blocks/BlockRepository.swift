import Foundation
import PostgresNIO

/// Block queries; every method filters by agency, and `owner` narrows to one owner's properties.
public enum BlockRepository {
    public struct Filter: Sendable {
        var propertyId: UUID?
        var kind: Block.Kind?
        var from: CalendarDate?
        var to: CalendarDate?
    }

    public struct New: Sendable {
        var propertyId: UUID
        var nights: Nights
        var kind: Block.Kind
        var note: String?
    }

    public static func find(_ conn: PostgresConnection, agency: UUID, id: UUID, owner: UUID? = nil, forUpdate: Bool = false) async throws -> Block? {
        try await conn.run(
            """
            SELECT \(unescaped: Block.columns) FROM blocks k
            WHERE k.agency_id = \(agency) AND k.id = \(id)
              AND (\(owner)::uuid IS NULL OR EXISTS (
                  SELECT 1 FROM properties p WHERE p.agency_id = k.agency_id AND p.id = k.property_id AND p.owner_id = \(owner)))
            \(unescaped: forUpdate ? "FOR UPDATE OF k" : "")
            """
        ).collect().first.map(Block.init(row:))
    }

    /// Newest first; `from`/`to` keep blocks whose nights overlap `[from, to)`: compared as dates, which row-level
    /// security lets an index use (`&&` it does not: migration 0021).
    public static func list(
        _ conn: PostgresConnection,
        agency: UUID,
        owner: UUID?,
        filter f: Filter,
        cursor: PageCursor?,
        limit: Int
    ) async throws -> [Block] {
        let from = f.from?.description
        let to = f.to?.description
        return try await conn.run(
            """
            SELECT \(unescaped: Block.columns) FROM blocks k
            WHERE k.agency_id = \(agency)
              AND (\(owner)::uuid IS NULL OR EXISTS (
                  SELECT 1 FROM properties p WHERE p.agency_id = k.agency_id AND p.id = k.property_id AND p.owner_id = \(owner)))
              AND (\(f.propertyId)::uuid IS NULL OR k.property_id = \(f.propertyId))
              AND (\(f.kind?.rawValue)::text IS NULL OR k.kind = \(f.kind?.rawValue))
              AND (\(from)::date IS NULL OR k.end_date > \(from)::date)
              AND (\(to)::date IS NULL OR k.start_date < \(to)::date)
              AND \(after: cursor, alias: "k")
            ORDER BY k.created_at DESC, k.id DESC LIMIT \(limit)
            """
        ).collect().map(Block.init(row:))
    }

    public static func insert(_ conn: PostgresConnection, agency: UUID, createdBy: UUID?, _ n: New) async throws -> Block {
        try await conn.run(
            """
            WITH k AS (
                INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind, note, created_by)
                VALUES (\(agency), \(n.propertyId), \(n.nights.start.description)::date, \(n.nights.end.description)::date,
                        \(n.kind.rawValue), \(n.note), \(createdBy))
                RETURNING *)
            SELECT \(unescaped: Block.columns) FROM k
            """
        ).collect().map(Block.init(row:))[0]
    }

    public static func delete(_ conn: PostgresConnection, agency: UUID, id: UUID) async throws {
        try await conn.run("DELETE FROM blocks WHERE agency_id = \(agency) AND id = \(id)")
    }

    /// The connection's imported blocks that have not ended by `today` (past stays stay on record).
    static func currentChannelBlocks(
        _ conn: PostgresConnection,
        agency: UUID,
        connection: UUID,
        today: CalendarDate
    ) async throws
        -> [(id: UUID, uid: String, nights: Nights)]
    {
        try await conn.run(
            """
            SELECT \(unescaped: Block.columns), k.external_uid FROM blocks k
            WHERE k.agency_id = \(agency) AND k.channel_connection_id = \(connection) AND k.end_date > \(today.description)::date
            """
        ).collect().map { row in
            let block = try Block(row: row)
            let uid = try row.makeRandomAccess()[row.count - 1].decode(String.self)
            return (block.id, uid, block.nights)
        }
    }

    /// A block imported from a channel's event (SPEC §12); it gets no occupancy row, so it may overlap.
    static func insertChannelBlock(
        _ conn: PostgresConnection,
        agency: UUID,
        property: UUID,
        connection: UUID,
        event: ImportedEvent
    ) async throws
        -> Block
    {
        try await conn.run(
            """
            WITH k AS (
                INSERT INTO blocks (agency_id, property_id, start_date, end_date, kind, channel_connection_id, external_uid)
                VALUES (\(agency), \(property), \(event.nights.start.description)::date, \(event.nights.end.description)::date,
                        'channel', \(connection), \(event.uid))
                RETURNING *)
            SELECT \(unescaped: Block.columns) FROM k
            """
        ).collect().map(Block.init(row:))[0]
    }

    /// Moves an imported block to its event's nights (same id), taking the event's current UID.
    static func moveChannelBlock(_ conn: PostgresConnection, agency: UUID, id: UUID, to event: ImportedEvent) async throws {
        try await conn.run(
            """
            UPDATE blocks SET start_date = \(event.nights.start.description)::date, end_date = \(event.nights.end.description)::date,
                   external_uid = \(event.uid)
            WHERE agency_id = \(agency) AND id = \(id)
            """
        )
    }
}
