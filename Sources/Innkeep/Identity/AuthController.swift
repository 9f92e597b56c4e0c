import Foundation
import PostgresNIO

/// Sign-up, login, `me` and agency creation (SPEC §2).
struct AuthController {
    static let tokenLifetime: Int64 = 3600
    /// Failed logins allowed per email per minute before 429.
    static let loginFailuresPerMinute = 10

    func addRoutes(to routes: RouteBuilder) {
        routes.anonymous(API.signup, signup)
        routes.anonymous(API.login, login)
        routes.user(API.me, me)
        routes.user(API.createAgency, createAgency)
    }

    static func userJSON(id: UUID, email: String, fullName: String) -> JSONValue {
        ["id": JSONValue(id), "email": .string(email), "full_name": .string(fullName)]
    }

    func token(_ services: AppServices, _ userId: UUID) async -> [String: JSONValue] {
        [
            "access_token": .string(await services.jwt.sign(subject: userId, lifetime: Self.tokenLifetime)), "token_type": "bearer",
            "expires_in": .int(Self.tokenLifetime),
        ]
    }

    /// The budget the anonymous auth endpoints share per client address (SPEC §14): checked first, before
    /// the body is read or a hash computed, and with no database connection held.
    static func limitByAddress(_ call: Call) async throws {
        let config = call.services.config
        let address = ClientAddress.resolve(
            peer: call.context.peerAddress,
            forwardedFor: call.request.headers[.xForwardedFor],
            trusted: config.trustedProxies
        )
        if let retry = await call.services.authRateLimiter.hit("auth:" + address, limit: config.authRateLimitPerMinute) {
            throw APIError.retryLater(.rateLimited, seconds: retry)
        }
    }

    /// `POST /auth/signup` body; with `agency_name` the new user also gets a new agency, as its admin.
    struct Signup {
        let email: String, password: String, fullName: String, agencyName: String?
        init(_ body: inout FieldReader) throws {
            let email = body.email("email", required: true)
            let password = body.string("password", required: true, length: 10...128)
            let fullName = body.string("full_name", required: true, length: 1...200)
            agencyName = body.string("agency_name", length: 1...200)
            try body.finish()
            (self.email, self.password, self.fullName) = (email!, password!, fullName!)
        }
    }

    /// `POST /auth/login` body.
    struct Login {
        let email: String, password: String
        init(_ body: inout FieldReader) throws {
            let email = body.string("email", required: true, length: 1...320)
            let password = body.string("password", required: true, length: 1...1024)
            try body.finish()
            (self.email, self.password) = (email!, password!)
        }
    }

    @Sendable func signup(_ call: Call) async throws -> Reply {
        try await Self.limitByAddress(call)
        var body = try call.json()
        let signup = try Signup(&body)
        let (email, fullName, agencyName) = (signup.email, signup.fullName, signup.agencyName)
        let hash = try await call.services.passwords.hash(signup.password)
        let userId = UUID.random()
        let agencyId = UUID.random()
        do {
            // Scoped to the new agency (when there is one) so RLS lets us create it and its first admin.
            let scope: Database.Scope = agencyName == nil ? .none : .tenant(agencyId, user: userId)
            try await call.services.db.transaction(scope) { conn in
                try await UserRepository.create(conn, id: userId, email: email, passwordHash: hash, fullName: fullName)
                if let agencyName {
                    try await AgencyRepository.create(conn, id: agencyId, name: agencyName, admin: userId)
                }
            }
        } catch  where isPostgresError(error, state: SQLState.uniqueViolation) {
            throw APIError(.emailTaken)
        }
        var reply = await token(call.services, userId)
        reply["user"] = Self.userJSON(id: userId, email: email, fullName: fullName)
        return .json(.object(reply), status: .created)
    }

    @Sendable func login(_ call: Call) async throws -> Reply {
        try await Self.limitByAddress(call)
        var body = try call.json()
        let login = try Login(&body)
        let (email, password) = (login.email, login.password)
        let services = call.services
        // Counted before the hash, atomically (INCR): concurrent attempts each take a place in the window, so
        // no more than the limit can be checking a password at once; a success gives its place back.
        let limitKey = "login:" + email.lowercased()
        if let retry = await services.authRateLimiter.hit(limitKey, limit: Self.loginFailuresPerMinute) {
            throw APIError.retryLater(.rateLimited, seconds: retry)
        }
        let user: (UUID, String)?
        let valid: Bool
        do {
            user = try await services.db.transaction(.none) { conn in
                try await UserRepository.credentials(conn, email: email)
            }
            // Same work and the same answer for an unknown email and a wrong password.
            valid = try await services.passwords.verify(password, hash: user?.1 ?? services.passwords.decoy)
        } catch {
            await services.authRateLimiter.undo(limitKey)  // a 503 is not a failed attempt
            throw error
        }
        guard let user, valid else { throw APIError(.invalidCredentials) }
        await services.authRateLimiter.undo(limitKey)
        return .json(.object(await token(services, user.0)))
    }

    @Sendable func me(_ call: Call, _ userId: UUID) async throws -> Reply {
        try await call.services.db.transaction(.user(userId)) { conn in
            guard let (email, fullName) = try await UserRepository.profile(conn, id: userId) else { throw APIError(.invalidToken) }
            let memberships = try await UserRepository.memberships(conn, id: userId).map { m -> JSONValue in
                ["agency_id": JSONValue(m.agencyId), "agency_name": .string(m.agencyName), "role": .string(m.role.rawValue)]
            }
            let invitations = try await InvitationRepository.openForInvitee(conn)
            return .json([
                "user": Self.userJSON(id: userId, email: email, fullName: fullName), "memberships": .array(memberships),
                "invitations": .array(invitations),
            ])
        }
    }

    @Sendable func createAgency(_ call: Call, _ userId: UUID) async throws -> Reply {
        var body = try call.json()
        let name = body.string("name", required: true, length: 1...200)
        try body.finish()
        let agencyId = UUID.random()
        let agencyName = name!
        return try await call.services.db.transaction(.tenant(agencyId, user: userId)) { conn in
            let agency = try await AgencyRepository.create(conn, id: agencyId, name: agencyName, admin: userId)
            return .json(agency, status: .created)
        }
    }
}
