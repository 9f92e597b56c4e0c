import Foundation
import HTTPTypes
import Hummingbird

/// A field that failed validation: `{field, issue}` in `details.fields`.
public struct FieldIssue: Sendable, Codable, Equatable {
    public var field: String
    public var issue: String
    public init(_ field: String, _ issue: String) {
        self.field = field
        self.issue = issue
    }
}

/// Every error a handler means to send: a code from the closed list, a message, optional details.
public struct APIError: Error, Sendable {
    public var code: ErrorCode
    public var message: String
    public var details: JSONValue?
    /// Extra response headers (Retry-After, WWW-Authenticate, Allow).
    public var headers: HTTPFields

    public init(_ code: ErrorCode, _ message: String? = nil, details: JSONValue? = nil, headers: HTTPFields = [:]) {
        self.code = code
        self.message = message ?? code.meaning
        self.details = details
        self.headers = headers
    }

    public static func validation(_ issues: [FieldIssue]) -> APIError {
        APIError(
            .validationError,
            details: .object([
                "fields": .array(
                    issues.map {
                        .object(["field": .string($0.field), "issue": .string($0.issue)])
                    }
                )
            ])
        )
    }

    public static func validation(_ field: String, _ issue: String) -> APIError {
        validation([FieldIssue(field, issue)])
    }

    public static func retryLater(_ code: ErrorCode, seconds: Int, message: String? = nil) -> APIError {
        var headers = HTTPFields()
        headers[.retryAfter] = String(seconds)
        return APIError(code, message, headers: headers)
    }

    public static var databaseUnavailable: APIError { retryLater(.databaseUnavailable, seconds: 2) }
}

extension APIError: HTTPResponseError {
    public var status: HTTPResponse.Status { code.status }

    /// The SPEC §5 envelope: `{"error": {code, message, request_id, details?}}`. The one place it is built:
    /// error responses, `/health`'s 503 and stored idempotent replies all use it.
    public func envelope(requestId: String) -> JSONValue {
        var inner: [String: JSONValue] = ["code": .string(code.rawValue), "message": .string(message), "request_id": .string(requestId)]
        if let details { inner["details"] = details }
        return ["error": .object(inner)]
    }

    /// The error as a response (Hummingbird's `ResponseGenerator`), carrying the request's id.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let requestId = (context as? AppRequestContext)?.requestId ?? (context as? TenantRequestContext)?.requestId ?? ""
        return Reply.error(self, requestId: requestId).response
    }
}
