import Crypto
import Foundation
import PostgresNIO

/// The event types an endpoint can subscribe to (SPEC §13).
public enum WebhookEventType: String, CaseIterable, Sendable {
    case bookingCreated = "booking.created"
    case bookingCancelled = "booking.cancelled"
    case blockCreated = "block.created"
    case blockDeleted = "block.deleted"
    case channelConflictDetected = "channel.conflict_detected"
    case channelConflictResolved = "channel.conflict_resolved"
    case channelConnectionSyncFailed = "channel_connection.sync_failed"
    /// Sent only by `POST /api/v1/webhook-endpoints/{id}/test`, to that endpoint.
    case webhookTest = "webhook.test"
}
