import Foundation
import PostgresNIO

/// The `jobs` queue and the workers' heartbeats. Claims use `FOR UPDATE SKIP LOCKED`, so any number
/// of workers can poll without running a job twice.
enum JobRepository {
    /// A job claimed by one worker.
    struct Claim: Sendable {
        let id: UUID, kind: String
        /// A job with a `unique_name` is rescheduled rather than finished.
        let recurring: Bool
    }

    static func beat(_ conn: PostgresConnection, worker: String) async throws {
        try await conn.run(
            """
            INSERT INTO worker_heartbeats (worker_id, hostname) VALUES (\(worker), \(ProcessInfo.processInfo.hostName))
            ON CONFLICT (worker_id) DO UPDATE SET beat_at = now()
            """
        )
    }

    /// Queues the recurring job `name` unless it is queued already.
    static func ensureRecurring(_ conn: PostgresConnection, name: String) async throws {
        try await conn.run("INSERT INTO jobs (kind, unique_name) VALUES (\(name), \(name)) ON CONFLICT (unique_name) DO NOTHING")
    }

    /// Claims the next due job (or one whose worker died `lockTimeoutSeconds` ago).
    static func claimNext(_ conn: PostgresConnection, worker: String, lockTimeoutSeconds: Int) async throws -> Claim? {
        try await conn.run(
            """
            UPDATE jobs SET locked_by = \(worker), locked_at = now(), attempts = attempts + 1
            WHERE id = (
                SELECT id FROM jobs
                WHERE finished_at IS NULL AND run_at <= now()
                  AND (locked_at IS NULL OR locked_at < now() - make_interval(secs => \(lockTimeoutSeconds)))
                ORDER BY run_at FOR UPDATE SKIP LOCKED LIMIT 1)
            RETURNING id, kind, unique_name IS NOT NULL
            """
        ).collect().first.map { row in
            let (id, kind, recurring) = try row.decode((UUID, String, Bool).self)
            return Claim(id: id, kind: kind, recurring: recurring)
        }
    }

    static func finish(_ conn: PostgresConnection, id: UUID) async throws {
        try await conn.run("UPDATE jobs SET finished_at = now() WHERE id = \(id)")
    }

    /// Releases a recurring job and runs it again in `seconds`.
    static func reschedule(_ conn: PostgresConnection, id: UUID, inSeconds seconds: Int) async throws {
        try await conn.run(
            """
            UPDATE jobs SET locked_by = NULL, locked_at = NULL, last_error = NULL, attempts = 0,
                   run_at = now() + make_interval(secs => \(seconds))
            WHERE id = \(id)
            """
        )
    }

    /// Releases a failed job with its error; it is retried after a back-off of 30 s per attempt, at most an hour.
    static func fail(_ conn: PostgresConnection, id: UUID, error: String) async throws {
        try await conn.run(
            """
            UPDATE jobs SET locked_by = NULL, locked_at = NULL, last_error = \(error),
                   run_at = now() + make_interval(secs => least(attempts * 30, 3600))
            WHERE id = \(id)
            """
        )
    }

    /// Whether any worker beat within the last `seconds` (env-sanity).
    static func anyWorkerBeat(_ conn: PostgresConnection, withinSeconds seconds: Int) async throws -> Bool {
        try await conn.run(
            """
            SELECT EXISTS (SELECT 1 FROM worker_heartbeats WHERE beat_at > now() - make_interval(secs => \(seconds)))
            """
        ).collect().first?.decode(Bool.self) ?? false
    }
}
