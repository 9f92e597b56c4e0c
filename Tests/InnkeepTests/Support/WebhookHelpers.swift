import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing

@testable import Innkeep

/// Verifies requests with the reference `standardwebhooks` library (PyPI), in the venv scripts/py-env builds.
/// Fails the test when Python, the library or any signature fails: it never skips.
func verifyWithReferenceLibrary(_ requests: [ReceivedWebhook], secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
    #expect(!requests.isEmpty, "nothing to verify", sourceLocation: sourceLocation)
    let env = try await TestEnv.shell("'\(TestEnv.repo.path)/scripts/py-env'")
    let python = env.output.split(separator: "\n").last.map(String.init) ?? ""
    #expect(env.status == 0, "scripts/py-env failed: \(env.output)", sourceLocation: sourceLocation)
    let input: JSONValue = .array(
        requests.map { r in
            [
                "secrets": .array(secrets.map(JSONValue.string)), "body": .string(r.body),
                "headers": .object(r.headers.filter { $0.key.hasPrefix("webhook-") }.mapValues(JSONValue.string)),
            ]
        }
    )
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("webhooks-\(UUID().uuidString).json")
    try input.serialized.write(to: file, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(at: file) }
    let result = try await TestEnv.shell("'\(python)' '\(TestEnv.repo.path)/scripts/verify-webhooks.py' < '\(file.path)'")
    #expect(result.status == 0, "standardwebhooks refused: \(result.output)", sourceLocation: sourceLocation)
    #expect(
        result.output.contains("verified \(requests.count) requests (\(requests.count * secrets.count) signatures)"),
        "\(result.output)",
        sourceLocation: sourceLocation
    )
}

/// Polls until `condition` holds, or fails after `timeout`.
func eventually(
    _ what: String,
    timeout: Duration = .seconds(30),
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
    throw TestFailure("timed out waiting for \(what)")
}

extension APIClient {
    func createEndpoint(
        _ agency: TestAgency,
        url: String,
        events: [String] = [
            "booking.created",
            "booking.cancelled",
        ]
    ) async throws -> (id: UUID, secret: String) {
        let r = try await send(
            .post,
            "/api/v1/webhook-endpoints",
            token: agency.admin.token,
            json: ["url": .string(url), "events": .array(events.map(JSONValue.string))]
        )
        guard r.status == .created, let id = r["id"]?.uuid, let secret = r["secret"]?.stringValue else {
            throw TestFailure("create endpoint: \(r.status) \(r.raw)")
        }
        return (id, secret)
    }

    func deliveries(_ agency: TestAgency, endpoint: UUID) async throws -> [JSONValue] {
        let r = try await send(.get, "/api/v1/webhook-endpoints/\(endpoint)/deliveries?limit=200", token: agency.admin.token)
        guard r.status == .ok else { throw TestFailure("deliveries: \(r.raw)") }
        return r.data
    }

    /// Counts rows of the agency's webhook tables matching `condition` (SQL), in the agency's scope.
    func count(_ agency: UUID, _ sql: String) async throws -> Int {
        try await services.db.transaction(.tenant(agency, user: nil)) { conn in
            try await conn.run(PostgresQuery(unsafeSQL: sql)).collect().first!.decode(Int.self)
        }
    }

    func dispatcher(
        _ agency: TestAgency,
        schedule: [Int] = [1, 1],
        allowPrivate: Bool = true,
        configure: (inout WebhookDispatcher.Options) -> Void = { _ in }
    ) -> WebhookDispatcher {
        var options = WebhookDispatcher.Options()
        options.onlyAgency = agency.id
        options.pollInterval = .milliseconds(100)
        configure(&options)
        return WebhookDispatcher(
            db: services.db,
            logger: TestEnv.logger,
            metrics: services.metrics,
            policy: .webhooks(allowPrivate: allowPrivate),
            schedule: schedule,
            options: options
        )
    }
}

/// Runs the dispatcher while `body` runs, then stops it (cancelled: in-flight requests are abandoned).
func running<T: Sendable>(_ dispatchers: WebhookDispatcher..., body: () async throws -> T) async throws -> T {
    let tasks = dispatchers.map { d in Task { try await d.run() } }
    do {
        let result = try await body()
        for t in tasks { t.cancel() }
        for t in tasks { _ = await t.result }
        return result
    } catch {
        for t in tasks { t.cancel() }
        for t in tasks { _ = await t.result }
        throw error
    }
}

let privateURLs = ["ALLOW_PRIVATE_URLS": "true"] as [String: String?]
