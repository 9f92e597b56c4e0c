import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Builds the router with every controller; tests build the very same one.
public func buildRouter(_ services: AppServices) -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    // Added before any route: Hummingbird wraps each route with the middleware present when it is added.
    router.add(middleware: RequestMiddleware(services: services))
    let routes = RouteBuilder(router: router, services: services)
    HealthController().addRoutes(to: routes)
    OpenAPIController().addRoutes(to: routes)
    OpsController().addRoutes(to: routes)
    AuthController().addRoutes(to: routes)
    PropertyController().addRoutes(to: routes)
    BookingController().addRoutes(to: routes)
    BlockController().addRoutes(to: routes)
    CalendarController().addRoutes(to: routes)
    ChannelConnectionController().addRoutes(to: routes)
    ChannelConflictController().addRoutes(to: routes)
    ICalFeedController().addRoutes(to: routes)
    TeamController().addRoutes(to: routes)
    WebhookEndpointController().addRoutes(to: routes)
    InvitationController().addRoutes(to: routes)
    AuditLogController().addRoutes(to: routes)
    FeatureController().addRoutes(to: routes)
    return router
}

/// The HTTP application with the database pool as a service it runs.
public func buildApplication(_ services: AppServices) -> some ApplicationProtocol {
    Application(
        router: buildRouter(services),
        server: .http1(configuration: .init(idleTimeout: HTTPLimits.idleTimeout)),
        configuration: .init(address: .hostname(services.config.host, port: services.config.port), serverName: "innkeep"),
        services: [services.db],
        logger: services.logger
    )
}
