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

    /// Admits the caller and claims the key, committed before the action runs; replays or refuses when the key is
    /// taken. With an `entry` (`TenantEntry`: an endpoint without a feature, a valid key) both happen first in one
    /// statement, and then the action first tries `inOneStatement`, which records its answer in its own statement
    /// (`IdempotencyClaim.answeredInItsStatement`). Otherwise `admit` runs in the transaction of `scope` that
    /// claims the key; and when no statement answered, `handler` runs the action.
    static func run(
        key: String,
        call: Call,
        scope: Database.Scope,
        entry: TenantEntry?,
        admit: @escaping @Sendable (RequestTransaction) async throws -> Caller,
        inOneStatement: (@Sendable (Call, TenantEntry) async throws -> Reply?)?,
        _ handler: (Caller, IdempotencyClaim) async throws -> Reply
    ) async throws -> Reply {
        let method = call.request.method.rawValue
        let path = call.request.uri.path
        let request = IdempotencyRepository.KeyedRequest(
            key: key,
            method: method,
            path: path,
            hash: fingerprint(method: method, path: path, body: call.body)
        )
        let db = call.services.db

        let caller: Caller
        let held: IdempotencyRepository.Held
        // The action's one statement follows only a claim made in one: a caller the claim's statement did not
        // admit would not be admitted by the action's either.
        var actionEntry: TenantEntry?
        if let entry, isValid(key),
            let admitted = try await entry.run({ conn in try await IdempotencyRepository.claim(conn, entering: entry, request) })
        {
            (caller, held) = admitted
            actionEntry = entry
        } else {
            (caller, held) = try await db.transaction(scope) { conn in
                let caller = try await admit(RequestTransaction(connection: conn, scope: scope))
                // Checked after admission: a caller who may not make the request learns nothing from a 400.
                guard isValid(key) else { throw APIError.validation("Idempotency-Key", "must be 1 to 255 characters") }
                return (caller, try await IdempotencyRepository.claim(conn, agency: caller.agencyId, user: caller.userId, request))
            }
        }
        // Not claimed and no row found (deleted between the claim and its look-up): the request runs, as it did
        // before the key was kept at all; its answer is then stored nowhere.
        if !held.claimed, let hash = held.requestHash {
            guard hash == request.hash else { throw APIError(.idempotencyKeyMismatch) }
            guard let reply = held.reply else { throw APIError(.idempotencyRequestInProgress, headers: [.retryAfter: "1"]) }
            return reply
        }

        let claim = IdempotencyClaim(agencyId: caller.agencyId, userId: caller.userId, key: key)
        func answer() async throws -> Reply {
            do {
                if let actionEntry, let inOneStatement, let answered = try await inOneStatement(call, actionEntry.answering(claim)) {
                    return answered
                }
                return try await handler(caller, claim)
            } catch let error as APIError where error.code.status.code < 500 {
                return Reply.error(error, requestId: call.context.requestId)
            }
        }
        do {
            let reply = try await answer()
            // A 4xx, or an action that kept nothing, is kept here, after the action.
            if !claim.isStored {
                try await db.transaction(.tenant(caller.agencyId, user: caller.userId)) { conn in try await claim.store(reply, on: conn) }
            }
            return reply
        } catch {
            // A 5xx, or an answer that could not be kept: the key is released, so a retry runs again now instead of
            // meeting "in progress" until the claim counts as abandoned. Not awaited: the database may be what failed,
            // and the client gets its 503 now; the release retries until the database is back.
            call.services.idempotencyReleaser.release(claim)
            throw error
        }
    }

    /// 1 to 255 characters, counted in Unicode scalars as Postgres' length() counts the column's CHECK (not
    /// grapheme clusters), without NUL.
    static func isValid(_ key: String) -> Bool {
        (1...255).contains(key.unicodeScalars.count) && !key.unicodeScalars.contains("\0")
    }

    /// sha256 over method, path and body: "the same request".
    static func fingerprint(method: String, path: String, body: ByteBuffer) -> String {
        var hasher = SHA256()
        hasher.update(data: Array("\(method) \(path)\n".utf8))
        hasher.update(data: Array(body.readableBytesView))
        return hasher.finalize().hexString
    }
}
