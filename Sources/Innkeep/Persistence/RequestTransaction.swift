import Foundation
import PostgresNIO
import Synchronization

/// The one transaction a tenant request runs in: opened before the caller's membership is looked up,
/// it then serves the handler's `read` and `transaction` blocks, and commits when the handler returns
/// (rolls back when it throws). One BEGIN/COMMIT pair per request instead of two: the membership
/// lookup used to be a transaction of its own (docs/benchmarks.md).
///
/// Blocks of one request share it, so they commit together. A block that throws may have left the
/// transaction aborted: the next block (a handler that recovers, such as a booking that lost a race
/// and reads the winner) first rolls back and begins again on the same connection, with the same
/// agency and user, so it sees the database as a fresh transaction would.
final class RequestTransaction: Sendable {
    let connection: PostgresConnection
    private let scope: Mutex<Database.Scope>
    private let failed = Mutex(false)

    init(connection: PostgresConnection, scope: Database.Scope) {
        self.connection = connection
        self.scope = Mutex(scope)
    }

    /// True until `enter` ran, for a transaction opened with `Database.Scope.entering`.
    var isEntering: Bool { scope.withLock { $0.entering } }

    /// The agency the transaction's `app.agency_id` holds now (nil: unset).
    var agencyId: UUID? { scope.withLock { $0.agencyId } }

    /// The request's first statement when its scope is `.entering`: `app_enter_request` sets `app.user_id`,
    /// `app.agency_id` (the header's agency, or the only membership without a header) and `app.worker`, and
    /// returns the caller's memberships, looked up under row-level security with that user: one round trip
    /// instead of three. Returns nil when the user does not exist.
    func enter() async throws -> [(agencyId: UUID, role: Role)]? {
        let (user, header) = scope.withLock { ($0.userId, $0.agencyId) }
        let rows = try await connection.query(
            "SELECT agency_id, role FROM app_enter_request(\(user), \(header))",
            logger: connection.logger
        ).collect().map { try $0.decode((UUID?, String?).self) }
        guard !rows.isEmpty else { return nil }
        let memberships = rows.compactMap { agency, role -> (agencyId: UUID, role: Role)? in
            guard let agency, let role = role.flatMap(Role.init(rawValue:)) else { return nil }
            return (agency, role)
        }
        // What the function set: the header's agency, or the only membership's (mirrors its SQL).
        let chosen = header ?? (memberships.count == 1 ? memberships[0].agencyId : nil)
        scope.withLock {
            $0.agencyId = chosen
            $0.entering = false
        }
        return memberships
    }

    /// Sets the agency once the caller's membership chose it (RLS reads `app.agency_id`).
    func setAgency(_ agencyId: UUID) async throws {
        try await Database.enterAgency(agencyId, on: connection)
        scope.withLock { $0.agencyId = agencyId }
    }

    /// Runs one block of the handler in the request's transaction.
    func run<T: Sendable>(_ body: (PostgresConnection) async throws -> T) async throws -> T {
        if failed.withLock({ $0 }) {
            let scope = scope.withLock { $0 }
            let logger = connection.logger
            try await connection.query("ROLLBACK", logger: logger)
            try await connection.query("BEGIN", logger: logger)
            try await Database.apply(scope, on: connection, logger: logger)
            failed.withLock { $0 = false }
        }
        do {
            return try await body(connection)
        } catch {
            failed.withLock { $0 = true }
            throw error
        }
    }
}
