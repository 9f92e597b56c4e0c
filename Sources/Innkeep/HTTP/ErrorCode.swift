import HTTPTypes

/// The closed list of error codes a client can receive (SPEC §5); renders docs/errors.md.
public enum ErrorCode: String, CaseIterable, Sendable, Codable {
    case malformedJSON = "MALFORMED_JSON"
    case agencyRequired = "AGENCY_REQUIRED"
    case authRequired = "AUTH_REQUIRED"
    case invalidToken = "INVALID_TOKEN"
    case invalidCredentials = "INVALID_CREDENTIALS"
    case insufficientRole = "INSUFFICIENT_ROLE"
    case agencyAccessDenied = "AGENCY_ACCESS_DENIED"
    case featureDisabled = "FEATURE_DISABLED"
    case routeNotFound = "ROUTE_NOT_FOUND"
    case propertyNotFound = "PROPERTY_NOT_FOUND"
    case bookingNotFound = "BOOKING_NOT_FOUND"
    case blockNotFound = "BLOCK_NOT_FOUND"
    case channelConnectionNotFound = "CHANNEL_CONNECTION_NOT_FOUND"
    case teamMemberNotFound = "TEAM_MEMBER_NOT_FOUND"
    case webhookEndpointNotFound = "WEBHOOK_ENDPOINT_NOT_FOUND"
    case invitationNotFound = "INVITATION_NOT_FOUND"
    case agencyNotFound = "AGENCY_NOT_FOUND"
    case featureNotFound = "FEATURE_NOT_FOUND"
    case feedNotFound = "FEED_NOT_FOUND"
    case methodNotAllowed = "METHOD_NOT_ALLOWED"
    case bookingConflict = "BOOKING_CONFLICT"
    case blockConflict = "BLOCK_CONFLICT"
    case blockManagedByChannel = "BLOCK_MANAGED_BY_CHANNEL"
    case bookingAlreadyCancelled = "BOOKING_ALREADY_CANCELLED"
    case propertyHasBookings = "PROPERTY_HAS_BOOKINGS"
    case emailTaken = "EMAIL_TAKEN"
    case alreadyMember = "ALREADY_MEMBER"
    case invitationNotPending = "INVITATION_NOT_PENDING"
    case lastAdmin = "LAST_ADMIN"
    case channelConnectionExists = "CHANNEL_CONNECTION_EXISTS"
    case channelConnectionPaused = "CHANNEL_CONNECTION_PAUSED"
    case idempotencyRequestInProgress = "IDEMPOTENCY_REQUEST_IN_PROGRESS"
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case unsupportedMediaType = "UNSUPPORTED_MEDIA_TYPE"
    case validationError = "VALIDATION_ERROR"
    case stayRulesViolated = "STAY_RULES_VIOLATED"
    case idempotencyKeyMismatch = "IDEMPOTENCY_KEY_MISMATCH"
    case rateLimited = "RATE_LIMITED"
    case internalError = "INTERNAL_ERROR"
    case databaseUnavailable = "DATABASE_UNAVAILABLE"
    case serviceUnavailable = "SERVICE_UNAVAILABLE"

    /// The HTTP status every response with this code carries.
    public var status: HTTPResponse.Status {
        switch self {
        case .malformedJSON, .agencyRequired: .badRequest
        case .authRequired, .invalidToken, .invalidCredentials: .unauthorized
        case .insufficientRole, .agencyAccessDenied, .featureDisabled: .forbidden
        case .routeNotFound, .propertyNotFound, .bookingNotFound, .blockNotFound, .channelConnectionNotFound,
            .teamMemberNotFound, .webhookEndpointNotFound, .invitationNotFound, .agencyNotFound, .featureNotFound, .feedNotFound:
            .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .bookingConflict, .blockConflict, .blockManagedByChannel, .bookingAlreadyCancelled, .propertyHasBookings, .emailTaken,
            .alreadyMember, .invitationNotPending, .lastAdmin, .channelConnectionExists, .channelConnectionPaused,
            .idempotencyRequestInProgress:
            .conflict
        case .payloadTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .validationError, .stayRulesViolated, .idempotencyKeyMismatch: .unprocessableContent
        case .rateLimited: .tooManyRequests
        case .internalError: .internalServerError
        case .databaseUnavailable, .serviceUnavailable: .serviceUnavailable
        }
    }

    /// What the code means, for docs/errors.md and the default message.
    public var meaning: String {
        switch self {
        case .malformedJSON: "The body is not valid JSON (or not a JSON object)."
        case .agencyRequired: "The caller belongs to several agencies; send X-Agency-Id."
        case .authRequired: "No bearer token was sent."
        case .invalidToken: "The bearer token is invalid, expired, or names a user that does not exist."
        case .invalidCredentials: "Wrong email or password."
        case .insufficientRole: "The caller's role in this agency may not use this endpoint; details.allowed_roles names those that may."
        case .agencyAccessDenied: "The caller is not a member of that agency."
        case .featureDisabled: "The agency's plan does not include this feature."
        case .routeNotFound: "No such route."
        case .propertyNotFound: "No such property in this agency."
        case .bookingNotFound: "No such booking in this agency."
        case .blockNotFound: "No such block in this agency."
        case .channelConnectionNotFound: "No such channel connection in this agency."
        case .teamMemberNotFound: "No such team member in this agency."
        case .webhookEndpointNotFound: "No such webhook endpoint in this agency."
        case .invitationNotFound: "No such invitation for you (or, for an admin, in this agency)."
        case .agencyNotFound: "No such agency."
        case .featureNotFound: "No feature of that name exists."
        case .feedNotFound: "No iCal feed has that token (it may have been rotated)."
        case .methodNotAllowed: "The route exists but not with this method; see the Allow header."
        case .bookingConflict:
            "The stay overlaps a confirmed booking or a block; details.conflicting_booking_id or conflicting_block_id names it."
        case .blockConflict: "The block overlaps a confirmed booking or a block; details.conflicting_booking_id or conflicting_block_id names it."
        case .blockManagedByChannel: "The block was imported by channel sync; it changes only when the channel's calendar does."
        case .bookingAlreadyCancelled: "The booking was already cancelled."
        case .propertyHasBookings: "The property has confirmed future bookings; cancel them first."
        case .emailTaken: "A user with that email already exists."
        case .alreadyMember: "That user is already a member of this agency."
        case .invitationNotPending: "The invitation was already accepted or declined, was revoked, or has expired."
        case .lastAdmin: "The agency's last admin cannot be demoted or removed."
        case .channelConnectionExists: "That channel listing is already connected in this agency."
        case .channelConnectionPaused: "The connection is paused; set its status to active to sync it."
        case .idempotencyRequestInProgress: "A request with this Idempotency-Key is still running; retry later."
        case .payloadTooLarge: "The body is larger than 1 MiB."
        case .unsupportedMediaType: "Send the body as application/json."
        case .validationError: "One or more fields are invalid; details.fields lists every one."
        case .stayRulesViolated: "The stay is shorter or longer than the property allows; details.min_nights and max_nights say what it allows."
        case .idempotencyKeyMismatch: "This Idempotency-Key was used with a different request."
        case .rateLimited: "Too many requests; retry after Retry-After seconds."
        case .internalError: "An unexpected error; it was logged with the request id."
        case .databaseUnavailable: "The database is unavailable; retry after Retry-After seconds."
        case .serviceUnavailable: "The service is temporarily unavailable; retry after Retry-After seconds."
        }
    }
}
