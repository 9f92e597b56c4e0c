import Foundation
import Hummingbird
import NIOCore

/// One request as a handler sees it: the request, its collected body and the services.
public struct Call: Sendable {
    public let request: Request
    public let context: AppRequestContext
    /// The collected body (empty for methods without one); already checked for size and media type.
    public let body: ByteBuffer
    public let services: AppServices
    /// The body, parsed once (off the event loop when large) by `RouteBuilder` before the handler runs.
    let parsedBody: Result<JSONValue, JSONParser.Failure>?

    init(
        request: Request,
        context: AppRequestContext,
        body: ByteBuffer,
        services: AppServices,
        parsedBody: Result<JSONValue, JSONParser.Failure>? = nil
    ) {
        self.request = request
        self.context = context
        self.body = body
        self.services = services
        self.parsedBody = parsedBody ?? BodyReader.parse(body)
    }

    /// The body as a JSON object, or 400 MALFORMED_JSON.
    public func json() throws -> FieldReader { try BodyReader.object(parsed: parsedBody) }

    /// A UUID path parameter, or 422 naming it.
    public func pathId(_ name: String = "id") throws -> UUID { try context.pathId(name) }
}
