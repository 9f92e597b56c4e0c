import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore

@testable import Innkeep

/// A response as tests read it.
struct APIResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let raw: String
    var json: JSONValue { JSONValue.parse(Array(raw.utf8)) ?? .null }
    var errorCode: String? { json["error"]?["code"]?.stringValue }
    subscript(key: String) -> JSONValue? { json[key] }
    var data: [JSONValue] { if case .array(let a)? = json["data"] { a } else { [] } }
}

/// A test client over the in-process router, with JSON helpers.
struct APIClient: Sendable {
    let client: any TestClientProtocol
    let services: AppServices

    func send(
        _ method: HTTPRequest.Method,
        _ path: String,
        token: String? = nil,
        agency: UUID? = nil,
        json: JSONValue? = nil,
        rawBody: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> APIResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let agency { headers[HTTPField.Name("X-Agency-Id")!] = agency.uuidString }
        var body: ByteBuffer?
        if let json { body = ByteBuffer(string: json.serialized) }
        if let rawBody { body = ByteBuffer(string: rawBody) }
        if body != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let response = try await client.execute(uri: path, method: method, headers: headers, body: body)
        return APIResponse(status: response.status, headers: response.headers, raw: String(buffer: response.body))
    }
}

/// Builds the real application against the shared test database (or another one) and runs `body`.
func withApp<T: Sendable>(
    database: String = SharedDatabase.name,
    port: Int = TestEnv.pgPort,
    redisPort: Int? = TestEnv.redisPort,
    env overrides: [String: String?] = [:],
    logger: Logger = TestEnv.logger,
    databaseDeadline: Duration = TestEnv.functionalDeadline,
    redisTimeout: Duration = .seconds(1),
    poolSize: Int = 8,
    _ body: @Sendable (APIClient) async throws -> T
) async throws -> T {
    if database == SharedDatabase.name, port == TestEnv.pgPort { try await SharedDatabase.shared.prepare() }
    let config = try AppConfig(environment: TestEnv.environment(database: database, port: port, redisPort: redisPort, overrides))
    let services = try AppServices(
        config: config,
        logger: logger,
        migrations: try Migration.load(from: TestEnv.migrationsDir),
        passwords: TestPasswords.hasher,
        databasePoolSize: poolSize,
        databaseDeadline: databaseDeadline,
        redisTimeout: redisTimeout
    )
    try await services.loadKeys()
    let app = buildApplication(services)
    return try await app.test(.router) { client in try await body(APIClient(client: client, services: services)) }
}

enum TestPasswords {
    /// Cheap bcrypt for tests that sign up many users; the algorithm and checks are the same. Dozens of
    /// suites share it at once, so its queue is unbounded here (PasswordHashingTests test the real bound).
    static let hasher = PasswordHasher(cost: 4, queueLimit: 1_000_000)
}

func uniqueEmail(_ prefix: String = "user") -> String { "\(prefix)-\(UUID().uuidString.prefix(12).lowercased())@test.innkeep" }

/// A signed-up user and the token the API issued.
struct TestUser: Sendable {
    let id: UUID
    let email: String
    let password: String
    let token: String
}

/// An agency with one member per role, built through the public API.
struct TestAgency: Sendable {
    let id: UUID
    let members: [Role: TestUser]
    var admin: TestUser { members[.admin]! }
    func token(_ role: Role) -> String { members[role]!.token }
}

extension APIClient {
    func signup(agencyName: String? = nil, email: String = uniqueEmail(), password: String = "correct horse battery") async throws -> TestUser {
        var body: [String: JSONValue] = ["email": .string(email), "password": .string(password), "full_name": "Test User"]
        if let agencyName { body["agency_name"] = .string(agencyName) }
        let r = try await send(.post, "/api/v1/auth/signup", json: .object(body))
        guard r.status == .created, let id = r["user"]?["id"]?.stringValue.flatMap(UUID.init(uuidString:)),
            let token = r["access_token"]?.stringValue
        else { throw TestFailure("signup failed: \(r.status) \(r.raw)") }
        return TestUser(id: id, email: email, password: password, token: token)
    }

    /// A new agency whose admin signed up with it, plus one member for every other role.
    func makeAgency(_ name: String = "Agency \(UUID().uuidString.prefix(6))") async throws -> TestAgency {
        let admin = try await signup(agencyName: name)
        let me = try await send(.get, "/api/v1/me", token: admin.token)
        guard
            let agencyId = me["memberships"].flatMap({ if case .array(let a) = $0 { a.first } else { nil } })?["agency_id"]?.stringValue
                .flatMap(UUID.init(uuidString:))
        else { throw TestFailure("no agency: \(me.raw)") }
        var members: [Role: TestUser] = [.admin: admin]
        for role in Role.allCases where role != .admin {
            let user = try await signup()
            try await addMember(user, role: role, agency: agencyId, adminToken: admin.token)
            members[role] = user
        }
        return TestAgency(id: agencyId, members: members)
    }

    /// Invites `user` and has them accept (SPEC §14): the membership, as `POST …/accept` answered it.
    @discardableResult
    func addMember(_ user: TestUser, role: Role, agency: UUID, adminToken: String) async throws -> APIResponse {
        let invite = try await send(
            .post,
            "/api/v1/team-members",
            token: adminToken,
            agency: agency,
            json: ["email": .string(user.email), "role": .string(role.rawValue)]
        )
        guard invite.status == .created, let id = invite["id"]?.uuid else { throw TestFailure("invite failed: \(invite.raw)") }
        let accepted = try await send(.post, "/api/v1/invitations/\(id)/accept", token: user.token)
        guard accepted.status == .ok else { throw TestFailure("accept failed: \(accepted.raw)") }
        return accepted
    }

    func createProperty(
        _ agency: TestAgency,
        name: String = "Villa",
        maxGuests: Int = 4,
        owner: UUID? = nil,
        timezone: String? = nil
    ) async throws -> UUID {
        var body: [String: JSONValue] = ["name": .string(name), "max_guests": .int(Int64(maxGuests))]
        if let owner { body["owner_id"] = JSONValue(owner) }
        if let timezone { body["timezone"] = .string(timezone) }
        let r = try await send(.post, "/api/v1/properties", token: agency.admin.token, json: .object(body))
        guard r.status == .created, let id = r["id"]?.stringValue.flatMap(UUID.init(uuidString:)) else { throw TestFailure("property: \(r.raw)") }
        return id
    }

    func createBooking(_ agency: TestAgency, property: UUID, checkIn: String, checkOut: String, guests: Int = 2) async throws -> APIResponse {
        try await send(
            .post,
            "/api/v1/bookings",
            token: agency.admin.token,
            json: [
                "property_id": JSONValue(property), "guest_name": "Guest", "check_in": .string(checkIn), "check_out": .string(checkOut),
                "guests": .int(Int64(guests)),
            ]
        )
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension JSONValue {
    var uuid: UUID? { stringValue.flatMap(UUID.init(uuidString:)) }
    var intValue: Int64? { if case .int(let i) = self { i } else { nil } }
    var arrayValue: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    var objectKeys: [String] { if case .object(let o) = self { Array(o.keys) } else { [] } }
}

/// `n` days after January 1 of `year`: far-future stays that never reach "today".
func futureDay(_ n: Int, year: Int = 2030) -> String {
    var c = DateComponents()
    c.year = year
    c.month = 1
    c.day = 1 + n
    let date = Calendar(identifier: .gregorian).date(from: c)!
    let f = DateFormatter()
    f.calendar = Calendar(identifier: .gregorian)
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd"
    return f.string(from: date)
}
