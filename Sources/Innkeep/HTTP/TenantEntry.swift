import Foundation
import Hummingbird
import PostgresNIO

/// A tenant read that admits its caller and reads in one statement (issue 17, migration 0016): what a hot
/// list gets before its caller's membership is known. Its statement calls a SQL function that runs
/// `app_admit` (the settings row-level security reads, set only for a member of the agency with one of
/// the endpoint's roles) and then the query, so the request costs one round trip instead of four (BEGIN,
/// `app_enter_request`, the query, COMMIT).
///
/// Anything else goes the full way (`RouteBuilder.tenant`), which writes the exact answer: a caller the
/// function does not admit (SQLSTATE IK403: not a member, several agencies without `X-Agency-Id`, a role
/// the endpoint refuses — also when ENFORCE_RBAC=false lets it through), a malformed `X-Agency-Id`, and a
/// request whose parameters the handler refuses (so a non-member learns nothing from a 400).
struct TenantEntry: Sendable {
    /// From the verified token.
    let userId: UUID
    /// The agency `X-Agency-Id` names; nil without the header.
    let agency: UUID?
    /// The endpoint's roles, as `app_admit` compares them.
    let roles: [String]
    let services: AppServices

    /// Nil when the header is there but not a UUID. `roles`: the endpoint's, spelled once per route
    /// (`RouteBuilder.tenant`), not per request.
    init?(_ request: Request, userId: UUID, roles: [String], services: AppServices) {
        let agency = Authenticator.headerAgency(request)
        if request.headers[.agencyId] != nil, agency == nil { return nil }
        self.userId = userId
        self.agency = agency
        self.roles = roles
        self.services = services
    }

    /// Runs `body`'s one statement on its own (`Database.statement`); nil when the function did not admit
    /// the caller. Counted in `one_statement_reads_total`.
    func read(_ body: @escaping @Sendable (PostgresConnection) async throws -> Reply) async throws -> Reply? {
        do {
            let reply = try await services.db.statement(body)
            services.metrics.oneStatementRead(answered: true)
            return reply
        } catch let error where isPostgresError(error, state: Self.notAdmitted) {
            services.metrics.oneStatementRead(answered: false)
            return nil
        }
    }

    /// What `app_admit` raises for a caller it does not admit.
    static let notAdmitted = "IK403"
}
