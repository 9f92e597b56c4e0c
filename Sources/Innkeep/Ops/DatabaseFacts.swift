import Foundation
import PostgresNIO

/// What the database says about itself, asked as the runtime role (`/ops/env-sanity`, the `*_up` gauges).
struct DatabaseFacts: Sendable {
    var rlsEnforced: Bool
    var applied: Int
    var pending: Int
    var workerFresh: Bool

    static func read(_ conn: PostgresConnection, migrations: [Migration], logger: Logger, workerStaleAfterSeconds: Int) async throws -> DatabaseFacts
    {
        let status = try await Migrator(migrations: migrations, logger: logger).status(conn)
        return DatabaseFacts(
            rlsEnforced: try await rlsBindsThisRole(conn),
            applied: status.applied.count,
            pending: status.pending.count,
            workerFresh: try await JobRepository.anyWorkerBeat(conn, withinSeconds: workerStaleAfterSeconds)
        )
    }

    /// RLS binds the API only if its role is not superuser, not BYPASSRLS, owns no tenant table,
    /// and every table with an agency_id column has RLS enabled, forced, and a policy.
    static func rlsBindsThisRole(_ conn: PostgresConnection) async throws -> Bool {
        try await conn.run(
            """
            SELECT NOT r.rolsuper AND NOT r.rolbypassrls
               AND NOT EXISTS (
                   SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE c.relkind = 'r' AND n.nspname IN ('public', 'auth') AND pg_has_role(current_user, c.relowner, 'MEMBER'))
               AND NOT EXISTS (
                   SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                   JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'agency_id' AND NOT a.attisdropped
                   WHERE c.relkind = 'r' AND n.nspname IN ('public', 'auth')
                     AND NOT (c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)))
            FROM pg_roles r WHERE r.rolname = current_user
            """
        ).collect().first?.decode(Bool.self) ?? false
    }
}
