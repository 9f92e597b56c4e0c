import Foundation
import Hummingbird
import PostgresNIO

/// A tenant request that admits its caller and answers in one statement (issue 17, migrations 0016–0020): what
/// a hot list, a booking create, a calendar or the claim of an `Idempotency-Key` gets before its caller's
/// membership is known. Its statement calls a SQL function that runs `app_admit` (the settings row-level
/// security reads, set only for a member of the agency with one of the endpoint's roles) and then the query or
/// the write, so the request costs one round trip instead of four or five (BEGIN, `app_enter_request`, the
/// work, COMMIT).
///
/// Anything else goes the full way (`RouteBuilder.tenant`), which writes the exact answer: a caller the
/// function does not admit (SQLSTATE IK403: not a member, several agencies without `X-Agency-Id`, a role
/// the endpoint refuses — also when ENFORCE_RBAC=false lets it through), a booking the function does not
/// create (IK422, or a race it lost: the full path says why), a calendar's property the caller may not see
/// (IK404), a malformed `X-Agency-Id`, and a request whose parameters or body the handler refuses (so a
/// non-member learns nothing from a 400).
struct TenantEntry: Sendable {
    /// From the verified token.
    let userId: UUID
    /// The agency `X-Agency-Id` names; nil without the header.
    let agency: UUID?
    /// The endpoint's roles, as `app_admit` compares them.
    let roles: [String]
    let services: AppServices
    /// When the first try began: `run` measures its quarter of the deadline from here.
    private(set) var started = ContinuousClock.now
    /// The claimed `Idempotency-Key` whose answer the statement records (`app_keep_answer`); nil without a key.
    private(set) var claim: IdempotencyClaim?

    /// What is left of the deadline counted from `started` (a little before the statement's own, which starts
    /// when `run` asks for a connection), less a margin for the statement's way to Postgres and its commit: the
    /// time a statement that writes may run (`p_budget_ms`). A statement that is its own transaction commits when
    /// it ends, even after the API answered 503 at its deadline, so the SQL function raises 57014 (nothing
    /// written) when it ran longer, on Postgres's own clock (`app_create_booking`, `app_admit_and_claim_key`).
    var budgetMilliseconds: Int { max(0, Int((started + services.db.deadline - .now) / .milliseconds(1)) - 50) }

    /// Nil when the header is there but not a UUID. `agency`: `Authenticator.headerAgency` of the request, read
    /// once by `RouteBuilder.tenant`; `roles`: the endpoint's, spelled once per route, not per request.
    init?(_ request: Request, agency: UUID?, userId: UUID, roles: [String], services: AppServices) {
        if request.headers[.agencyId] != nil, agency == nil { return nil }
        self.userId = userId
        self.agency = agency
        self.roles = roles
        self.services = services
    }

    /// The same entry for the action after its key's claim (a statement of its own, committed), whose statement
    /// records its answer on `claim`. Its time starts now, as the full path's action transaction gets a deadline
    /// of its own after the claim's.
    func answering(_ claim: IdempotencyClaim) -> TenantEntry {
        var entry = self
        entry.claim = claim
        entry.started = .now
        return entry
    }

    /// Runs `body`'s one statement on its own (`Database.statement`: one statement is one transaction); nil
    /// when the function left the answer to the full path. Counted in `one_statement_requests_total`.
    ///
    /// The full path gets a deadline of its own, so a statement that took long to fail (a lock wait, a wait for
    /// a connection) would stretch the request to twice the deadline: past a quarter of it, the answer is 503
    /// `DATABASE_UNAVAILABLE` instead, and the request ends within 1.25 deadlines (SPEC §6: 503 in under 2 s).
    func run<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T? {
        do {
            let answer = try await services.db.statement(body)
            services.metrics.oneStatementRequest(answered: true)
            return answer
        } catch let error where Self.fullPathAnswers.contains(where: { isPostgresError(error, state: $0) }) {
            services.metrics.oneStatementRequest(answered: false)
            guard ContinuousClock.now - started < services.db.deadline / 4 else { throw DatabaseUnavailable(underlying: error) }
            return nil
        }
    }

    /// What `app_admit` raises for a caller it does not admit.
    static let notAdmitted = "IK403"
    /// What `app_create_booking` raises for a booking the full path would refuse, or might.
    static let notCreated = "IK422"
    /// What `app_property_calendar` raises for a property the caller may not see: the full path writes the 404.
    static let notFound = "IK404"
    /// The states after which the full path answers: a statement that fails writes nothing. A create that lost
    /// a race (the other booking's nights, or a deleted property) gets the full path's 409 or 404.
    static let fullPathAnswers = [notAdmitted, notCreated, notFound, SQLState.exclusionViolation, SQLState.foreignKeyViolation]
}
