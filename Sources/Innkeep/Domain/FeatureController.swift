/// `GET /api/v1/features`: the agency's effective entitlements.
struct FeatureController {
    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.features) { call in
            let agency = call.caller.agencyId
            return try await call.read { conn in
                .page(try await FeatureRepository.effective(conn, agency: agency).map(\.json), nextCursor: nil)
            }
        }
    }
}
