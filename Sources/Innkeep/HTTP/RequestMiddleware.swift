import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore

/// The outermost middleware: gives every request an id (echoing a valid inbound `X-Request-Id`),
/// puts it in every log line, turns every error into the SPEC §5 envelope, and records metrics.
/// Anything unexpected becomes an opaque 500 whose cause is only logged.
struct RequestMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let services: AppServices

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        let requestId = request.headers[.requestId].flatMap(Self.validRequestId) ?? UUID.random().lowercasedString
        context.requestId = requestId
        context.logger[metadataKey: "hb.request.id"] = .string(requestId)
        let start = ContinuousClock.now
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            let apiError = Self.apiError(for: error, request: request, endpointPath: context.endpointPath)
            if apiError.code == .internalError {
                context.logger.error("unhandled error", metadata: ["error": "\(loggable(error))"])
            } else if apiError.code.status == .serviceUnavailable {
                services.metrics.degradedResponse(code: apiError.code)
                context.logger.warning("degraded response", metadata: ["code": "\(apiError.code.rawValue)", "error": "\(loggable(error))"])
            }
            response = try apiError.response(from: request, context: context)
        }
        response.headers[.requestId] = requestId
        let route = context.endpointPath.map { $0 == "NotFound" ? "unmatched" : $0 } ?? "unmatched"
        let elapsed = ContinuousClock.now - start
        services.metrics.request(route: route, method: request.method.rawValue, status: Int(response.status.code), duration: elapsed)
        context.logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                "duration_ms": "\(elapsed / .milliseconds(1))",
            ]
        )
        return response
    }

    /// Accepts ids of 1–128 visible, header-safe characters; anything else is replaced.
    static func validRequestId(_ raw: String) -> String? {
        guard (1...128).contains(raw.utf8.count),
            raw.utf8.allSatisfy({ $0 >= 0x21 && $0 <= 0x7E && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") })
        else { return nil }
        return raw
    }

    static func apiError(for error: any Error, request: Request, endpointPath: String?) -> APIError {
        switch error {
        case let error as APIError:
            return error
        case is DatabaseUnavailable:
            return .databaseUnavailable
        case let error as HTTPError:
            switch error.status {
            case .notFound where endpointPath == nil || endpointPath == "NotFound":
                let allowed = API.methods(for: request.uri.path)
                if !allowed.isEmpty {
                    return APIError(
                        .methodNotAllowed,
                        "\(request.method.rawValue) is not allowed here; use \(allowed.map(\.rawValue).joined(separator: ", ")).",
                        headers: [.allow: allowed.map(\.rawValue).joined(separator: ", ")]
                    )
                }
                return APIError(.routeNotFound, "No route \(request.method.rawValue) \(request.uri.path).")
            case .contentTooLarge: return APIError(.payloadTooLarge)
            case .unsupportedMediaType: return APIError(.unsupportedMediaType)
            case .badRequest: return APIError(.malformedJSON, "The request could not be read.")
            default: return APIError(.internalError)
            }
        case is NIOTooManyBytesError:
            return APIError(.payloadTooLarge)
        default:
            return Database.isUnavailable(error) ? .databaseUnavailable : APIError(.internalError)
        }
    }
}
