import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import Testing

@testable import Innkeep

// Tokens signed by a JWKS's keys (SPEC §15), minted by PyJWT (an implementation independent of jwt-kit),
// with the JWKS served over HTTP on loopback by the test itself.

/// PyJWT, through Tests/python/jwt_tool.py and the venv scripts/py-env makes (INNKEEP_PYTHON). Missing → the test fails.
enum PyJWT {
    struct Key: Sendable {
        let kid: String
        let privatePEM: String
        let publicPEM: String
        let jwk: JSONValue
    }

    static let tool = TestEnv.repo.appendingPathComponent("Tests/python/jwt_tool.py").path

    static var python: String {
        get throws {
            let path = TestEnv.env["INNKEEP_PYTHON"] ?? TestEnv.repo.appendingPathComponent(".build-py/bin/python").path
            guard FileManager.default.isExecutableFile(atPath: path) else {
                throw TestFailure("no Python with PyJWT at \(path): run scripts/py-env (scripts/test does) or set INNKEEP_PYTHON")
            }
            return path
        }
    }

    static func run(_ request: JSONValue) async throws -> JSONValue {
        let r = try await TestEnv.child(
            try python,
            [tool],
            environment: ProcessInfo.processInfo.environment,
            input: Data(request.serialized.utf8)
        )
        guard r.status == 0, let answer = JSONValue.parse(Array(r.out)) else {
            throw TestFailure("jwt_tool.py failed (\(r.status)): \(String(decoding: r.err, as: UTF8.self))")
        }
        return answer
    }

    static func keys(_ specs: [(type: String, kid: String)]) async throws -> [Key] {
        let answer = try await run(["op": "keygen", "keys": .array(specs.map { ["type": .string($0.type), "kid": .string($0.kid)] })])
        guard case .array(let list) = answer else { throw TestFailure("keygen answered \(answer)") }
        return list.map {
            Key(
                kid: $0["kid"]?.stringValue ?? "",
                privatePEM: $0["private_pem"]?.stringValue ?? "",
                publicPEM: $0["public_pem"]?.stringValue ?? "",
                jwk: $0["jwk"] ?? .null
            )
        }
    }

    /// Tokens for `(alg, key, kid, claims)`; see jwt_tool.py for the algs.
    static func mint(_ specs: [(alg: String, key: String, kid: String?, claims: JSONValue)]) async throws -> [String] {
        let tokens: [JSONValue] = specs.map { spec in
            var o: [String: JSONValue] = ["alg": .string(spec.alg), "key": .string(spec.key), "claims": spec.claims]
            if let kid = spec.kid { o["kid"] = .string(kid) }
            return .object(o)
        }
        guard case .array(let list) = try await run(["op": "mint", "tokens": .array(tokens)]) else { throw TestFailure("mint failed") }
        return list.compactMap(\.stringValue)
    }

    static func jwks(_ keys: [Key]) -> String { JSONValue.object(["keys": .array(keys.map(\.jwk))]).serialized }
}

/// A JWKS document served on 127.0.0.1 (a random port) that the test can change, counting the fetches.
final class JWKSServer: Sendable {
    private let document: Mutex<String>
    private let count = Atomic<Int>(0)
    private let task: Mutex<Task<Void, any Error>?> = Mutex(nil)
    let port: Int

    var url: String { "http://127.0.0.1:\(port)/auth/v1/.well-known/jwks.json" }
    var fetches: Int { count.load(ordering: .relaxed) }
    func publish(_ jwks: String) { document.withLock { $0 = jwks } }

    private init(document: String, port: Int) {
        self.document = Mutex(document)
        self.port = port
    }

    /// Starts a server and runs `body` with it; the server stops afterwards.
    static func with<T>(_ jwks: String, _ body: (JWKSServer) async throws -> T) async throws -> T {
        let holder = Mutex<JWKSServer?>(nil)
        let router = Router()
        router.get("/auth/v1/.well-known/jwks.json") { _, _ -> Response in
            guard let server = holder.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            server.count.add(1, ordering: .relaxed)
            let text = server.document.withLock { $0 }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
        }
        let (port, run) = try await startLoopbackServer(router, name: "JWKS server")
        let server = JWKSServer(document: jwks, port: port)
        holder.withLock { $0 = server }
        defer { run.cancel() }
        return try await body(server)
    }
}

@Suite struct JWKSTests {
    static func claims(_ user: UUID, _ extra: [String: JSONValue?] = [:]) -> JSONValue {
        let now = Int64(Date().timeIntervalSince1970)
        var c: [String: JSONValue] = [
            "sub": .string(user.uuidString.lowercased()), "aud": "authenticated", "iat": .int(now), "exp": .int(now + 600),
            "role": "authenticated", "iss": "https://project.supabase.co/auth/v1",
        ]
        for (k, v) in extra { c[k] = v }
        return .object(c)
    }

    @Test func es256AndRs256ByKidANewKeyIsFetchedAndMadeUpKidsAreRateLimited() async throws {
        let keys = try await PyJWT.keys([("EC", "ec-1"), ("RSA", "rsa-1"), ("EC", "ec-2")])
        let (ec1, rsa1, ec2) = (keys[0], keys[1], keys[2])
        try await JWKSServer.with(PyJWT.jwks([ec1, rsa1])) { server in
            try await withApp(env: ["JWT_JWKS_URL": server.url]) { api in
                #expect(server.fetches == 1, "fetched once at start")
                let user = try await api.signup(agencyName: "JWKS")
                let tokens = try await PyJWT.mint([
                    ("ES256", ec1.privatePEM, "ec-1", Self.claims(user.id)),
                    ("RS256", rsa1.privatePEM, "rsa-1", Self.claims(user.id)),
                ])
                for token in tokens {
                    let me = try await api.send(.get, "/api/v1/me", token: token)
                    #expect(me.status == .ok, "\(me.raw)")
                    #expect(me["user"]?["id"]?.stringValue == user.id.uuidString.lowercased())
                }
                // The HS256 tokens this API issues still work beside them.
                #expect(try await api.send(.get, "/api/v1/me", token: user.token).status == .ok)

                // A key the issuer adds after start: the unknown kid makes one fetch, and the key is used.
                let before = server.fetches
                server.publish(PyJWT.jwks([ec1, rsa1, ec2]))
                let fresh = try await PyJWT.mint([("ES256", ec2.privatePEM, "ec-2", Self.claims(user.id))])[0]
                let accepted = try await api.send(.get, "/api/v1/me", token: fresh)
                #expect(accepted.status == .ok, "\(accepted.raw)")
                #expect(server.fetches == before + 1)

                // Made-up kids (signed by a key the JWKS has, so only the kid is wrong): 401, and within the
                // refresh interval not one more fetch, however many arrive.
                let madeUp = try await PyJWT.mint((0..<20).map { ("ES256", ec2.privatePEM, "made-up-\($0)", Self.claims(user.id)) })
                for token in madeUp {
                    let r = try await api.send(.get, "/api/v1/properties", token: token)
                    #expect(r.status == .unauthorized)
                    #expect(r.errorCode == "INVALID_TOKEN")
                }
                #expect(server.fetches == before + 1, "made-up kids must not hammer the JWKS URL")
            }
        }
    }

    @Test func everyBadAsymmetricTokenIsInvalidToken() async throws {
        let keys = try await PyJWT.keys([("EC", "ec-1"), ("RSA", "rsa-1"), ("EC", "stranger"), ("RSA", "rsa-stranger")])
        let (ec1, rsa1, stranger, rsaStranger) = (keys[0], keys[1], keys[2], keys[3])
        try await JWKSServer.with(PyJWT.jwks([ec1, rsa1])) { server in
            try await withApp(env: ["JWT_JWKS_URL": server.url]) { api in
                let user = try await api.signup(agencyName: "JWKS bad")
                let now = Int64(Date().timeIntervalSince1970)
                let cases: [(String, (alg: String, key: String, kid: String?, claims: JSONValue))] = [
                    ("wrong audience", ("ES256", ec1.privatePEM, "ec-1", Self.claims(user.id, ["aud": "anon"]))),
                    ("no audience", ("RS256", rsa1.privatePEM, "rsa-1", Self.claims(user.id, ["aud": nil]))),
                    ("expired", ("ES256", ec1.privatePEM, "ec-1", Self.claims(user.id, ["exp": .int(now - 1)]))),
                    ("expired RS256", ("RS256", rsa1.privatePEM, "rsa-1", Self.claims(user.id, ["exp": .int(now - 60)]))),
                    ("no exp", ("ES256", ec1.privatePEM, "ec-1", Self.claims(user.id, ["exp": nil]))),
                    ("unknown user", ("ES256", ec1.privatePEM, "ec-1", Self.claims(UUID()))),
                    ("sub not a uuid", ("RS256", rsa1.privatePEM, "rsa-1", Self.claims(user.id, ["sub": "admin"]))),
                    ("forged signature, known EC kid", ("ES256", stranger.privatePEM, "ec-1", Self.claims(user.id))),
                    ("forged signature, known RSA kid", ("RS256", rsaStranger.privatePEM, "rsa-1", Self.claims(user.id))),
                    ("no kid", ("ES256", ec1.privatePEM, nil, Self.claims(user.id))),
                    ("RS256 header on the EC key's kid", ("RS256", rsa1.privatePEM, "ec-1", Self.claims(user.id))),
                    ("alg none with a known kid", ("none", "", "ec-1", Self.claims(user.id))),
                    ("HS256 with the RSA public key as secret", ("HS256-raw", rsa1.publicPEM, "rsa-1", Self.claims(user.id))),
                    ("HS256 with the EC public key as secret", ("HS256-raw", ec1.publicPEM, "ec-1", Self.claims(user.id))),
                    ("HS256 with the public key as secret, no kid", ("HS256-raw", rsa1.publicPEM, nil, Self.claims(user.id))),
                    ("HS256 with the JWKS JSON as secret", ("HS256-raw", ec1.jwk.serialized, "ec-1", Self.claims(user.id))),
                ]
                let tokens = try await PyJWT.mint(cases.map(\.1))
                try #require(tokens.count == cases.count)
                for ((name, _), token) in zip(cases, tokens) {
                    let r = try await api.send(.get, "/api/v1/properties", token: token)
                    #expect(r.status == .unauthorized, "\(name)")
                    #expect(r.errorCode == "INVALID_TOKEN", "\(name): \(r.raw)")
                }
                // The same claims, properly signed, pass: the refusals above are about what each case changed.
                let good = try await PyJWT.mint([("ES256", ec1.privatePEM, "ec-1", Self.claims(user.id))])[0]
                #expect(try await api.send(.get, "/api/v1/properties", token: good).status == .ok)
            }
        }
    }

    @Test func aRevokedKeyStopsWorkingOnceTheKeysAreOlderThanTheMaximumAge() async throws {
        let keys = try await PyJWT.keys([("EC", "stays"), ("EC", "revoked")])
        try await JWKSServer.with(PyJWT.jwks(keys)) { server in
            let jwks = JWKSKeys(source: .url(server.url), maximumAge: .milliseconds(300), logger: TestEnv.logger)
            try await jwks.load()
            #expect(await jwks.kids == ["revoked", "stays"])
            // ES256 signatures are randomized, so each token is new (JWKSKeys has no cache of its own anyway).
            func accepted(_ kid: String, _ key: PyJWT.Key) async throws -> Bool {
                let token = try await PyJWT.mint([("ES256", key.privatePEM, kid, Self.claims(UUID()))])[0]
                return (try? await jwks.verify(token, kid: kid, alg: "ES256")) != nil
            }
            #expect(try await accepted("revoked", keys[1]))
            server.publish(PyJWT.jwks([keys[0]]))
            try await Task.sleep(for: .milliseconds(400))
            // The first token after the maximum age starts a refresh in the background; soon the key is gone.
            var stillAccepted = true
            for _ in 0..<50 where stillAccepted {
                stillAccepted = try await accepted("revoked", keys[1])
                if stillAccepted { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(!stillAccepted, "a key removed from the JWKS must stop verifying once the keys are refreshed")
            #expect(await jwks.kids == ["stays"])
            #expect(try await accepted("stays", keys[0]))
            #expect(server.fetches >= 2)
        }
    }

    @Test func aJWKSFileWorksToo() async throws {
        let keys = try await PyJWT.keys([("EC", "file-ec"), ("RSA", "file-rsa")])
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("innkeep-jwks-\(UUID().uuidString).json").path
        try PyJWT.jwks(keys).write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        for source in [path, "file://" + path] {
            try await withApp(env: ["JWT_JWKS_URL": source]) { api in
                let user = try await api.signup(agencyName: "JWKS file")
                let tokens = try await PyJWT.mint([
                    ("ES256", keys[0].privatePEM, "file-ec", Self.claims(user.id)), ("RS256", keys[1].privatePEM, "file-rsa", Self.claims(user.id)),
                ])
                for token in tokens { #expect(try await api.send(.get, "/api/v1/me", token: token).status == .ok, "\(source)") }
            }
        }
    }

    @Test func aJWKSThatCannotBeReadStopsTheStartWithOneLine() async throws {
        #expect(throws: ConfigError.self) { try AppConfig(environment: TestEnv.environment(database: "x", ["JWT_JWKS_URL": "ftp://example"])) }
        let bad: [(String, String)] = [
            ("http://127.0.0.1:9/jwks.json", "cannot be fetched"),
            ("/nonexistent/jwks.json", "cannot be read"),
        ]
        for (source, expected) in bad {
            let config = try AppConfig(environment: TestEnv.environment(database: SharedDatabase.name, ["JWT_JWKS_URL": source]))
            let services = try AppServices(config: config, logger: TestEnv.logger, migrations: [])
            do {
                try await services.loadKeys()
                Issue.record("\(source) loaded")
            } catch {
                #expect(error.description.contains("JWT_JWKS_URL"), "\(error.description)")
                #expect(error.description.contains(expected), "\(error.description)")
                #expect(!error.description.contains("\n"))
            }
        }
        // A document without any usable key (an HS256 "oct" key only) is refused too.
        try await JWKSServer.with(#"{"keys":[{"kty":"oct","kid":"h","k":"c2VjcmV0"}]}"#) { server in
            let config = try AppConfig(environment: TestEnv.environment(database: SharedDatabase.name, ["JWT_JWKS_URL": server.url]))
            let services = try AppServices(config: config, logger: TestEnv.logger, migrations: [])
            await #expect(throws: StartupError.self) { try await services.loadKeys() }
        }
    }
}
