import Foundation
import PostgresNIO

/// `/ical/<token>.ics`: 32 hex digits of the agency id, then the connection's 64-hex-digit secret.
public struct FeedToken: Sendable, Equatable {
    public let agencyId: UUID
    public let secret: String

    public var encoded: String { agencyId.uuidString.lowercased().replacingOccurrences(of: "-", with: "") + secret }

    public init(agencyId: UUID, secret: String) { (self.agencyId, self.secret) = (agencyId, secret) }

    /// Nil for anything that is not 96 lowercase hex digits.
    public init?(_ token: String) {
        let hex = Array(token.utf8)
        guard hex.count == 96, hex.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else { return nil }
        let a = String(decoding: hex[0..<32], as: UTF8.self)
        let parts = [a.prefix(8), a.dropFirst(8).prefix(4), a.dropFirst(12).prefix(4), a.dropFirst(16).prefix(4), a.dropFirst(20)]
        guard let agency = UUID(uuidString: parts.joined(separator: "-")) else { return nil }
        self.init(agencyId: agency, secret: String(decoding: hex[32...], as: UTF8.self))
    }
}
