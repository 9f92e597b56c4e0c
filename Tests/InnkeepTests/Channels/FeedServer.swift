import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

@testable import Innkeep

/// A channel's calendar server inside the test suite, on loopback: each path answers as scripted, and
/// every request is recorded (the sync tests check User-Agent and the conditional headers).
final class FeedServer: Sendable {
    enum Answer: Sendable {
        /// 200 `text/calendar` with this ETag; a request whose If-None-Match holds it gets 304.
        case calendar(String, etag: String? = nil)
        case status(Int, body: String = "", contentType: String = "text/html")
        case redirect(to: String)
        case slow(Duration, then: String)
        /// 200 with `bytes` octets of calendar-looking text, no Content-Length.
        case huge(bytes: Int)
    }

    struct Seen: Sendable { let path: String, headers: [String: String] }

    private let answers = Mutex<[String: Answer]>([:])
    private let seen = Mutex<[Seen]>([])
    let port: Int
    private let task: Task<Void, any Error>

    private init(port: Int, task: Task<Void, any Error>) { (self.port, self.task) = (port, task) }

    /// A fresh path on this server answering `answer`; returns its URL.
    func serve(_ answer: Answer, at path: String = "/\(UUID().uuidString.prefix(8).lowercased()).ics") -> String {
        answers.withLock { $0[path] = answer }
        return "http://127.0.0.1:\(port)\(path)"
    }

    func set(_ url: String, _ answer: Answer) { answers.withLock { $0[URL(string: url)!.path] = answer } }
    func requests(to url: String) -> [Seen] { seen.withLock { s in s.filter { $0.path == URL(string: url)!.path } } }

    fileprivate func answer(_ path: String, headers: [String: String]) -> Answer {
        seen.withLock { $0.append(Seen(path: path, headers: headers)) }
        return answers.withLock { $0[path] } ?? .status(404)
    }

    static func start() async throws -> FeedServer {
        final class Box: Sendable { let server = Mutex<FeedServer?>(nil) }
        let box = Box()
        let router = Router()
        router.get("**") { request, _ -> Response in
            var headers: [String: String] = [:]
            for field in request.headers { headers[field.name.canonicalName] = field.value }
            guard let server = box.server.withLock({ $0 }) else { return Response(status: .serviceUnavailable) }
            switch server.answer(request.uri.path, headers: headers) {
            case .calendar(let body, let etag):
                var h: HTTPFields = [.contentType: "text/calendar; charset=utf-8"]
                if let etag {
                    h[.eTag] = etag
                    if headers["if-none-match"] == etag { return Response(status: .notModified, headers: h) }
                }
                return Response(status: .ok, headers: h, body: .init(byteBuffer: ByteBuffer(string: body)))
            case .status(let code, let body, let type):
                return Response(status: .init(code: code), headers: [.contentType: type], body: .init(byteBuffer: ByteBuffer(string: body)))
            case .redirect(let location):
                return Response(status: .found, headers: [.location: location])
            case .slow(let delay, let body):
                try await Task.sleep(for: delay)
                return Response(status: .ok, headers: [.contentType: "text/calendar"], body: .init(byteBuffer: ByteBuffer(string: body)))
            case .huge(let bytes):
                let chunk = ByteBuffer(string: String(repeating: "X-FILLER:0123456789abcdef0123456789abcdef0123456789abcdef\r\n", count: 1024))
                let chunks = bytes / chunk.readableBytes + 1
                return Response(
                    status: .ok,
                    headers: [.contentType: "text/calendar"],
                    body: .init { writer in
                        try await writer.write(ByteBuffer(string: "BEGIN:VCALENDAR\r\n"))
                        for _ in 0..<chunks { try await writer.write(chunk) }
                        try await writer.finish(nil)
                    }
                )
            }
        }
        let (port, task) = try await startLoopbackServer(router, name: "feed server")
        let server = FeedServer(port: port, task: task)
        box.server.withLock { $0 = server }
        return server
    }

    func stop() async {
        task.cancel()
        _ = await task.result
    }
}

extension APIClient {
    /// An iCal connection importing `url` (private URLs must be allowed in this app's environment).
    func connectFeed(_ agency: TestAgency, property: UUID, url: String) async throws -> UUID {
        let r = try await send(
            .post,
            "/api/v1/channel-connections",
            token: agency.admin.token,
            json: [
                "property_id": JSONValue(property), "channel": "ical", "external_listing_id": .string(UUID().uuidString), "ical_url": .string(url),
            ]
        )
        guard r.status == .created, let id = r["id"]?.uuid else { throw TestFailure("connection: \(r.raw)") }
        return id
    }

    /// A syncer of this agency only, as `innkeep worker` runs it.
    func syncer(_ agency: TestAgency, timeout: Duration = .seconds(10)) -> ChannelSyncer {
        var options = ChannelSyncer.Options()
        options.onlyAgency = agency.id
        options.pollInterval = .milliseconds(200)
        let fetcher = ICalFetcher(allowPrivate: true, timeout: timeout, version: "test")
        return ChannelSyncer(
            db: services.db,
            logger: TestEnv.logger,
            metrics: services.metrics,
            fetcher: fetcher,
            baseURL: services.config.publicBaseURL,
            options: options
        )
    }

    /// The property's channel blocks as `uid → (id, start, end)`, straight from the table.
    func channelBlocks(_ agency: TestAgency, connection: UUID) async throws -> [String: (id: UUID, start: String, end: String)] {
        try await services.db.transaction(.tenant(agency.id, user: nil)) { conn in
            var out: [String: (id: UUID, start: String, end: String)] = [:]
            for row in try await conn.run(
                """
                SELECT external_uid, id, start_date::text, end_date::text FROM blocks WHERE agency_id = \(agency.id) AND channel_connection_id =
                    \(connection)
                """
            ).collect() {
                let (uid, id, start, end) = try row.decode((String, UUID, String, String).self)
                out[uid] = (id, start, end)
            }
            return out
        }
    }

    func connection(_ agency: TestAgency, _ id: UUID) async throws -> APIResponse {
        try await send(.get, "/api/v1/channel-connections/\(id)", token: agency.admin.token)
    }
}
