import Foundation
import Hummingbird
import PostgresNIO

/// The `idempotency_keys` table: one row per (agency, user, key), holding the request's fingerprint and,
/// once answered, the reply.
enum IdempotencyRepository {
    /// What a claim found: the key taken for this request, or what another request's claim holds.
    struct Held: Sendable {
        /// True when the key was new, expired, or abandoned (unanswered for `abandonedAfterSeconds`, its
        /// request died with its process), and is now this request's.
        let claimed: Bool
        /// The fingerprint of the request holding the key; nil when claimed or when no row was found.
        let requestHash: String?
        /// Nil while the first request is still running.
        let reply: Reply?

        init(_ cells: (Bool, String?, Int?, ByteBuffer?)) {
            let (claimed, hash, status, body) = cells
            self.claimed = claimed
            requestHash = hash
            // bytea travels as ByteBuffer ([UInt8] would be sent as a Postgres "char"[] array).
            reply = status.map {
                Reply(status: HTTPResponse.Status(code: $0), body: body.map { String(buffer: $0) }, headers: [.idempotentReplayed: "true"])
            }
        }
    }

    /// The request that claims a key: the key, and what makes "the same request".
    struct KeyedRequest: Sendable {
        let key: String, method: String, path: String, hash: String
    }

    /// Claims the key in the request's transaction, after its caller was admitted (`app_claim_key`, migration 0020).
    static func claim(_ conn: PostgresConnection, agency: UUID, user: UUID, _ c: KeyedRequest) async throws -> Held {
        try await Held(
            conn.run(
                """
                SELECT * FROM app_claim_key(\(agency), \(user), \(c.key), \(c.method), \(c.path), \(c.hash),
                    \(Idempotency.lifetime)::int, \(Idempotency.abandonedAfterSeconds)::int)
                """
            ).collect()[0].decode((Bool, String?, Int?, ByteBuffer?).self)
        )
    }

    /// Admits the caller and claims the key in one statement (`app_admit_and_claim_key`, `TenantEntry`): the
    /// admitted caller and what the claim found. Raises IK403 for a caller `app_admit` refuses, and 57014 (nothing
    /// claimed) when it ran past the entry's budget, when the caller was answered 503.
    static func claim(_ conn: PostgresConnection, entering entry: TenantEntry, _ c: KeyedRequest) async throws -> (Caller, Held) {
        let row = try await entry.services.db.send(ClaimStatement(entry: entry, request: c), on: conn)[0]
        let (agency, role, claimed, hash, status, body) = try row.decode((UUID, String, Bool, String?, Int?, ByteBuffer?).self)
        guard let role = Role(rawValue: role) else { throw UnknownValue(column: "role", value: role) }
        return (Caller(userId: entry.userId, agencyId: agency, role: role), Held((claimed, hash, status, body)))
    }

    /// `app_admit_and_claim_key`'s statement.
    struct ClaimStatement: FixedStatement {
        static let name = "idempotency_claim"
        static let sql = """
            SELECT member_agency, member_role, claimed, held_hash, held_status, held_body
            FROM app_admit_and_claim_key($1, $2::uuid, $3, $4, $5, $6, $7, $8::int, $9::int, $10::int)
            """
        static let bindingDataTypes: [PostgresDataType] = [.uuid, .uuid, .textArray, .text, .text, .text, .text, .int8, .int8, .int8]
        let entry: TenantEntry, request: KeyedRequest

        func makeBindings() -> PostgresBindings {
            var b = PostgresBindings(capacity: 10)
            b.append(entry.userId)
            b.append(entry.agency)
            b.append(entry.roles)
            b.append(request.key)
            b.append(request.method)
            b.append(request.path)
            b.append(request.hash)
            b.append(Idempotency.lifetime)
            b.append(Idempotency.abandonedAfterSeconds)
            b.append(entry.budgetMilliseconds)
            return b
        }
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
