import Foundation
import Hummingbird
import PostgresNIO

/// The `idempotency_keys` table: one row per (agency, user, key), holding the request's fingerprint and,
/// once answered, the reply.
enum IdempotencyRepository {
    /// What a key already holds.
    struct Stored: Sendable {
        let requestHash: String
        /// Nil while the first request is still running.
        let reply: Reply?
    }

    /// Claims the key for this request: true when it is new, expired, or abandoned (unanswered for
    /// `abandonedAfterSeconds`, its request died with its process).
    static func claim(
        _ conn: PostgresConnection,
        agency: UUID,
        user: UUID,
        key: String,
        method: String,
        path: String,
        hash: String,
        lifetimeSeconds: Int,
        abandonedAfterSeconds: Int
    ) async throws -> Bool {
        try await !conn.run(
            """
            INSERT INTO idempotency_keys (agency_id, key, user_id, request_method, request_path, request_hash, expires_at)
            VALUES (\(agency), \(key), \(user), \(method), \(path), \(hash), now() + make_interval(secs => \(lifetimeSeconds)))
            ON CONFLICT (agency_id, user_id, key) DO UPDATE
                SET request_method = EXCLUDED.request_method, request_path = EXCLUDED.request_path,
                    request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL,
                    created_at = now(), expires_at = EXCLUDED.expires_at
                WHERE idempotency_keys.expires_at < now()
                   OR (idempotency_keys.response_status IS NULL
                       AND idempotency_keys.created_at < now() - make_interval(secs => \(abandonedAfterSeconds)))
            RETURNING key
            """
        ).collect().isEmpty
    }

    static func find(_ conn: PostgresConnection, agency: UUID, user: UUID, key: String) async throws -> Stored? {
        guard
            let row = try await conn.run(
                """
                SELECT request_hash, response_status, response_body FROM idempotency_keys
                WHERE agency_id = \(agency) AND user_id = \(user) AND key = \(key)
                """
            ).collect().first
        else { return nil }
        // bytea travels as ByteBuffer ([UInt8] would be sent as a Postgres "char"[] array).
        let (hash, status, body) = try row.decode((String, Int?, ByteBuffer?).self)
        let reply = status.map {
            Reply(status: HTTPResponse.Status(code: $0), body: body.map { String(buffer: $0) }, headers: [.idempotentReplayed: "true"])
        }
        return Stored(requestHash: hash, reply: reply)
    }

    static func storeReply(_ conn: PostgresConnection, agency: UUID, user: UUID, key: String, _ reply: Reply) async throws {
        try await conn.run(
            """
            UPDATE idempotency_keys SET response_status = \(Int(reply.status.code)), response_body = \(reply.body.map { ByteBuffer(string: $0) })
            WHERE agency_id = \(agency) AND user_id = \(user) AND key = \(key)
            """
        )
    }

    /// Deletes the key unless it holds an answer (a 5xx's claim, released so a retry runs again).
    static func release(_ conn: PostgresConnection, agency: UUID, user: UUID, key: String) async throws {
        try await conn.run(
            """
            DELETE FROM idempotency_keys
            WHERE agency_id = \(agency) AND user_id = \(user) AND key = \(key) AND response_status IS NULL
            """
        )
    }

    /// Deletes up to `limit` expired keys of any agency (the worker's purge); returns how many.
    static func purgeExpired(_ conn: PostgresConnection, limit: Int) async throws -> Int {
        try await conn.run(
            """
            DELETE FROM idempotency_keys WHERE (agency_id, user_id, key) IN (
                SELECT agency_id, user_id, key FROM idempotency_keys WHERE expires_at < now() LIMIT \(limit))
            RETURNING 1
            """
        ).collect().count
    }
}
