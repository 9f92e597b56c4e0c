import Foundation
import Hummingbird
import Logging

/// The request context: Hummingbird's core storage plus our request id.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The `X-Request-Id` of this request (echoed when valid, else generated).
    public var requestId: String = ""
    /// The peer's IP address (nil in in-process tests); see `ClientAddress` for proxies.
    public let peerAddress: String?
    /// Set by `RouteBuilder.tenant` once the caller's membership and role are verified; the tenant
    /// handler's `TenantRequestContext` is made from it.
    var admission: TenantAdmission?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
    }

    /// Bodies over 1 MiB are refused (413) before they are buffered whole.
    public var maxUploadSize: Int { BodyReader.maxBytes }
}
