import HTTPTypes

/// One route of the API and who may call it: the single source of truth for routing,
/// RBAC (docs/rbac.md, the every-route × every-role tests) and the OpenAPI route check (openapi.yaml).
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public let method: HTTPRequest.Method
    /// The path in OpenAPI form: `/api/v1/properties/{id}`.
    public let path: String
    public let access: Access
    /// Owners may call it but see only their own properties (and their bookings).
    public let ownerScoped: Bool
    /// What an owner may do here beyond "own only", for docs/rbac.md (the handler enforces it).
    public let ownerNote: String?
    /// A POST that creates something: accepts `Idempotency-Key`.
    public let idempotent: Bool
    /// The feature the agency must have enabled.
    public let feature: Feature?

    init(
        _ method: HTTPRequest.Method,
        _ path: String,
        _ access: Access,
        ownerScoped: Bool = false,
        ownerNote: String? = nil,
        idempotent: Bool = false,
        feature: Feature? = nil
    ) {
        self.method = method
        self.path = path
        self.access = access
        self.ownerScoped = ownerScoped
        self.ownerNote = ownerNote
        self.idempotent = idempotent
        self.feature = feature
    }

    public var description: String { "\(method.rawValue) \(path)" }

    /// The roles that may call it inside an agency (empty for non-agency access).
    public var allowedRoles: [Role] {
        switch access {
        case .roles(let roles): Role.allCases.filter(roles.contains)
        default: []
        }
    }

    /// The path in Hummingbird's router syntax: `/api/v1/properties/:id`.
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : part
        }.joined(separator: "/")
    }

    /// Whether a concrete request path fits this endpoint's template.
    func matches(path requestPath: String) -> Bool {
        let a = path.split(separator: "/")
        let b = requestPath.split(separator: "/")
        return a.count == b.count && zip(a, b).allSatisfy { t, p in t.hasPrefix("{") || t == p }
    }
}

private let everyone: Set<Role> = Set(Role.allCases)

/// Every endpoint of the service (SPEC §2–§7).
public enum API {
    public static let health = Endpoint(.get, "/health", .anonymous)
    public static let healthLive = Endpoint(.get, "/health/live", .anonymous)
    /// The OpenAPI 3.1 document describing every endpoint here (openapi.yaml).
    public static let openAPI = Endpoint(.get, "/openapi.yaml", .anonymous)
    public static let signup = Endpoint(.post, "/api/v1/auth/signup", .anonymous)
    public static let login = Endpoint(.post, "/api/v1/auth/login", .anonymous)
    public static let me = Endpoint(.get, "/api/v1/me", .user)
    /// Not idempotent: keys are scoped per agency (SPEC §10), and this creates the agency.
    public static let createAgency = Endpoint(.post, "/api/v1/agencies", .user)

    public static let listProperties = Endpoint(.get, "/api/v1/properties", .roles(everyone), ownerScoped: true)
    public static let getProperty = Endpoint(.get, "/api/v1/properties/{id}", .roles(everyone), ownerScoped: true)
    public static let createProperty = Endpoint(.post, "/api/v1/properties", .roles([.admin, .manager]), idempotent: true)
    public static let updateProperty = Endpoint(.patch, "/api/v1/properties/{id}", .roles([.admin, .manager]))
    public static let deleteProperty = Endpoint(.delete, "/api/v1/properties/{id}", .roles([.admin]))

    public static let listBookings = Endpoint(.get, "/api/v1/bookings", .roles(everyone), ownerScoped: true)
    public static let getBooking = Endpoint(.get, "/api/v1/bookings/{id}", .roles(everyone), ownerScoped: true)
    public static let createBooking = Endpoint(.post, "/api/v1/bookings", .roles([.admin, .manager]), idempotent: true)
    public static let cancelBooking = Endpoint(.post, "/api/v1/bookings/{id}/cancel", .roles([.admin, .manager]))

    public static let listBlocks = Endpoint(.get, "/api/v1/blocks", .roles(everyone), ownerScoped: true)
    public static let getBlock = Endpoint(.get, "/api/v1/blocks/{id}", .roles(everyone), ownerScoped: true)
    public static let createBlock = Endpoint(
        .post,
        "/api/v1/blocks",
        .roles([.admin, .manager, .owner]),
        ownerScoped: true,
        ownerNote: ownerStays,
        idempotent: true
    )
    public static let deleteBlock = Endpoint(
        .delete,
        "/api/v1/blocks/{id}",
        .roles([.admin, .manager, .owner]),
        ownerScoped: true,
        ownerNote: ownerStays
    )
    /// Owners create and delete `owner_stay` blocks on their own properties only (`BlockController`).
    static let ownerStays = "`owner_stay` on own properties"
    public static let propertyCalendar = Endpoint(.get, "/api/v1/properties/{id}/calendar", .roles(everyone), ownerScoped: true)
    public static let availability = Endpoint(.get, "/api/v1/availability", .roles([.admin, .manager, .staff]))

    public static let listChannelConnections = Endpoint(.get, "/api/v1/channel-connections", .roles([.admin]), feature: .channelSync)
    public static let createChannelConnection = Endpoint(
        .post,
        "/api/v1/channel-connections",
        .roles([.admin]),
        idempotent: true,
        feature: .channelSync
    )
    public static let getChannelConnection = Endpoint(.get, "/api/v1/channel-connections/{id}", .roles([.admin]), feature: .channelSync)
    public static let updateChannelConnection = Endpoint(.patch, "/api/v1/channel-connections/{id}", .roles([.admin]), feature: .channelSync)
    public static let deleteChannelConnection = Endpoint(
        .delete,
        "/api/v1/channel-connections/{id}",
        .roles([.admin]),
        feature: .channelSync
    )
    public static let syncChannelConnection = Endpoint(.post, "/api/v1/channel-connections/{id}/sync", .roles([.admin]), feature: .channelSync)
    public static let rotateExportToken = Endpoint(
        .post,
        "/api/v1/channel-connections/{id}/rotate-export-token",
        .roles([.admin]),
        feature: .channelSync
    )
    public static let listChannelConflicts = Endpoint(.get, "/api/v1/channel-conflicts", .roles([.admin, .manager]), feature: .channelSync)
    /// A connection's export feed: anonymous, the secret token is the credential (SPEC §12).
    public static let icalFeed = Endpoint(.get, "/ical/{token}.ics", .anonymous)

    public static let listTeamMembers = Endpoint(.get, "/api/v1/team-members", .roles([.admin, .manager]))
    public static let addTeamMember = Endpoint(.post, "/api/v1/team-members", .roles([.admin]), idempotent: true)
    public static let updateTeamMember = Endpoint(.patch, "/api/v1/team-members/{id}", .roles([.admin]))
    public static let removeTeamMember = Endpoint(.delete, "/api/v1/team-members/{id}", .roles([.admin]))

    public static let listWebhookEndpoints = Endpoint(.get, "/api/v1/webhook-endpoints", .roles([.admin]))
    public static let createWebhookEndpoint = Endpoint(.post, "/api/v1/webhook-endpoints", .roles([.admin]), idempotent: true)
    public static let getWebhookEndpoint = Endpoint(.get, "/api/v1/webhook-endpoints/{id}", .roles([.admin]))
    public static let updateWebhookEndpoint = Endpoint(.patch, "/api/v1/webhook-endpoints/{id}", .roles([.admin]))
    public static let deleteWebhookEndpoint = Endpoint(.delete, "/api/v1/webhook-endpoints/{id}", .roles([.admin]))
    public static let rotateWebhookSecret = Endpoint(.post, "/api/v1/webhook-endpoints/{id}/rotate-secret", .roles([.admin]))
    /// Creates a `webhook.test` event (and its delivery), so it takes an Idempotency-Key like any create.
    public static let testWebhookEndpoint = Endpoint(.post, "/api/v1/webhook-endpoints/{id}/test", .roles([.admin]), idempotent: true)
    public static let listWebhookDeliveries = Endpoint(.get, "/api/v1/webhook-endpoints/{id}/deliveries", .roles([.admin]))

    public static let auditLog = Endpoint(.get, "/api/v1/audit-log", .roles([.admin, .accountant]))
    public static let features = Endpoint(.get, "/api/v1/features", .roles(everyone))

    public static let listInvitations = Endpoint(.get, "/api/v1/invitations", .roles([.admin]))
    public static let revokeInvitation = Endpoint(.delete, "/api/v1/invitations/{id}", .roles([.admin]))
    /// The invitee's, signed in with no agency context (they are not a member yet).
    public static let acceptInvitation = Endpoint(.post, "/api/v1/invitations/{id}/accept", .user)
    public static let declineInvitation = Endpoint(.post, "/api/v1/invitations/{id}/decline", .user)

    public static let currentCommit = Endpoint(.get, "/ops/current-commit", .platformOperator)
    public static let envSanity = Endpoint(.get, "/ops/env-sanity", .platformOperator)
    public static let metrics = Endpoint(.get, "/metrics", .platformOperator)
    public static let setFeature = Endpoint(.put, "/ops/agencies/{agency_id}/features/{name}", .platformOperator)

    public static let all: [Endpoint] = [
        health, healthLive, openAPI, signup, login, me, createAgency,
        listProperties, getProperty, createProperty, updateProperty, deleteProperty,
        listBookings, getBooking, createBooking, cancelBooking,
        listBlocks, getBlock, createBlock, deleteBlock, propertyCalendar, availability,
        listChannelConnections, createChannelConnection, getChannelConnection, updateChannelConnection, deleteChannelConnection,
        syncChannelConnection, rotateExportToken, listChannelConflicts, icalFeed,
        listTeamMembers, addTeamMember, updateTeamMember, removeTeamMember,
        listWebhookEndpoints, createWebhookEndpoint, getWebhookEndpoint, updateWebhookEndpoint, deleteWebhookEndpoint,
        rotateWebhookSecret, testWebhookEndpoint, listWebhookDeliveries,
        listInvitations, revokeInvitation, acceptInvitation, declineInvitation,
        auditLog, features, currentCommit, envSanity, metrics, setFeature,
    ]

    /// The methods a path answers to, for 405 and `Allow`.
    static func methods(for path: String) -> [HTTPRequest.Method] {
        all.filter { $0.matches(path: path) }.map(\.method)
    }
}
