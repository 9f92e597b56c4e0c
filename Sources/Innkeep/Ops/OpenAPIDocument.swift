import Foundation

/// The API contract: `openapi.yaml` (OpenAPI 3.1) at the repository root, hand-written and kept exact
/// by tests (every route of `API.all`, every `ErrorCode`) and by the schemathesis run of `scripts/fuzz`.
/// `serve` reads it once at start, found the way migrations are, and `GET /openapi.yaml` serves it.
public enum OpenAPIDocument {
    public static let fileName = "openapi.yaml"

    /// `OPENAPI_PATH`, else `./openapi.yaml`, else `openapi.yaml` beside an ancestor of the executable.
    public static func defaultPath() -> URL { ShippedFile.locate(fileName, variable: "OPENAPI_PATH") }

    /// The document's text; it must look like an OpenAPI 3.1 document.
    public static func load(from url: URL) throws -> String {
        let text = try String(contentsOf: url, encoding: .utf8)
        guard text.hasPrefix("openapi: 3.1") || text.contains("\nopenapi: 3.1") else {
            throw StartupError(description: "\(url.path) is not an OpenAPI 3.1 document")
        }
        return text
    }

    /// The default document, or nil when it cannot be read (an embedding that did not ship it).
    public static func loadDefault() -> String? { try? load(from: defaultPath()) }
}
