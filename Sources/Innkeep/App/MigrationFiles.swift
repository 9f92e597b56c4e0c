import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// `innkeep migrate new NAME`: the next numbered pair, with a header to fill in.
public enum MigrationFiles {
    public static func create(name: String, in directory: URL) throws -> [URL] {
        guard !name.isEmpty, name.count <= 60, name.allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" }), name.first!.isLetter else {
            throw MigrationError("name must be snake_case, e.g. add_property_photos")
        }
        let next = (try Migration.load(from: directory).last?.version ?? 0) + 1
        let stem = String(format: "%04d_%@", next, name)
        let up = directory.appendingPathComponent(stem + ".up.sql")
        let down = directory.appendingPathComponent(stem + ".down.sql")
        try """
        -- \(stem): <what this changes and why>
        -- Checklist (migrations/README.md): agency_id NOT NULL, composite keys with agency_id, indexes lead with agency_id,
        -- RLS enabled and forced with a policy, grants to innkeep_app, and a .down.sql that reverses it exactly.

        """.write(to: up, atomically: true, encoding: .utf8)
        try """
        -- Reverts \(stem). If it cannot be exact (data was dropped), say so here.

        """.write(to: down, atomically: true, encoding: .utf8)
        return [up, down]
    }
}
