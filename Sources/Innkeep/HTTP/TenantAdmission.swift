import PostgresNIO

/// What `RouteBuilder.tenant` hands the tenant context once the caller is verified.
struct TenantAdmission: Sendable {
    let caller: Caller
    let services: AppServices
    /// The body, parsed once (off the event loop when large) before the handler runs.
    let parsedBody: Result<JSONValue, JSONParser.Failure>?
    let idempotency: IdempotencyClaim?
    /// The transaction the caller was looked up in (absent for an idempotent create, whose blocks
    /// each run in a transaction of their own).
    let transaction: RequestTransaction?
}
