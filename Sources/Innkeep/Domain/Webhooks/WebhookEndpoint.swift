import Foundation
import PostgresNIO

/// A receiver of an agency's events (SPEC §13). The secret is stored (the worker signs with it) but
/// shown only by create and rotate-secret.
public struct WebhookEndpoint: Sendable {
    public let id: UUID, agencyId: UUID, url: String, description: String, events: [String], enabled: Bool
    public let disabledReason: String?, previousSecretExpiresAt: Date?, createdAt: Date, updatedAt: Date

    static let columns = """
        id, agency_id, url, description, events, enabled, disabled_reason,
        CASE WHEN previous_secret_expires_at > now() THEN previous_secret_expires_at END, created_at, updated_at
        """

    init(row: PostgresRow) throws {
        (id, agencyId, url, description, events, enabled, disabledReason, previousSecretExpiresAt, createdAt, updatedAt) = try row.decode(
            (UUID, UUID, String, String, [String], Bool, String?, Date?, Date, Date).self
        )
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "agency_id": JSONValue(agencyId), "url": .string(url), "description": .string(description),
            "events": .array(events.map(JSONValue.string)), "enabled": .bool(enabled), "disabled_reason": JSONValue(disabledReason),
            "previous_secret_expires_at": JSONValue(previousSecretExpiresAt),
            "created_at": JSONValue(createdAt), "updated_at": JSONValue(updatedAt),
        ]
    }

    /// The object with its secret: the answer of create and rotate-secret only.
    func json(secret: String) -> JSONValue {
        guard case .object(var fields) = json else { return json }
        fields["secret"] = .string(secret)
        return .object(fields)
    }
}
