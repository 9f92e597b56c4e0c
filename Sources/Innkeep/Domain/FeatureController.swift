import Hummingbird

/// `GET /api/v1/features`: the agency's effective entitlements.
struct FeatureController {
    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.features) { _, context in
            let agency = context.caller.agencyId
            return try await context.read { conn in
                .page(try await FeatureRepository.effective(conn, agency: agency).map(\.json), nextCursor: nil)
            }
        }
    }
}
