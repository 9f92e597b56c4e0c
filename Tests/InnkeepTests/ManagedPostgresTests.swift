import Foundation
import Logging
import PostgresNIO
import Testing

@testable import Innkeep

// Managed Postgres over TLS (SPEC §15): against the second cluster of `scripts/stack pg-tls-start`, which
// accepts TLS connections only and whose certificate (for localhost and 127.0.0.1) a throwaway CA signed.

enum TLSCluster {
    static let port = Int(TestEnv.env["INNKEEP_PG_TLS_PORT"] ?? "") ?? TestEnv.pgPort + 10

    /// The cluster's port and CA files, starting it if needed (`scripts/stack pg-tls-start` is idempotent).
    static func start() async throws -> (ca: String, wrongCA: String) {
        let started = try await TestEnv.shell(
            "\(TestEnv.stackScript) pg-tls-start && \(TestEnv.stackScript) env",
            env: ["INNKEEP_PG_TLS_PORT": "\(port)", "INNKEEP_PG_PORT": "\(TestEnv.pgPort)"]
        )
        guard started.status == 0 else { throw TestFailure("scripts/stack pg-tls-start failed: \(started.output)") }
        func value(_ name: String) -> String? {
            started.output.split(separator: "\n").first { $0.hasPrefix("export \(name)=") }.map { String($0.dropFirst("export \(name)=".count)) }
        }
        guard let ca = value("INNKEEP_PG_TLS_CA"), let wrong = value("INNKEEP_PG_TLS_WRONG_CA") else {
            throw TestFailure("scripts/stack env names no TLS CA: \(started.output)")
        }
        return (ca, wrong)
    }

    static func url(user: String, password: String?, database: String, host: String = "localhost", port: Int = port, _ query: String) -> String {
        "postgres://\(user)\(password.map { ":" + $0 } ?? "")@\(host):\(port)/\(database)?\(query)"
    }
}

/// Runs the built `innkeep` with `args` and exactly `env` (60 s at most); returns its status, stdout and stderr.
func innkeep(_ args: [String], env: [String: String]) async throws -> (status: Int32, out: String, err: String) {
    let r = try await TestEnv.child(
        "/usr/bin/timeout",
        ["-s", "KILL", "60", MigrationFixture.binary] + args,
        environment: env.merging(["PATH": TestEnv.env["PATH"] ?? "/usr/bin:/bin", "LOG_LEVEL": "error"]) { a, _ in a },
        directory: TestEnv.repo
    )
    return (r.status, String(decoding: r.out, as: UTF8.self), String(decoding: r.err, as: UTF8.self))
}

@Suite(.serialized) struct ManagedPostgresTests {
    static let ownerPassword = "tls-owner-secret-9f3a"
    static let apiPassword = "tls-api-secret-7c1e"

    /// `db init`, `migrate up` and `serve`'s checks, the pool and /health, all with sslmode=verify-full.
    @Test func verifyFullEndToEnd() async throws {
        let (ca, _) = try await TLSCluster.start()
        let db = "innkeep_tls_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(10).lowercased()
        let query = "sslmode=verify-full&sslrootcert=\(ca)"
        let env = [
            "DATABASE_URL": TLSCluster.url(user: "innkeep_tls_api", password: Self.apiPassword, database: db, query),
            "MIGRATION_DATABASE_URL": TLSCluster.url(user: "innkeep_tls_owner", password: Self.ownerPassword, database: db, query),
            "JWT_SECRET": TestEnv.jwtSecret,
        ]
        let admin = TLSCluster.url(user: "postgres", password: nil, database: "postgres", query)
        let initialized = try await innkeep(["db", "init", "--admin-url", admin], env: env)
        #expect(initialized.status == 0, "\(initialized.err)")
        #expect(initialized.out.contains("database \(db) ready"))
        let migrated = try await innkeep(["migrate", "up", "--dir", TestEnv.migrationsDir.path], env: env)
        #expect(migrated.status == 0, "\(migrated.err)")
        #expect(migrated.out.contains("applied 0001_"))
        let status = try await innkeep(["migrate", "status", "--dir", TestEnv.migrationsDir.path], env: env)
        #expect(status.out.contains(" 0 pending"), "\(status.out) \(status.err)")

        // The built `innkeep serve` starts on it and reports the database healthy.
        let port = try await #require(
            Int(
                try TestEnv.shell(
                    "python3 -c \"import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])\""
                ).output
                    .trimmingCharacters(in: .whitespacesAndNewlines)
            )
        )
        let serve = Process()
        serve.executableURL = URL(fileURLWithPath: MigrationFixture.binary)
        serve.arguments = ["serve"]
        serve.environment = env.merging(["PATH": TestEnv.env["PATH"] ?? "/usr/bin:/bin", "PORT": "\(port)", "LOG_LEVEL": "error"]) { a, _ in a }
        serve.currentDirectoryURL = TestEnv.repo
        serve.standardInput = FileHandle.nullDevice
        serve.standardOutput = FileHandle.nullDevice
        serve.standardError = FileHandle.nullDevice
        try serve.run()
        defer { if serve.isRunning { kill(serve.processIdentifier, SIGKILL) } }
        var health = ""
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while !health.contains("\"db\":\"ok\""), serve.isRunning, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            health = try await TestEnv.shell("curl -s --max-time 2 http://127.0.0.1:\(port)/health").output
        }
        #expect(health.contains("\"db\":\"ok\""), "innkeep serve /health: \(health)")
        serve.terminate()  // SIGTERM: a graceful shutdown
        for _ in 0..<100 where serve.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!serve.isRunning, "innkeep serve did not stop on SIGTERM")

        // serve: its start-up check (migrations) and worker check, then the API on the TLS pool.
        let config = try AppConfig(environment: env.merging(["OPS_TOKEN": TestEnv.opsToken]) { a, _ in a })
        #expect(config.databaseURL.sslMode == .verifyFull)
        try await Runner.checkMigrations(config: config, migrations: try Migration.load(from: TestEnv.migrationsDir), logger: TestEnv.logger)
        try await Runner.checkConnection(config.databaseURL, logger: TestEnv.logger)
        try await withApp(
            database: db,
            port: TLSCluster.port,
            env: [
                "DATABASE_URL": env["DATABASE_URL"], "MIGRATION_DATABASE_URL": env["MIGRATION_DATABASE_URL"],
            ]
        ) { api in
            let health = try await api.send(.get, "/health")
            #expect(health.status == .ok, "\(health.raw)")
            #expect(health["db"]?.stringValue == "ok")
            // The pool's connections are encrypted.
            let ssl = try await api.services.db.transaction(.none) { conn in
                try await conn.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: TestEnv.logger)
                    .collect().first?.decode(Bool.self)
            }
            #expect(ssl == true)
            // And the app works on it: a sign-up writes through RLS-scoped transactions.
            let user = try await api.signup(agencyName: "Over TLS")
            #expect(try await api.send(.get, "/api/v1/me", token: user.token).status == .ok)
        }
        // verify-ca (no host name check) and require (no certificate check) connect too; so does the default, prefer.
        for mode in ["sslmode=verify-ca&sslrootcert=\(ca)", "sslmode=require", "sslmode=prefer", ""] {
            let url = try PostgresURL.parse(
                TLSCluster.url(user: "postgres", password: nil, database: "postgres", host: "127.0.0.1", mode),
                source: "--admin-url"
            )
            let conn = try await PostgresConnection.open(url, logger: TestEnv.logger)
            let ssl = try await conn.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", logger: TestEnv.logger)
                .collect().first?.decode(Bool.self)
            #expect(ssl == true, "\(mode)")
            try await conn.close()
        }
        let adminURL = try PostgresURL.parse(admin, source: "--admin-url")
        let conn = try await PostgresConnection.open(adminURL, logger: TestEnv.logger)
        try await conn.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \"\(db)\" WITH (FORCE)"), logger: TestEnv.logger)
        try await conn.close()
    }

    /// The one line each misconfiguration prints: it names the variable, says what is wrong, never the password.
    static func expectRefusal(
        _ result: (status: Int32, out: String, err: String),
        names variable: String,
        saying reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.status != 0, sourceLocation: sourceLocation)
        let line = result.err.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!line.contains("\n"), "one line: \(line)", sourceLocation: sourceLocation)
        #expect(line.hasPrefix("innkeep: \(variable): cannot connect to "), "\(line)", sourceLocation: sourceLocation)
        #expect(line.contains(reason), "\(line)", sourceLocation: sourceLocation)
        for secret in [ownerPassword, apiPassword] {
            #expect(!line.contains(secret), "the password leaked: \(line)", sourceLocation: sourceLocation)
        }
    }

    @Test func disableAgainstATLSOnlyServerIsRefusedClearly() async throws {
        _ = try await TLSCluster.start()
        let plain = TLSCluster.url(
            user: "innkeep_tls_owner",
            password: Self.ownerPassword,
            database: "postgres",
            host: "127.0.0.1",
            "sslmode=disable"
        )
        let env = [
            "DATABASE_URL": plain, "MIGRATION_DATABASE_URL": plain.replacingOccurrences(of: "innkeep_tls_owner", with: "other_owner"),
            "JWT_SECRET": TestEnv.jwtSecret,
        ]
        Self.expectRefusal(
            try await innkeep(["migrate", "status", "--dir", TestEnv.migrationsDir.path], env: env),
            names: "MIGRATION_DATABASE_URL",
            saying: "the server accepts only TLS connections"
        )
        Self.expectRefusal(try await innkeep(["worker"], env: env), names: "DATABASE_URL", saying: "accepts only TLS connections")
        Self.expectRefusal(try await innkeep(["serve"], env: env), names: "DATABASE_URL", saying: "accepts only TLS connections")
        let admin = TLSCluster.url(user: "postgres", password: nil, database: "postgres", "sslmode=disable")
        Self.expectRefusal(
            try await innkeep(["db", "init", "--admin-url", admin], env: env),
            names: "--admin-url",
            saying: "accepts only TLS connections"
        )
    }

    @Test func verifyFullWithTheWrongCAIsRefusedClearly() async throws {
        let (_, wrongCA) = try await TLSCluster.start()
        let url = TLSCluster.url(
            user: "innkeep_tls_api",
            password: Self.apiPassword,
            database: "postgres",
            "sslmode=verify-full&sslrootcert=\(wrongCA)"
        )
        let env = ["DATABASE_URL": url, "JWT_SECRET": TestEnv.jwtSecret]
        Self.expectRefusal(
            try await innkeep(["migrate", "status", "--dir", TestEnv.migrationsDir.path], env: env),
            names: "DATABASE_URL",
            saying: "the server's TLS certificate is not signed by a CA in sslrootcert \(wrongCA)"
        )
        Self.expectRefusal(try await innkeep(["worker"], env: env), names: "DATABASE_URL", saying: "not signed by a CA")
        // verify-ca checks the chain just as well.
        let ca = url.replacingOccurrences(of: "verify-full", with: "verify-ca")
        Self.expectRefusal(
            try await innkeep(["serve"], env: ["DATABASE_URL": ca, "JWT_SECRET": TestEnv.jwtSecret]),
            names: "DATABASE_URL",
            saying: "not signed by a CA"
        )
    }

    @Test func requireAgainstAServerWithoutTLSIsRefusedClearly() async throws {
        let url = "postgres://innkeep_api:\(Self.apiPassword)@127.0.0.1:\(TestEnv.pgPort)/postgres?sslmode=require"
        let env = ["DATABASE_URL": url, "JWT_SECRET": TestEnv.jwtSecret]
        Self.expectRefusal(
            try await innkeep(["migrate", "status", "--dir", TestEnv.migrationsDir.path], env: env),
            names: "DATABASE_URL",
            saying: "the server does not accept TLS connections, and sslmode=require requires TLS"
        )
        Self.expectRefusal(try await innkeep(["worker"], env: env), names: "DATABASE_URL", saying: "does not accept TLS connections")
        let verify = "postgres://postgres@127.0.0.1:\(TestEnv.pgPort)/postgres?sslmode=verify-full"
        let owner = "postgres://innkeep_owner:\(Self.ownerPassword)@127.0.0.1:\(TestEnv.pgPort)/postgres?sslmode=require"
        Self.expectRefusal(
            try await innkeep(["db", "init", "--admin-url", verify], env: env.merging(["MIGRATION_DATABASE_URL": owner]) { _, b in b }),
            names: "--admin-url",
            saying: "does not accept TLS connections"
        )
    }

    /// An IPv6 literal's brackets are the URL's syntax, not the host's: the connection opens, here through the
    /// IPv4-mapped form of the test server's 127.0.0.1, and messages bracket the host again.
    @Test func anIPv6LiteralHostConnects() async throws {
        try await SharedDatabase.shared.prepare()
        let host = "::ffff:127.0.0.1"
        let url = try #require(PostgresURL("postgres://innkeep_api:api-test-password@[\(host)]:\(TestEnv.pgPort)/\(SharedDatabase.name)"))
        #expect(url.host == host)
        #expect(url.endpoint == "[\(host)]:\(TestEnv.pgPort)/\(SharedDatabase.name)")
        #expect(url.isOnThisMachine)
        let db = Database(url: url, logger: TestEnv.logger, maximumConnections: 1, deadline: TestEnv.functionalDeadline)
        #expect(await db.ping())
    }

    @Test func sslParametersAreReadFromTheURL() throws {
        let url = try PostgresURL.parse(
            "postgresql://u:p%40ss@db.example.com:6543/postgres?sslmode=verify-full&sslrootcert=system&pgbouncer=true",
            source: "DATABASE_URL"
        )
        #expect(url.sslMode == .verifyFull)
        #expect(url.sslRootCert == "system")
        #expect(url.password == "p@ss")
        #expect(url.port == 6543)
        #expect(url.source == "DATABASE_URL")
        #expect(try PostgresURL.parse("postgres://u@h/d", source: "X").sslMode == .prefer)
        for mode in ["disable", "prefer", "require", "verify-ca", "verify-full"] {
            #expect(try PostgresURL.parse("postgres://u@h/d?sslmode=\(mode)", source: "X").sslMode.rawValue == mode)
        }
        let cases: [(String, String)] = [
            ("postgres://u:hunter2-secret@h/d?sslmode=allow", "unknown sslmode"),
            ("postgres://u:hunter2-secret@h/d?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "cannot be read: /nonexistent/ca.pem"),
            ("postgres://u:hunter2-secret@h/d?sslrootcert=", "empty sslrootcert"),
        ]
        for (raw, problem) in cases {
            do {
                _ = try AppConfig(environment: ["DATABASE_URL": raw, "JWT_SECRET": TestEnv.jwtSecret])
                Issue.record("accepted \(raw)")
            } catch {
                #expect(error.variable == "DATABASE_URL")
                #expect(error.description.contains(problem), "\(error.description)")
                #expect(!error.description.contains("hunter2"))
            }
        }
    }
}
