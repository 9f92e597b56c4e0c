import Crypto
import Foundation
import Logging
import PostgresNIO

/// One migration: a pair of plain SQL files `NNNN_snake_name.up.sql` / `.down.sql`.
public struct Migration: Sendable, Equatable {
    public let version: Int
    public let name: String
    public let up: String
    public let down: String
    /// sha256 over both files (SPEC §14); an applied migration whose up or down file changed stops everything.
    /// Prefixed so it can never equal `upOnlyChecksum`.
    public var checksum: String {
        var hasher = SHA256()
        hasher.update(data: Array("up \(up.utf8.count)\n".utf8) + Array(up.utf8))
        hasher.update(data: Array("down \(down.utf8.count)\n".utf8) + Array(down.utf8))
        return "v2:" + hasher.finalize().hexString
    }

    /// The checksum earlier versions recorded (the up file only): accepted for rows they wrote, which
    /// `migrate up` then rewrites to `checksum`.
    var upOnlyChecksum: String { SHA256.hash(data: Array(up.utf8)).hexString }

    /// Reads every pair in `directory`, ordered by version; a missing half or a gap is an error.
    public static func load(from directory: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        var byVersion: [Int: (name: String, up: String?, down: String?)] = [:]
        for file in files where file.hasSuffix(".sql") {
            let isUp = file.hasSuffix(".up.sql")
            guard isUp || file.hasSuffix(".down.sql") else { throw MigrationError("\(file): must end in .up.sql or .down.sql") }
            let stem = file.dropLast(isUp ? 7 : 9)
            let parts = stem.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]),
                parts[1].allSatisfy({ $0.isLowercase || $0.isNumber || $0 == "_" })
            else { throw MigrationError("\(file): name must be NNNN_snake_name.up.sql or .down.sql") }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            var entry = byVersion[version] ?? (String(parts[1]), nil, nil)
            guard entry.name == String(parts[1]) else { throw MigrationError("version \(version) has two names") }
            if isUp { entry.up = sql } else { entry.down = sql }
            byVersion[version] = entry
        }
        return try byVersion.keys.sorted().enumerated().map { index, version in
            let entry = byVersion[version]!
            guard version == index + 1 else { throw MigrationError("migration versions must run 0001, 0002, … without gaps (found \(version))") }
            guard let up = entry.up, let down = entry.down else {
                throw MigrationError(String(format: "%04d_%@ needs both .up.sql and .down.sql", version, entry.name))
            }
            return Migration(version: version, name: entry.name, up: up, down: down)
        }
    }

    /// `MIGRATIONS_DIR`, else `./migrations`, else `migrations/` beside an ancestor of the executable.
    public static func defaultDirectory() -> URL {
        ShippedFile.locate("migrations", variable: "MIGRATIONS_DIR", probe: "migrations/0001_identity_and_agencies.up.sql")
    }
}
