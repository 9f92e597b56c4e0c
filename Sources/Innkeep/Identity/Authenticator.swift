import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO

/// Turns a request into a verified identity: the bearer token, then the agency and role.
struct Authenticator: Sendable {
    let services: AppServices

    /// The bearer token, or 401 AUTH_REQUIRED.
    static func bearerToken(_ request: Request) throws -> String {
        guard let header = request.headers[.authorization], !header.isEmpty else {
            throw APIError(.authRequired, headers: [.wwwAuthenticate: "Bearer"])
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw APIError(
                .invalidToken,
                "The Authorization header must be 'Bearer <token>'.",
                headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""]
            )
        }
        return String(parts[1])
    }

    /// The user id of a valid token (the user's existence is checked with the membership lookup).
    func userId(_ request: Request) async throws -> UUID {
        let token = try Self.bearerToken(request)
        do {
            return try await services.jwt.verify(token).subject
        } catch {
            throw APIError(.invalidToken, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""])
        }
    }

    /// A user's memberships, or 401 INVALID_TOKEN when the user no longer exists (one statement,
    /// `app_enter_request`, in its own transaction).
    func memberships(of userId: UUID) async throws -> [(agencyId: UUID, role: Role)] {
        let scope = Database.Scope.entering(user: userId, agency: nil)
        return try await services.db.transaction(scope) { conn in
            guard let found = try await RequestTransaction(connection: conn, scope: scope).enter() else { throw Self.unknownUser }
            return found
        }
    }

    static var unknownUser: APIError { APIError(.invalidToken, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""]) }

    /// The lookup itself, on a connection whose transaction set `app.user_id` to `userId`.
    static func memberships(of userId: UUID, on conn: PostgresConnection) async throws -> [(agencyId: UUID, role: Role)] {
        let rows = try await conn.run(
            """
            SELECT tm.agency_id, tm.role FROM auth.users u
            LEFT JOIN team_members tm ON tm.user_id = u.id
            WHERE u.id = \(userId)
            """
        ).collect().map { try $0.decode((UUID?, String?).self) }
        guard !rows.isEmpty else { throw APIError(.invalidToken, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""]) }
        return rows.compactMap { agency, role in
            guard let agency, let role = role.flatMap(Role.init(rawValue:)) else { return nil }
            return (agency, role)
        }
    }

    /// The caller, looked up inside the request's own transaction. Opened with `.entering`, its first
    /// statement (`RequestTransaction.enter`) sets the user and the agency and returns the memberships;
    /// opened with the settings already applied (`app.user_id`, and `app.agency_id` when the header names
    /// one), the lookup is a statement of its own. Either way the agency is set before the handler runs.
    func caller(_ request: Request, userId: UUID, in transaction: RequestTransaction) async throws -> Caller {
        let memberships: [(agencyId: UUID, role: Role)]
        let entering = transaction.isEntering
        if entering {
            guard let found = try await transaction.enter() else { throw Self.unknownUser }
            memberships = found
        } else {
            memberships = try await Self.memberships(of: userId, on: transaction.connection)
        }
        let caller = try Self.caller(request, userId: userId, memberships: memberships)
        let set = entering ? transaction.agencyId : Self.headerAgency(request)
        if set != caller.agencyId { try await transaction.setAgency(caller.agencyId) }
        return caller
    }

    /// The agency `X-Agency-Id` names, if it is a UUID (a malformed one is refused by `caller`, after
    /// the user's existence was checked, as before).
    static func headerAgency(_ request: Request) -> UUID? {
        request.headers[.agencyId].flatMap { UUID(uuidString: $0.trimmingCharacters(in: .whitespaces)) }
    }

    static func caller(_ request: Request, userId: UUID, memberships: [(agencyId: UUID, role: Role)]) throws -> Caller {
        if request.headers[.agencyId] != nil {
            guard let agencyId = headerAgency(request) else {
                throw APIError.validation("X-Agency-Id", "must be a UUID")
            }
            // A foreign agency and one that does not exist answer the same.
            guard let m = memberships.first(where: { $0.agencyId == agencyId }) else {
                throw APIError(.agencyAccessDenied, "You are not a member of that agency.")
            }
            return Caller(userId: userId, agencyId: agencyId, role: m.role)
        }
        switch memberships.count {
        case 1: return Caller(userId: userId, agencyId: memberships[0].agencyId, role: memberships[0].role)
        case 0: throw APIError(.agencyAccessDenied, "You are not a member of any agency; create one with POST /api/v1/agencies.")
        default: throw APIError(.agencyRequired, "You belong to several agencies; send X-Agency-Id.")
        }
    }

    /// Whether the user was granted platform operator (`auth.platform_operators`); 401 INVALID_TOKEN when
    /// the user no longer exists.
    func isPlatformOperator(_ userId: UUID) async throws -> Bool {
        let found = try await services.db.transaction(.user(userId)) { conn in
            try await conn.run(
                """
                SELECT EXISTS (SELECT 1 FROM auth.platform_operators o WHERE o.user_id = u.id) FROM auth.users u WHERE u.id = \(userId)
                """
            ).collect().first?.decode(Bool.self)
        }
        guard let found else { throw APIError(.invalidToken, headers: [.wwwAuthenticate: "Bearer error=\"invalid_token\""]) }
        return found
    }

    /// Whether the request carries the ops token (compared in constant time).
    func hasOpsToken(_ request: Request) -> Bool {
        guard let expected = services.config.opsToken, let header = request.headers[.authorization] else { return false }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return constantTimeEqual(Array(parts[1].utf8), Array(expected.utf8))
    }
}

/// Compares secrets without leaking where they differ through timing.
func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    var diff = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<max(a.count, b.count) {
        diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
    }
    return diff == 0
}

extension HTTPField.Name {
    static let agencyId = Self("X-Agency-Id")!
    static let requestId = Self("X-Request-Id")!
    static let idempotencyKey = Self("Idempotency-Key")!
    static let idempotentReplayed = Self("Idempotent-Replayed")!
    static let xForwardedFor = Self("X-Forwarded-For")!
}
