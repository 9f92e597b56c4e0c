import Foundation
import Hummingbird
import Logging

/// Registers the endpoints of `API` on the router, applying each one's access rule before the
/// handler runs. A tenant handler cannot be reached without a verified `Caller`.
struct RouteBuilder {
    let router: Router<AppRequestContext>
    let services: AppServices
    var authenticator: Authenticator { Authenticator(services: services) }

    private func register(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Call) async throws -> Reply) {
        let services = services
        router.on(RouterPath(endpoint.routerPath), method: endpoint.method) { request, context in
            var request = request
            let body = try await BodyReader.collect(&request)
            let parsed = try await BodyReader.parseOffLoop(body)
            let reply = try await handler(Call(request: request, context: context, body: body, services: services, parsedBody: parsed))
            return reply.response
        }
    }

    /// Anyone may call it.
    func anonymous(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Call) async throws -> Reply) {
        precondition(endpoint.access == .anonymous, "\(endpoint) is not anonymous")
        register(endpoint, handler)
    }

    /// A signed-in user, outside any agency.
    func user(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Call, UUID) async throws -> Reply) {
        precondition(endpoint.access == .user, "\(endpoint) is not a user endpoint")
        let authenticator = authenticator
        register(endpoint) { call in
            let userId = try await authenticator.userId(call.request)
            _ = try await authenticator.memberships(of: userId)  // the user must still exist
            return try await handler(call, userId)
        }
    }

    /// A platform operator: the ops token, or a user granted with `innkeep operator grant` (SPEC §14).
    /// Anyone else with a valid token, agency admins included, gets 403 INSUFFICIENT_ROLE (never shadowed by
    /// ENFORCE_RBAC=false, which concerns agency roles).
    func ops(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Call) async throws -> Reply) {
        precondition(endpoint.access == .platformOperator, "\(endpoint) is not a platform endpoint")
        let authenticator = authenticator
        register(endpoint) { call in
            if authenticator.hasOpsToken(call.request) { return try await handler(call) }
            let userId = try await authenticator.userId(call.request)
            guard try await authenticator.isPlatformOperator(userId) else {
                throw APIError(.insufficientRole, "This endpoint is for platform operators.", details: ["allowed_roles": []])
            }
            return try await handler(call)
        }
    }

    /// A member of the request's agency whose role the endpoint allows.
    ///
    /// The caller is looked up in the transaction the handler then runs in (`RequestTransaction`), so a
    /// request pays one BEGIN/COMMIT pair. A create with an `Idempotency-Key` pays two: the caller is looked up
    /// in the transaction that claims the key, which must commit before the action runs, so a retry meanwhile
    /// sees it in progress (`Idempotency.run`).
    ///
    /// `inOneStatement` is a cheaper first try (`TenantEntry`) for a hot list or create: nil from it sends the
    /// request the full way. With an `Idempotency-Key`, the claim is first tried in one statement too, and then
    /// `inOneStatement` with the claim, which its statement answers (`TenantEntry.claim`).
    ///
    /// `awaitsNetwork`: the handler awaits the network before its statements (the DNS lookup of a URL it checks,
    /// SPEC §12–13), so the caller is admitted in a transaction of its own and the handler's `context.transaction`
    /// takes another: no pooled connection is held while a lookup hangs.
    func tenant(
        _ endpoint: Endpoint,
        _ handler: @escaping @Sendable (Request, TenantRequestContext) async throws -> Reply,
        inOneStatement: (@Sendable (Call, TenantEntry) async throws -> Reply?)? = nil,
        awaitsNetwork: Bool = false
    ) {
        guard case .roles = endpoint.access else { preconditionFailure("\(endpoint) is not a tenant endpoint") }
        precondition(inOneStatement == nil || endpoint.feature == nil, "\(endpoint): one statement is for endpoints without a feature")
        let authenticator = authenticator
        let services = services
        let entryRoles = endpoint.allowedRoles.map(\.rawValue)
        // Not for an endpoint with a feature: `app_admit` does not check features.
        let triesOneStatement = endpoint.feature == nil && (inOneStatement != nil || endpoint.idempotent)
        register(endpoint) { call in
            let userId = try await authenticator.userId(call.request)
            let headerAgency = Authenticator.headerAgency(call.request)
            // The rate limit runs before the transaction opens: no Redis call may hold a pooled connection
            // (SPEC §14). Its key is the token's user and the agency the header names ("default" without
            // one, when the caller has a single membership).
            try await Self.rateLimit(userId: userId, agency: headerAgency, services: services)
            // The transaction's first statement (`app_enter_request`, see `RequestTransaction.enter`) sets the
            // user and the agency the header names, before membership is checked, and returns the memberships:
            // safe, because it reads only the caller's own memberships (`WHERE user_id = caller`), and a
            // non-member is refused right after it, before any tenant statement.
            let scope = Database.Scope.entering(user: userId, agency: headerAgency)
            @Sendable func admitted(_ transaction: RequestTransaction) async throws -> Caller {
                let caller = try await authenticator.caller(call.request, userId: userId, in: transaction)
                try Self.authorize(caller, endpoint, services: services, logger: call.context.logger)
                if let feature = endpoint.feature {
                    try await FeatureRepository.require(feature, transaction.connection, agency: caller.agencyId)
                }
                return caller
            }
            let entry =
                triesOneStatement ? TenantEntry(call.request, agency: headerAgency, userId: userId, roles: entryRoles, services: services) : nil
            if endpoint.idempotent, let key = call.request.headers[.idempotencyKey] {
                return try await Idempotency.run(
                    key: key,
                    call: call,
                    scope: scope,
                    entry: entry,
                    admit: admitted,
                    inOneStatement: inOneStatement
                ) { caller, claim in
                    try await handler(call.request, call.admit(caller, idempotency: claim))
                }
            }
            if let inOneStatement, let entry, let reply = try await inOneStatement(call, entry) {
                return reply
            }
            if awaitsNetwork {
                let caller = try await services.db.transaction(scope) { conn in
                    try await admitted(RequestTransaction(connection: conn, scope: scope))
                }
                return try await handler(call.request, call.admit(caller))
            }
            return try await services.db.transaction(scope) { conn in
                let transaction = RequestTransaction(connection: conn, scope: scope)
                return try await handler(call.request, call.admit(try await admitted(transaction), transaction: transaction))
            }
        }
    }

    /// The per-user, per-agency rate limit (429 RATE_LIMITED). Never called with a database connection held.
    static func rateLimit(userId: UUID, agency: UUID?, services: AppServices) async throws {
        let agencyKey = agency?.uuidString.lowercased() ?? "default"
        if let retry = await services.rateLimiter.hit("req:\(agencyKey):\(userId)", limit: services.config.rateLimitPerMinute) {
            throw APIError.retryLater(.rateLimited, seconds: retry)
        }
    }

    /// 403 INSUFFICIENT_ROLE unless the role may use the endpoint (or, when a handler narrows it
    /// further, one of `allowed`); with ENFORCE_RBAC=false the denial is logged and counted but allowed
    /// (the seed's rollback switch).
    static func authorize(_ caller: Caller, _ endpoint: Endpoint, allowed: [Role]? = nil, services: AppServices, logger: Logger) throws {
        let allowed = allowed ?? endpoint.allowedRoles
        guard !allowed.contains(caller.role) else { return }
        let enforced = services.config.enforceRBAC
        services.metrics.rbacDenial(enforced: enforced)
        logger.notice(
            "rbac denial",
            metadata: [
                "endpoint": "\(endpoint)", "role": "\(caller.role.rawValue)", "enforced": "\(enforced)",
            ]
        )
        guard enforced else { return }
        throw APIError(
            .insufficientRole,
            "Your role (\(caller.role.rawValue)) may not use this endpoint.",
            details: ["allowed_roles": .array(allowed.map { .string($0.rawValue) })]
        )
    }
}

extension Call {
    /// The tenant handler's context, once `caller` is verified.
    fileprivate func admit(
        _ caller: Caller,
        idempotency: IdempotencyClaim? = nil,
        transaction: RequestTransaction? = nil
    ) throws
        -> TenantRequestContext
    {
        var parent = context
        parent.admission = TenantAdmission(
            caller: caller,
            services: services,
            parsedBody: parsedBody,
            idempotency: idempotency,
            transaction: transaction
        )
        return try TenantRequestContext(context: parent)
    }
}
