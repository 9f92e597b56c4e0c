import Foundation

/// `GET /openapi.yaml`: the contract, as loaded at start.
struct OpenAPIController {
    func addRoutes(to routes: RouteBuilder) {
        routes.anonymous(API.openAPI) { call in
            guard let document = call.services.openAPIDocument else {
                throw APIError(
                    .serviceUnavailable,
                    "The API document was not loaded; set OPENAPI_PATH.",
                    headers: [.retryAfter: "60"]
                )
            }
            return Reply(status: .ok, body: document, headers: [.contentType: "application/yaml; charset=utf-8"])
        }
    }
}
