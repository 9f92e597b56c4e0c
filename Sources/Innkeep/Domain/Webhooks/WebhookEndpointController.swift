import Foundation
import Hummingbird
import PostgresNIO

/// `/api/v1/webhook-endpoints` (SPEC §13, admin only): endpoints, secret rotation, a test event and
/// the delivery log. Delivery itself is the worker's (`WebhookDispatcher`).
struct WebhookEndpointController {
    static let notFound = APIError(.webhookEndpointNotFound)

    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listWebhookEndpoints, list)
        routes.tenant(API.createWebhookEndpoint, create, awaitsNetwork: true)
        routes.tenant(API.getWebhookEndpoint, get)
        routes.tenant(API.updateWebhookEndpoint, update, awaitsNetwork: true)
        routes.tenant(API.deleteWebhookEndpoint, delete)
        routes.tenant(API.rotateWebhookSecret, rotate)
        routes.tenant(API.testWebhookEndpoint, test)
        routes.tenant(API.listWebhookDeliveries, deliveries)
    }

    /// `url`: parsed, then checked against the outbound policy (https, public destination).
    static func readURL(_ body: inout FieldReader, required: Bool, policy: OutboundURLPolicy) async -> String? {
        guard let url = body.string("url", required: required, length: 1...2000) else { return nil }
        do {
            _ = try await policy.check(url, lookUpLimit: OutboundURLPolicy.saveLookUpLimit)
            return url
        } catch {
            body.fail("url", error.description)
            return nil
        }
    }

    /// `events`: 1–20 known types, duplicates dropped.
    static func readEvents(_ body: inout FieldReader, required: Bool) -> [String]? {
        switch body.values["events"] {
        case nil:
            if required { body.fail("events", "is required") }
            return nil
        case .null?:
            body.fail("events", "must not be null")
            return nil
        case .array(let items)?:
            guard (1...20).contains(items.count) else {
                body.fail("events", "must list 1 to 20 event types")
                return nil
            }
            var types: [String] = []
            for item in items {
                guard case .string(let s) = item, WebhookEventType(rawValue: s) != nil else {
                    body.fail("events", "must list event types among \(WebhookEventType.allCases.map(\.rawValue).joined(separator: ", "))")
                    return nil
                }
                if !types.contains(s) { types.append(s) }
            }
            return types
        default:
            body.fail("events", "must be an array of event types")
            return nil
        }
    }

    @Sendable func list(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var query = FieldReader(query: request)
        let page = PageRequest(&query)
        try query.finish()
        let cursor = try page.cursor()
        let agency = context.caller.agencyId
        return try await context.read { conn in
            let rows = try await WebhookEndpointRepository.list(conn, agency: agency, cursor: cursor, limit: page.limit + 1)
            return page.reply(rows.map { ($0.createdAt, $0.id, $0.json) })
        }
    }

    @Sendable func get(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let agency = context.caller.agencyId
        return try await context.read { conn in
            guard let endpoint = try await WebhookEndpointRepository.find(conn, agency: agency, id: id) else { throw Self.notFound }
            return .json(endpoint.json)
        }
    }

    @Sendable func create(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var body = try context.json()
        let policy = OutboundURLPolicy.webhooks(allowPrivate: context.services.config.allowPrivateURLs)
        let url = await Self.readURL(&body, required: true, policy: policy)
        let events = Self.readEvents(&body, required: true)
        let description = body.string("description", length: 0...500) ?? ""
        try body.finish()
        let caller = context.caller
        let secret = WebhookSignature.newSecret()
        return try await context.transaction { conn in
            let endpoint = try await WebhookEndpointRepository.insert(
                conn,
                agency: caller.agencyId,
                url: url!,
                events: events!,
                description: description,
                secret: secret
            )
            try await AuditLog.record(
                conn,
                caller,
                "webhook_endpoint.create",
                "webhook_endpoint",
                endpoint.id,
                details: ["url": .string(endpoint.url), "events": .array(endpoint.events.map(JSONValue.string))]
            )
            return .json(endpoint.json(secret: secret), status: .created)
        }
    }

    @Sendable func update(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        var body = try context.json()
        let policy = OutboundURLPolicy.webhooks(allowPrivate: context.services.config.allowPrivateURLs)
        var change = WebhookEndpointRepository.Change()
        if body.isNull("url") { body.fail("url", "must not be null") }
        change.url = await Self.readURL(&body, required: false, policy: policy)
        change.events = Self.readEvents(&body, required: false)
        change.description = body.isNull("description") ? "" : body.string("description", length: 0...500)
        if body.isNull("enabled") { body.fail("enabled", "must not be null") }
        change.enabled = body.bool("enabled")
        try body.finish()
        let caller = context.caller
        let change2 = change
        return try await context.transaction { conn in
            guard let endpoint = try await WebhookEndpointRepository.update(conn, agency: caller.agencyId, id: id, change2) else {
                throw Self.notFound
            }
            if change2.enabled == false {
                try await WebhookEndpointRepository.failPending(conn, agency: caller.agencyId, endpoint: id, reason: "endpoint disabled")
            }
            var changed: [String] = []
            if change2.url != nil { changed.append("url") }
            if change2.events != nil { changed.append("events") }
            if change2.description != nil { changed.append("description") }
            if change2.enabled != nil { changed.append("enabled") }
            try await AuditLog.record(
                conn,
                caller,
                "webhook_endpoint.update",
                "webhook_endpoint",
                id,
                details: [
                    "fields": .array(changed.map(JSONValue.string)), "url": .string(endpoint.url), "enabled": .bool(endpoint.enabled),
                ]
            )
            return .json(endpoint.json)
        }
    }

    @Sendable func delete(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.transaction { conn in
            guard let endpoint = try await WebhookEndpointRepository.find(conn, agency: caller.agencyId, id: id, forUpdate: true),
                try await WebhookEndpointRepository.delete(conn, agency: caller.agencyId, id: id)
            else { throw Self.notFound }
            try await AuditLog.record(conn, caller, "webhook_endpoint.delete", "webhook_endpoint", id, details: ["url": .string(endpoint.url)])
            return .noContent
        }
    }

    /// A new secret; the old one keeps signing (a second signature) for 24 h.
    @Sendable func rotate(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        let secret = WebhookSignature.newSecret()
        return try await context.transaction { conn in
            guard let endpoint = try await WebhookEndpointRepository.rotate(conn, agency: caller.agencyId, id: id, newSecret: secret) else {
                throw Self.notFound
            }
            try await AuditLog.record(
                conn,
                caller,
                "webhook_endpoint.rotate",
                "webhook_endpoint",
                id,
                details: ["previous_secret_expires_at": JSONValue(endpoint.previousSecretExpiresAt)]
            )
            return .json(endpoint.json(secret: secret))
        }
    }

    /// Queues a `webhook.test` event for this endpoint alone; 202 with its delivery.
    @Sendable func test(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.transaction { conn in
            guard let endpoint = try await WebhookEndpointRepository.find(conn, agency: caller.agencyId, id: id) else { throw Self.notFound }
            let data: JSONValue = ["endpoint_id": JSONValue(endpoint.id), "message": "This is a test event from Innkeep."]
            guard let event = try await Outbox.emit(conn, agency: caller.agencyId, type: .webhookTest, data: data, onlyEndpoint: endpoint.id)
            else { throw Self.notFound }
            if !endpoint.enabled {
                try await WebhookEndpointRepository.failPending(conn, agency: caller.agencyId, endpoint: endpoint.id, reason: "endpoint disabled")
            }
            guard let delivery = try await WebhookEndpointRepository.delivery(conn, agency: caller.agencyId, endpoint: endpoint.id, event: event)
            else { throw Self.notFound }
            return .json(delivery.json, status: .accepted)
        }
    }

    @Sendable func deliveries(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        var query = FieldReader(query: request)
        let page = PageRequest(&query)
        let status = query.choice("status", as: WebhookDelivery.Status.self)
        try query.finish()
        let cursor = try page.cursor()
        let agency = context.caller.agencyId
        return try await context.read { conn in
            guard try await WebhookEndpointRepository.find(conn, agency: agency, id: id) != nil else { throw Self.notFound }
            let rows = try await WebhookEndpointRepository.deliveries(
                conn,
                agency: agency,
                endpoint: id,
                status: status,
                cursor: cursor,
                limit: page.limit + 1
            )
            return page.reply(rows.map { ($0.createdAt, $0.id, $0.json) })
        }
    }
}
