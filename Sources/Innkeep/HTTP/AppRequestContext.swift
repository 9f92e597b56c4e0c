import Foundation
import Hummingbird
import Logging
import NIOCore

/// The request context: Hummingbird's core storage plus our request id.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The `X-Request-Id` of this request (echoed when valid, else generated).
    public var requestId: String = ""

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
    }

    /// Bodies over 1 MiB are refused (413) before they are buffered whole.
    public var maxUploadSize: Int { BodyReader.maxBytes }
}

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
                throw APIError(.unsupportedMediaType, "Send the body as application/json (got \(mediaType.isEmpty ? "no Content-Type" : "'\(mediaType)'")).")
            }
        }
        return buffer
    }

    /// Parses a collected body as a JSON object.
    public static func object(_ buffer: ByteBuffer) throws -> FieldReader {
        guard buffer.readableBytes > 0 else { throw APIError(.malformedJSON, "The body must be a JSON object.") }
        switch JSONValue.parse(buffer.readableBytesView) {
        case .object(let o)?: return FieldReader(o)
        case nil: throw APIError(.malformedJSON, "The body is not valid JSON.")
        default: throw APIError(.malformedJSON, "The body must be a JSON object.")
        }
    }
}
