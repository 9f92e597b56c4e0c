import Foundation
import Hummingbird
import NIOCore
import PostgresNIO

/// One request as a handler sees it: the request, its collected body and the services.
public struct Call: Sendable {
    public let request: Request
    public let context: AppRequestContext
    /// The collected body (empty for methods without one); already checked for size and media type.
    public let body: ByteBuffer
    public let services: AppServices
    /// The body, parsed once (off the event loop when large) by `RouteBuilder` before the handler runs.
    let parsedBody: Result<JSONValue, JSONParser.Failure>?

    init(request: Request, context: AppRequestContext, body: ByteBuffer, services: AppServices,
         parsedBody: Result<JSONValue, JSONParser.Failure>? = nil) {
        self.request = request
        self.context = context
        self.body = body
        self.services = services
        self.parsedBody = parsedBody ?? BodyReader.parse(body)
    }

    /// The body as a JSON object, or 400 MALFORMED_JSON.
    public func json() throws -> FieldReader { try BodyReader.object(parsed: parsedBody) }

    /// The query string, for `FieldReader(query:)`; a repeated parameter keeps its last value.
    public var query: [String: String] {
        var result: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { result[String(key)] = String(value) }
        return result
    }

    /// A UUID path parameter, or 422 naming it.
    public func pathId(_ name: String = "id") throws -> UUID {
        guard let raw = context.parameters.get(name), let id = UUID(uuidString: raw) else {
            throw APIError.validation(name, "must be a UUID")
        }
        return id
    }
}

/// A request inside one agency, by a caller whose role was checked against the endpoint.
public struct TenantCall: Sendable {
    public let call: Call
    public let caller: Caller
    let idempotency: IdempotencyClaim?
    /// The transaction the caller was looked up in (absent for an idempotent create, whose blocks
    /// each run in a transaction of their own).
    let requestTransaction: RequestTransaction?

    init(call: Call, caller: Caller, idempotency: IdempotencyClaim?, transaction: RequestTransaction? = nil) {
        self.call = call
        self.caller = caller
        self.idempotency = idempotency
        requestTransaction = transaction
    }

    public var services: AppServices { call.services }

    /// Runs `body` in a transaction scoped to the caller's agency: the request's own, which commits
    /// when the handler returns (see `RequestTransaction`). For an idempotent request the reply is
    /// stored in the same transaction, so the action and its replay commit together.
    public func transaction(_ body: @escaping @Sendable (PostgresConnection) async throws -> Reply) async throws -> Reply {
        let caller = caller, claim = idempotency
        if let requestTransaction { return try await requestTransaction.run(body) }
        return try await call.services.db.transaction(.tenant(caller.agencyId, user: caller.userId)) { conn in
            let reply = try await body(conn)
            try await claim?.store(reply, on: conn)
            return reply
        }
    }

    /// A read scoped to the caller's agency.
    public func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        if let requestTransaction { return try await requestTransaction.run(body) }
        return try await call.services.db.transaction(.tenant(caller.agencyId, user: caller.userId), body)
    }
}
