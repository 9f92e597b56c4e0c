import Hummingbird
import NIOCore

/// What a handler answers: a status and a JSON body. Kept as bytes so an idempotent
/// request can store it and replay it byte for byte.
public struct Reply: Sendable {
    public var status: HTTPResponse.Status
    public var body: String?
    public var headers: HTTPFields = [:]

    public init(status: HTTPResponse.Status, body: String?, headers: HTTPFields = [:]) {
        self.status = status
        self.body = body
        self.headers = headers
    }

    public static func json(_ value: JSONValue, status: HTTPResponse.Status = .ok) -> Reply {
        Reply(status: status, body: value.serialized)
    }

    /// A resource that writes its own JSON (`JSONWritable`).
    public static func json(_ value: some JSONWritable, status: HTTPResponse.Status = .ok) -> Reply {
        Reply(status: status, body: value.jsonText)
    }

    public static var noContent: Reply { Reply(status: .noContent, body: nil) }

    /// A list page: `{"data": [...], "next_cursor": …}`.
    public static func page<Item: JSONWritable>(_ items: some Sequence<Item>, nextCursor: String?) -> Reply {
        page(nextCursor: nextCursor) { o in o.field("data", array: items) { w, item in item.writeJSON(&w) } }
    }

    /// A list page whose items arrive already written as JSON and joined with commas (`JSONPage`).
    static func page(joinedJSON items: some Collection<UInt8>, nextCursor: String?) -> Reply {
        page(nextCursor: nextCursor, capacity: items.count + 128) { o in o.field("data", joinedJSON: items) }
    }

    /// The page envelope around the `data` member that `writeData` writes.
    private static func page(nextCursor: String?, capacity: Int = 16_384, writeData: (inout JSONWriter) -> Void) -> Reply {
        var w = JSONWriter(capacity: capacity)
        w.object { o in
            writeData(&o)
            o.field("next_cursor", nextCursor)
        }
        return Reply(status: .ok, body: String(decoding: w.bytes, as: UTF8.self))
    }

    /// The SPEC §5 envelope for an error.
    public static func error(_ error: APIError, requestId: String) -> Reply {
        Reply(status: error.status, body: error.envelope(requestId: requestId).serialized, headers: error.headers)
    }

    public var response: Response {
        var headers = headers
        guard let body else { return Response(status: status, headers: headers) }
        if headers[.contentType] == nil { headers[.contentType] = "application/json; charset=utf-8" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
