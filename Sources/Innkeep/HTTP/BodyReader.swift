import Foundation
import Hummingbird
import NIOCore
import NIOPosix

/// Reads request bodies: JSON only, 1 MiB at most.
public enum BodyReader {
    public static let maxBytes = 1 << 20

    /// Collects the body (for methods that carry one), enforcing size and media type.
    public static func collect(_ request: inout Request) async throws -> ByteBuffer {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBytes {
            throw APIError(.payloadTooLarge)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.collectBody(upTo: maxBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw APIError(.payloadTooLarge)
        } catch is NIOTooManyBytesError {
            throw APIError(.payloadTooLarge)
        }
        if buffer.readableBytes > 0 {
            let type = request.headers[.contentType]?.lowercased() ?? ""
            let mediaType = type.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            guard mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
                throw APIError(
                    .unsupportedMediaType,
                    "Send the body as application/json (got \(mediaType.isEmpty ? "no Content-Type" : "'\(mediaType)'"))."
                )
            }
        }
        return buffer
    }

    /// Bodies larger than this are parsed on the thread pool, never on an event loop (SPEC §14).
    public static let offloadAbove = 16 * 1024

    /// Parses a collected body as a JSON object.
    public static func object(_ buffer: ByteBuffer) throws -> FieldReader {
        try object(parsed: parse(buffer))
    }

    /// The body parsed (an empty body is nil): linear in its size, nesting at most 64.
    static func parse(_ buffer: ByteBuffer) -> Result<JSONValue, JSONParser.Failure>? {
        guard buffer.readableBytes > 0 else { return nil }
        return Result { () throws(JSONParser.Failure) in try JSONParser.parse(buffer.readableBytesView) }
    }

    /// A large body is parsed on `NIOThreadPool`, so requests on the same event loop do not wait for it.
    static func parseOffLoop(_ buffer: ByteBuffer) async throws -> Result<JSONValue, JSONParser.Failure>? {
        guard buffer.readableBytes > offloadAbove else { return parse(buffer) }
        return try await NIOThreadPool.singleton.runIfActive { parse(buffer) }
    }

    static func object(parsed: Result<JSONValue, JSONParser.Failure>?) throws -> FieldReader {
        switch parsed {
        case nil: throw APIError(.malformedJSON, "The body must be a JSON object.")
        case .failure(.tooDeep)?: throw APIError(.malformedJSON, "The body nests deeper than \(JSONParser.maxDepth) levels.")
        case .failure?: throw APIError(.malformedJSON, "The body is not valid JSON.")
        case .success(.object(let o))?: return FieldReader(o)
        case .success?: throw APIError(.malformedJSON, "The body must be a JSON object.")
        }
    }
}
