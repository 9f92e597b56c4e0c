import Foundation
import Hummingbird
import Logging
import NIOCore
import PostgresNIO

/// The context a tenant handler receives: Hummingbird's context of the request, narrowed to a caller whose
/// membership and role were verified, with the request's transaction (Hummingbird's `ChildRequestContext`,
/// as in hummingbird-examples' auth-otp). Only `RouteBuilder.tenant` makes one.
public struct TenantRequestContext: ChildRequestContext {
    public typealias ParentContext = AppRequestContext
    public var coreContext: CoreRequestContextStorage
    public let requestId: String
    public let peerAddress: String?
    let admission: TenantAdmission

    /// Refuses a parent that `RouteBuilder.tenant` did not admit: a tenant handler cannot run without a
    /// verified caller.
    public init(context: AppRequestContext) throws {
        guard let admission = context.admission else { throw APIError(.authRequired) }
        coreContext = context.coreContext
        requestId = context.requestId
        peerAddress = context.peerAddress
        self.admission = admission
    }

    /// The verified caller: the agency every statement of this request is scoped to, and the role.
    public var caller: Caller { admission.caller }
    public var services: AppServices { admission.services }

    public var maxUploadSize: Int { BodyReader.maxBytes }

    /// The body as a JSON object, or 400 MALFORMED_JSON.
    public func json() throws -> FieldReader { try BodyReader.object(parsed: admission.parsedBody) }

    /// Runs `body` in a transaction scoped to the caller's agency: the request's own, which commits
    /// when the handler returns (see `RequestTransaction`). For an idempotent request the reply is
    /// stored in the same transaction, so the action and its replay commit together.
    public func transaction(_ body: @escaping @Sendable (PostgresConnection) async throws -> Reply) async throws -> Reply {
        let claim = admission.idempotency
        if let requestTransaction = admission.transaction { return try await requestTransaction.run(body) }
        return try await services.db.transaction(.tenant(caller.agencyId, user: caller.userId)) { conn in
            let reply = try await body(conn)
            try await claim?.store(reply, on: conn)
            return reply
        }
    }

    /// A read scoped to the caller's agency.
    public func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        if let requestTransaction = admission.transaction { return try await requestTransaction.run(body) }
        return try await services.db.transaction(.tenant(caller.agencyId, user: caller.userId), body)
    }
}
