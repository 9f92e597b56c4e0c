import Crypto
import Foundation
import Hummingbird
import Logging
import PostgresNIO
import Synchronization

/// `Idempotency-Key` on creating POSTs (SPEC §7, the IETF idempotency-key draft): the first
/// request with a key runs; a retry with the same request replays its answer; a different request
/// with the key is refused; a retry while the first still runs gets 409. 5xx answers are not kept.
public enum Idempotency {
    /// How long a key is kept.
    public static let lifetime = 24 * 3600
    /// A claim older than this without an answer is taken over (its request died with its process).
    static let abandonedAfterSeconds = 60

    static func run(key: String, call: Call, caller: Caller, _ handler: (IdempotencyClaim) async throws -> Reply) async throws -> Reply {
        // Counted in Unicode scalars, as Postgres' length() counts the column's CHECK (not grapheme clusters).
        guard (1...255).contains(key.unicodeScalars.count), !key.unicodeScalars.contains("\0") else {
            throw APIError.validation("Idempotency-Key", "must be 1 to 255 characters")
        }
        let path = call.request.uri.path
        let hash = fingerprint(method: call.request.method.rawValue, path: path, body: call.body)
        let db = call.services.db, scope = Database.Scope.tenant(caller.agencyId, user: caller.userId)
        let method = call.request.method.rawValue

        let previous = try await db.transaction(scope) { conn -> Reply? in
            let claimed = try await conn.run("""
                INSERT INTO idempotency_keys (agency_id, key, user_id, request_method, request_path, request_hash, expires_at)
                VALUES (\(caller.agencyId), \(key), \(caller.userId), \(method), \(path), \(hash), now() + make_interval(secs => \(lifetime)))
                ON CONFLICT (agency_id, user_id, key) DO UPDATE
                    SET request_method = EXCLUDED.request_method, request_path = EXCLUDED.request_path,
                        request_hash = EXCLUDED.request_hash, response_status = NULL, response_body = NULL,
                        created_at = now(), expires_at = EXCLUDED.expires_at
                    WHERE idempotency_keys.expires_at < now()
                       OR (idempotency_keys.response_status IS NULL
                           AND idempotency_keys.created_at < now() - make_interval(secs => \(abandonedAfterSeconds)))
                RETURNING key
                """).collect()
            if !claimed.isEmpty { return nil }
            let rows = try await conn.run("""
                SELECT request_hash, response_status, response_body FROM idempotency_keys
                WHERE agency_id = \(caller.agencyId) AND user_id = \(caller.userId) AND key = \(key)
                """).collect()
            guard let row = rows.first else { return nil }
            // bytea travels as ByteBuffer ([UInt8] would be sent as a Postgres "char"[] array).
            let (storedHash, status, body) = try row.decode((String, Int?, ByteBuffer?).self)
            guard storedHash == hash else { throw APIError(.idempotencyKeyMismatch) }
            guard let status else { throw APIError(.idempotencyRequestInProgress, headers: [.retryAfter: "1"]) }
            return Reply(status: HTTPResponse.Status(code: status), body: body.map { String(buffer: $0) },
                         headers: [.idempotentReplayed: "true"])
        }
        if let previous { return previous }

        let claim = IdempotencyClaim(agencyId: caller.agencyId, userId: caller.userId, key: key)
        let reply: Reply
        do {
            reply = try await handler(claim)
        } catch let error as APIError where error.code.status.code < 500 {
            reply = Reply.error(error, requestId: call.context.requestId)
        } catch {
            // 5xx are not kept: the key is released so a retry runs again. Not awaited: the database may be
            // what failed, and the client gets its 503 now; the release retries until the database is back.
            call.services.idempotencyReleaser.release(claim)
            throw error
        }
        if !claim.isStored {
            try await db.transaction(scope) { conn in try await claim.store(reply, on: conn) }
        }
        return reply
    }

    /// sha256 over method, path and body: "the same request".
    static func fingerprint(method: String, path: String, body: ByteBuffer) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("\(method) \(path)\n".utf8))
        hasher.update(data: Array(body.readableBytesView))
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
