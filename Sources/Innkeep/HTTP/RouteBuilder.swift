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
            let reply = try await handler(Call(request: request, context: context, body: body, services: services))
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

    /// The ops token; or, for `.adminOrOpsToken`, an admin of the request's agency.
    func ops(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Call) async throws -> Reply) {
        let authenticator = authenticator, services = services
        register(endpoint) { call in
            if authenticator.hasOpsToken(call.request) { return try await handler(call) }
            guard endpoint.access == .adminOrOpsToken else {
                // A valid user token is a real identity without the right to this: 403, not 401.
                _ = try await authenticator.userId(call.request)
                throw APIError(.insufficientRole, "This endpoint requires the ops token.", details: ["allowed_roles": []])
            }
            let caller = try await authenticator.caller(call.request)
            try Self.authorize(caller, endpoint, services: services, logger: call.context.logger)
            return try await handler(call)
        }
    }

    /// A member of the request's agency whose role the endpoint allows.
    ///
    /// The caller is looked up in the transaction the handler then runs in (`RequestTransaction`), so a
    /// request pays one BEGIN/COMMIT pair. A create with an `Idempotency-Key` keeps separate ones: its
    /// claim must commit before the action runs, so a retry meanwhile sees it in progress.
    func tenant(_ endpoint: Endpoint, _ handler: @escaping @Sendable (TenantCall) async throws -> Reply) {
        guard case .roles = endpoint.access else { preconditionFailure("\(endpoint) is not a tenant endpoint") }
        let authenticator = authenticator, services = services
        register(endpoint) { call in
            if endpoint.idempotent, let key = call.request.headers[.idempotencyKey] {
                let caller = try await authenticator.caller(call.request)
                try await Self.admit(caller, endpoint, services: services, logger: call.context.logger)
                if let feature = endpoint.feature {
                    try await services.db.transaction(.tenant(caller.agencyId, user: caller.userId)) { conn in
                        try await FeatureRepository.require(feature, conn, agency: caller.agencyId)
                    }
                }
                return try await Idempotency.run(key: key, call: call, caller: caller) { claim in
                    try await handler(TenantCall(call: call, caller: caller, idempotency: claim))
                }
            }
            let userId = try await authenticator.userId(call.request)
            // The transaction opens with the agency the header names, before membership is checked:
            // safe, because the one query run before the check reads only the caller's own
            // memberships (`WHERE user_id = caller`), and a non-member is refused right after it.
            let scope = Database.Scope(agencyId: Authenticator.headerAgency(call.request), userId: userId)
            return try await services.db.transaction(scope) { conn in
                let transaction = RequestTransaction(connection: conn, scope: scope)
                let caller = try await authenticator.caller(call.request, userId: userId, in: transaction)
                try await Self.admit(caller, endpoint, services: services, logger: call.context.logger)
                if let feature = endpoint.feature {
                    try await FeatureRepository.require(feature, conn, agency: caller.agencyId)
                }
                return try await handler(TenantCall(call: call, caller: caller, idempotency: nil, transaction: transaction))
            }
        }
    }

    /// The per-user rate limit (429 RATE_LIMITED), then the role check.
    static func admit(_ caller: Caller, _ endpoint: Endpoint, services: AppServices, logger: Logger) async throws {
        if let retry = await services.rateLimiter.hit(
            "req:\(caller.agencyId):\(caller.userId)", limit: services.config.rateLimitPerMinute)
        {
            throw APIError.retryLater(.rateLimited, seconds: retry)
        }
        try authorize(caller, endpoint, services: services, logger: logger)
    }

    /// 403 INSUFFICIENT_ROLE unless the role may use the endpoint; with ENFORCE_RBAC=false the
    /// denial is logged and counted but allowed (the seed's rollback switch).
    static func authorize(_ caller: Caller, _ endpoint: Endpoint, services: AppServices, logger: Logger) throws {
        guard !endpoint.allowedRoles.contains(caller.role) else { return }
        let enforced = services.config.enforceRBAC
        services.metrics.rbacDenial(enforced: enforced)
        logger.notice("rbac denial", metadata: [
            "endpoint": "\(endpoint)", "role": "\(caller.role.rawValue)", "enforced": "\(enforced)",
        ])
        guard enforced else { return }
        throw APIError(.insufficientRole, "Your role (\(caller.role.rawValue)) may not use this endpoint.",
                       details: ["allowed_roles": .array(endpoint.allowedRoles.map { .string($0.rawValue) })])
    }
}
