import Foundation
import PostgresNIO

/// A keyset position in a newest-first list: the last row's `(created_at, id)`. Stable under
/// concurrent inserts: every row that existed when paging began is returned exactly once.
public struct PageCursor: Sendable, Equatable {
    /// `created_at` in microseconds since 1970, exactly as Postgres stores it.
    public let micros: Int64
    public let id: UUID

    public init(createdAt: Date, id: UUID) {
        micros = Int64((createdAt.timeIntervalSince1970 * 1_000_000).rounded())
        self.id = id
    }

    init(micros: Int64, id: UUID) {
        self.micros = micros
        self.id = id
    }

    /// Years 1 to 9999: a forged cursor outside it would overflow Postgres' timestamp arithmetic (a 500).
    static let range: ClosedRange<Int64> = -62_135_596_800_000_000...253_402_300_799_999_999

    /// Opaque to clients: base64url of `micros:id`.
    public var encoded: String { Base64URL.encode(Array("\(micros):\(id.uuidString.lowercased())".utf8)) }

    public init?(encoded: String) {
        guard encoded.count <= 200, let bytes = Base64URL.decode(Substring(encoded)) else { return nil }
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: ":")
        guard parts.count == 2, let micros = Int64(parts[0]), Self.range.contains(micros),
            let id = UUID(uuidString: String(parts[1]))
        else { return nil }
        self.init(micros: micros, id: id)
    }
}
