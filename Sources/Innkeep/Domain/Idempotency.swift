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

    /// Admits the caller (`admit`, in the transaction of `scope`) and claims the key in that same transaction,
    /// committed before `handler` runs; replays or refuses when the key is taken.
    static func run(
        key: String,
        call: Call,
        scope: Database.Scope,
        admit: @escaping @Sendable (RequestTransaction) async throws -> Caller,
        _ handler: (Caller, IdempotencyClaim) async throws -> Reply
    ) async throws -> Reply {
        let path = call.request.uri.path
        let hash = fingerprint(method: call.request.method.rawValue, path: path, body: call.body)
        let db = call.services.db
        let method = call.request.method.rawValue

        let (caller, previous) = try await db.transaction(scope) { conn -> (Caller, Reply?) in
            let caller = try await admit(RequestTransaction(connection: conn, scope: scope))
            // Counted in Unicode scalars, as Postgres' length() counts the column's CHECK (not grapheme clusters).
            guard (1...255).contains(key.unicodeScalars.count), !key.unicodeScalars.contains("\0") else {
                throw APIError.validation("Idempotency-Key", "must be 1 to 255 characters")
            }
            let claimed = try await IdempotencyRepository.claim(
                conn,
                agency: caller.agencyId,
                user: caller.userId,
                key: key,
                method: method,
                path: path,
                hash: hash,
                lifetimeSeconds: lifetime,
                abandonedAfterSeconds: abandonedAfterSeconds
            )
            if claimed { return (caller, nil) }
            guard let stored = try await IdempotencyRepository.find(conn, agency: caller.agencyId, user: caller.userId, key: key) else {
                return (caller, nil)
            }
            guard stored.requestHash == hash else { throw APIError(.idempotencyKeyMismatch) }
            guard let reply = stored.reply else { throw APIError(.idempotencyRequestInProgress, headers: [.retryAfter: "1"]) }
            return (caller, reply)
        }
        if let previous { return previous }

        let claim = IdempotencyClaim(agencyId: caller.agencyId, userId: caller.userId, key: key)
        let reply: Reply
        do {
            reply = try await handler(caller, claim)
        } catch let error as APIError where error.code.status.code < 500 {
            reply = Reply.error(error, requestId: call.context.requestId)
        } catch {
            // 5xx are not kept: the key is released so a retry runs again. Not awaited: the database may be
            // what failed, and the client gets its 503 now; the release retries until the database is back.
            call.services.idempotencyReleaser.release(claim)
            throw error
        }
        if !claim.isStored {
            try await db.transaction(.tenant(caller.agencyId, user: caller.userId)) { conn in try await claim.store(reply, on: conn) }
        }
        return reply
    }

    /// sha256 over method, path and body: "the same request".
    static func fingerprint(method: String, path: String, body: ByteBuffer) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("\(method) \(path)\n".utf8))
        hasher.update(data: Array(body.readableBytesView))
        return hasher.finalize().hexString
    }
}
