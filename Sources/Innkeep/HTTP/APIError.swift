import Foundation
import HTTPTypes

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
        APIError(.validationError, details: .object(["fields": .array(issues.map {
            .object(["field": .string($0.field), "issue": .string($0.issue)])
        })]))
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
