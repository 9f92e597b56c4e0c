import Foundation
import PostgresNIO

/// One attempt log row of `GET /api/v1/webhook-endpoints/{id}/deliveries`.
public struct WebhookDelivery: Sendable {
    public enum Status: String, CaseIterable, Sendable { case pending, succeeded, retrying, failed }

    public let id: UUID, eventId: UUID, eventType: String, attempt: Int, status: String, responseStatus: Int?
    public let error: String?, durationMs: Int?, nextAttemptAt: Date?, createdAt: Date

    static let columns = """
        d.id, d.event_id, e.type, d.attempt, d.status, d.response_status, d.error, d.duration_ms, d.next_attempt_at, d.created_at
        """

    init(row: PostgresRow) throws {
        (id, eventId, eventType, attempt, status, responseStatus, error, durationMs, nextAttemptAt, createdAt) = try row.decode(
            (UUID, UUID, String, Int, String, Int?, String?, Int?, Date?, Date).self
        )
    }

    public var json: JSONValue {
        [
            "id": JSONValue(id), "event_id": JSONValue(eventId), "event_type": .string(eventType), "attempt": .int(Int64(attempt)),
            "status": .string(status), "response_status": JSONValue(responseStatus), "error": JSONValue(error),
            "duration_ms": JSONValue(durationMs), "next_attempt_at": JSONValue(nextAttemptAt), "created_at": JSONValue(createdAt),
        ]
    }
}
