import Foundation
import PostgresNIO

/// Webhook deliveries as the dispatcher works them: claimed under a lease with `FOR UPDATE SKIP LOCKED`,
/// released, or recorded with an attempt's outcome (only by the worker holding the lease).
enum WebhookDeliveryRepository {
    /// A claimed delivery with what it takes to send it.
    struct Claimed: Sendable {
        let agencyId: UUID, id: UUID, endpointId: UUID, eventId: UUID, attempt: Int
        let url: String, secrets: [String], type: String, payload: String, createdAt: Date
    }

    /// Claims up to `limit` due deliveries of enabled endpoints, at most `perEndpoint` minus those already
    /// in flight (`inFlight`) per endpoint.
    static func claim(
        _ conn: PostgresConnection,
        worker: String,
        limit: Int,
        perEndpoint: Int,
        leaseSeconds: Int,
        onlyAgency: UUID?,
        inFlight: [UUID: Int]
    ) async throws -> [Claimed] {
        let endpoints = Array(inFlight.keys)
        let counts = endpoints.map { inFlight[$0]! }
        return try await conn.run(
            """
            WITH inflight AS (SELECT * FROM unnest(\(endpoints)::uuid[], \(counts)::int8[]) AS i(endpoint_id, n)),
            candidates AS (
                SELECT c.agency_id, c.id, c.next_attempt_at
                FROM webhook_endpoints w
                CROSS JOIN LATERAL (
                    SELECT d.agency_id, d.id, d.next_attempt_at FROM webhook_deliveries d
                    WHERE d.agency_id = w.agency_id AND d.endpoint_id = w.id AND d.status IN ('pending', 'retrying')
                      AND d.next_attempt_at <= now() AND (d.locked_until IS NULL OR d.locked_until < now())
                    ORDER BY d.next_attempt_at
                    LIMIT greatest(\(perEndpoint) - coalesce((SELECT n FROM inflight WHERE inflight.endpoint_id = w.id), 0), 0)) c
                WHERE w.enabled AND (\(onlyAgency)::uuid IS NULL OR w.agency_id = \(onlyAgency))),
            picked AS (
                SELECT d.agency_id, d.id FROM webhook_deliveries d JOIN candidates c ON c.agency_id = d.agency_id AND c.id = d.id
                WHERE d.status IN ('pending', 'retrying') AND d.next_attempt_at <= now()
                  AND (d.locked_until IS NULL OR d.locked_until < now())
                ORDER BY c.next_attempt_at LIMIT \(limit)
                FOR UPDATE OF d SKIP LOCKED)
            UPDATE webhook_deliveries d
            SET locked_by = \(worker), locked_until = now() + make_interval(secs => \(leaseSeconds)), attempt = d.attempt + 1, updated_at = now()
            FROM picked p, webhook_endpoints w, webhook_events e
            WHERE d.agency_id = p.agency_id AND d.id = p.id AND w.agency_id = d.agency_id AND w.id = d.endpoint_id
              AND e.agency_id = d.agency_id AND e.id = d.event_id
            RETURNING d.agency_id, d.id, d.endpoint_id, d.event_id, d.attempt, w.url, w.secret,
                      CASE WHEN w.previous_secret_expires_at > now() THEN w.previous_secret END, e.type, e.payload::text, e.created_at
            """
        ).collect().map { row in
            let (agency, id, endpoint, event, attempt, url, secret, previous, type, payload, created) = try row.decode(
                (UUID, UUID, UUID, UUID, Int, String, String, String?, String, String, Date).self
            )
            return Claimed(
                agencyId: agency,
                id: id,
                endpointId: endpoint,
                eventId: event,
                attempt: attempt,
                url: url,
                secrets: [secret] + (previous.map { [$0] } ?? []),
                type: type,
                payload: payload,
                createdAt: created
            )
        }
    }

    /// Gives a claimed delivery back at once, its attempt not counted (the worker is stopping).
    static func release(_ conn: PostgresConnection, agency: UUID, id: UUID, worker: String) async throws {
        try await conn.run(
            """
            UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL, attempt = greatest(attempt - 1, 0),
                   next_attempt_at = now(), updated_at = now()
            WHERE agency_id = \(agency) AND id = \(id) AND locked_by = \(worker)
            """
        )
    }

    /// Records an attempt's outcome; false when the lease was lost meanwhile (another worker owns it now).
    static func recordAttempt(
        _ conn: PostgresConnection,
        _ d: Claimed,
        worker: String,
        status: WebhookDelivery.Status,
        retryIn: Double?,
        responseStatus: Int?,
        error: String?,
        durationMs: Int
    ) async throws -> Bool {
        try await !conn.run(
            """
            WITH endpoint AS (SELECT enabled FROM webhook_endpoints WHERE agency_id = \(d.agencyId) AND id = \(d.endpointId))
            UPDATE webhook_deliveries SET
                   -- An endpoint disabled meanwhile (PATCH, or a 410 to another delivery) gets no more retries.
                   status = CASE WHEN \(retryIn)::float8 IS NOT NULL AND NOT coalesce((SELECT enabled FROM endpoint), false)
                                 THEN 'failed' ELSE \(status.rawValue) END,
                   response_status = \(responseStatus), error = \(error), duration_ms = \(durationMs),
                   next_attempt_at = CASE WHEN \(retryIn)::float8 IS NULL OR NOT coalesce((SELECT enabled FROM endpoint), false) THEN NULL
                                          ELSE now() + make_interval(secs => \(retryIn)::float8) END,
                   locked_by = NULL, locked_until = NULL, updated_at = now()
            WHERE agency_id = \(d.agencyId) AND id = \(d.id) AND locked_by = \(worker)
            RETURNING 1
            """
        ).collect().isEmpty
    }

    /// The queue across every agency: due now, waiting in all, and the oldest due one's age in seconds.
    static func queueStats(_ conn: PostgresConnection) async throws -> (due: Int, depth: Int, oldestDueSeconds: Double)? {
        try await conn.run(
            """
            SELECT count(*) FILTER (WHERE next_attempt_at <= now()), count(*),
                   coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE next_attempt_at <= now())), 0)::float8
            FROM webhook_deliveries WHERE status IN ('pending', 'retrying')
            """
        ).collect().first?.decode((Int, Int, Double).self)
    }
}
