import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import Testing

@testable import Innkeep

/// One request the receiver got.
struct ReceivedWebhook: Sendable {
    let path: String
    let headers: [String: String]
    let body: String
    let at: ContinuousClock.Instant
    var id: String { headers["webhook-id"] ?? "" }
    var json: JSONValue { JSONValue.parse(Array(body.utf8)) ?? .null }
}

/// An HTTP server on loopback that records every request and answers by the path's last part, as
/// scripted: `ok` 200, `flaky` 500 on the first try of each webhook-id then 200, `gone` 410, `redirect`
/// 302 to `ok`, `slow` 200 after 4 s, `brief` 200 after 150 ms, `fail` 500 always.
final class WebhookReceiver: Sendable {
    private let received = Mutex<[ReceivedWebhook]>([])
    let port: Int
    private let task: Task<Void, any Error>

    private init(port: Int, task: Task<Void, any Error>) {
        self.port = port
        self.task = task
    }

    func url(_ behaviour: String, _ tag: String = UUID().uuidString.prefix(8).lowercased()) -> String {
        "http://127.0.0.1:\(port)/\(tag)/\(behaviour)"
    }

    var requests: [ReceivedWebhook] { received.withLock { $0 } }
    func requests(to url: String) -> [ReceivedWebhook] {
        let path = URL(string: url)!.path
        return requests.filter { $0.path == path }
    }

    func record(_ r: ReceivedWebhook) -> Int {
        received.withLock {
            $0.append(r)
            return $0.filter { $0.path == r.path && $0.id == r.id }.count
        }
    }

    static func start() async throws -> WebhookReceiver {
        final class Box: Sendable { let receiver = Mutex<WebhookReceiver?>(nil) }
        let box = Box()
        let router = Router()
        router.post("/:tag/:behaviour") { request, context -> Response in
            var request = request
            let body = try await request.collectBody(upTo: 1 << 20)
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            let behaviour = context.parameters.get("behaviour") ?? "ok"
            let received = ReceivedWebhook(path: request.uri.path, headers: headers, body: String(buffer: body), at: .now)
            let tries = box.receiver.withLock { $0 }?.record(received) ?? 1
            switch behaviour {
            case "flaky": return Response(status: tries == 1 ? .internalServerError : .ok)
            case "gone": return Response(status: .gone)
            case "redirect": return Response(status: .found, headers: [.location: "/\(context.parameters.get("tag") ?? "x")/ok"])
            case "slow":
                try await Task.sleep(for: .seconds(4))
                return Response(status: .ok)
            case "fail": return Response(status: .internalServerError)
            case "brief":  // 200 after 150 ms: keeps a worker's per-endpoint slots busy, so two workers share the load
                try await Task.sleep(for: .milliseconds(150))
                return Response(status: .ok)
            default: return Response(status: .ok)
            }
        }
        let (port, task) = try await startLoopbackServer(router, name: "webhook receiver")
        let receiver = WebhookReceiver(port: port, task: task)
        box.receiver.withLock { $0 = receiver }
        return receiver
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}
