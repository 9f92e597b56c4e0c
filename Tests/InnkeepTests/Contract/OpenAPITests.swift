import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// openapi.yaml is the contract: these tests keep it exact against the code. The router's routes (`API.all`)
/// and the document's operations are the same set; the document's error codes are the `ErrorCode` catalogue
/// and each error response lists only codes of its own status; the access rule of every endpoint shows in
/// its security, parameters and error responses. schemathesis (scripts/fuzz) then checks the live server
/// against the same document.
@Suite struct OpenAPITests {
    static let documentURL = TestEnv.repo.appendingPathComponent("openapi.yaml")
    static let text: String = (try? String(contentsOf: documentURL, encoding: .utf8)) ?? ""
    static let document: JSONValue = (try? MiniYAML.parse(text)) ?? .null
    static let httpMethods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]

    /// Every operation: "METHOD /path" → the operation object.
    static var operations: [String: JSONValue] {
        var result: [String: JSONValue] = [:]
        guard case .object(let paths)? = document["paths"] else { return result }
        for (path, item) in paths {
            guard case .object(let methods) = item else { continue }
            for (method, operation) in methods where httpMethods.contains(method) {
                result["\(method.uppercased()) \(path)"] = operation
            }
        }
        return result
    }

    /// Follows a `$ref` (`#/components/...`) to what it names; other values are returned as they are.
    static func resolve(_ value: JSONValue?) -> JSONValue? {
        guard let ref = value?["$ref"]?.stringValue else { return value }
        guard ref.hasPrefix("#/") else { return nil }
        var node: JSONValue? = document
        for part in ref.dropFirst(2).split(separator: "/") {
            node = node?[part.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")]
        }
        return resolve(node)
    }

    static let errorRef = "#/components/schemas/Error"

    /// The codes an operation's response for `status` may carry: its `x-error-codes`, or nil when it lists none.
    /// Every error response's body is the one shared `Error` schema, referenced as is (a client generated from the
    /// document then has one error type); which codes each response can carry is said by this extension (and
    /// its description), never by narrowing the schema's `code` enum per response.
    static func errorCodes(_ operation: JSONValue, status: String) -> Set<String>? {
        guard let response = resolve(operation["responses"]?[status]),
            let codes = response["x-error-codes"]?.arrayValue
        else { return nil }
        return Set(codes.compactMap(\.stringValue))
    }

    static func statuses(_ operation: JSONValue) -> Set<String> {
        guard case .object(let responses)? = operation["responses"] else { return [] }
        return Set(responses.keys)
    }

    static func parameters(_ operation: JSONValue) -> [(name: String, location: String, required: Bool)] {
        (operation["parameters"]?.arrayValue ?? []).compactMap { resolve($0) }.compactMap { p in
            guard let name = p["name"]?.stringValue, let location = p["in"]?.stringValue else { return nil }
            return (name, location, p["required"] == .bool(true))
        }
    }

    @Test func documentParses() throws {
        #expect(!Self.text.isEmpty, "openapi.yaml is missing")
        _ = try MiniYAML.parse(Self.text)
        #expect(Self.document["openapi"]?.stringValue?.hasPrefix("3.1") == true)
        #expect(Self.operations.count > 0)
    }

    // MARK: routes

    @Test func everyRouteIsDocumentedAndEveryDocumentedOperationIsARoute() {
        let routes = Set(API.all.map(\.description))
        let documented = Set(Self.operations.keys)
        let undocumented = routes.subtracting(documented).sorted()
        let unrouted = documented.subtracting(routes).sorted()
        #expect(undocumented.isEmpty, "routes missing from openapi.yaml: \(undocumented)")
        #expect(unrouted.isEmpty, "operations in openapi.yaml that no route serves: \(unrouted)")
        #expect(routes.count == API.all.count, "API.all lists a route twice")
    }

    /// Routes reach the router only through `RouteBuilder` with an `Endpoint` of `API.all`; nothing else in
    /// the sources registers a handler, so `API.all` is the router's route list.
    @Test func nothingRegistersARouteOutsideTheEndpointTable() throws {
        let sources = TestEnv.repo.appendingPathComponent("Sources/Innkeep")
        let files =
            FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        #expect(!files.isEmpty)
        let registering = try Regex(#"router\.(on|get|put|post|patch|delete|head|group|addRoutes)\s*\("#)
        for file in files where file.lastPathComponent != "RouteBuilder.swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(text.firstMatch(of: registering) == nil, "\(file.lastPathComponent) registers a route outside RouteBuilder")
        }
    }

    /// Every endpoint of the table is really served: no request to it answers ROUTE_NOT_FOUND or 405.
    @Test func everyDocumentedRouteIsServed() async throws {
        try await withApp { api in
            for endpoint in API.all {
                let path = endpoint.path.replacingOccurrences(of: "{agency_id}", with: UUID().uuidString)
                    .replacingOccurrences(of: "{name}", with: "channel_sync")
                    .replacingOccurrences(of: "{id}", with: UUID().uuidString)
                let r = try await api.send(endpoint.method, path)
                #expect(
                    r.errorCode != ErrorCode.routeNotFound.rawValue && r.errorCode != ErrorCode.methodNotAllowed.rawValue,
                    "\(endpoint) is in API.all but not served: \(r.status) \(r.raw.prefix(200))"
                )
            }
        }
    }

    @Test func pathParametersAreDeclared() {
        for (key, operation) in Self.operations {
            let path = String(key.split(separator: " ")[1])
            // A segment may carry a suffix after its parameter: `/ical/{token}.ics`.
            let templated = Set(
                path.split(separator: "/").filter { $0.hasPrefix("{") }.compactMap { $0.dropFirst().split(separator: "}").first.map(String.init) }
            )
            let declared = Set(Self.parameters(operation).filter { $0.location == "path" && $0.required }.map(\.name))
            #expect(templated == declared, "\(key): path parameters \(templated) but declared \(declared)")
        }
    }

    // MARK: the error catalogue

    @Test func errorCodeEnumIsTheCatalogue() {
        let documented = (Self.document["components"]?["schemas"]?["ErrorCode"]?["enum"]?.arrayValue ?? []).compactMap(\.stringValue)
        #expect(documented == ErrorCode.allCases.map(\.rawValue), "components.schemas.ErrorCode.enum differs from ErrorCode")
        #expect(Set(documented).count == documented.count, "a code is listed twice")
    }

    /// An error response lists only codes whose status is that response's status.
    @Test func everyErrorResponseListsCodesOfItsOwnStatus() {
        var checked = 0
        for (key, operation) in Self.operations.sorted(by: { $0.key < $1.key }) {
            for status in Self.statuses(operation) where Int(status).map({ $0 >= 400 }) == true {
                guard let codes = Self.errorCodes(operation, status: status) else {
                    Issue.record("\(key) \(status) is not the error envelope")
                    continue
                }
                #expect(!codes.isEmpty, "\(key) \(status) lists no code")
                for code in codes {
                    guard let known = ErrorCode(rawValue: code) else {
                        Issue.record("\(key) \(status): \(code) is not in the catalogue")
                        continue
                    }
                    #expect(String(known.status.code) == status, "\(key): \(code) is a \(known.status.code), documented as \(status)")
                    checked += 1
                }
            }
        }
        #expect(checked > 100)
    }

    /// Every error response (status 400 and up) lists its codes in `x-error-codes` (distinct, each also named in
    /// its description) and its body is the shared `Error` schema referenced as is: a `$ref` straight to it, or
    /// one alternative of a `oneOf` (`GET /ops/env-sanity`: the report or the envelope). `GET /health` is the one
    /// exception: its 503 is the health report with the error inside, whose code must be the one listed.
    @Test func everyErrorResponseIsTheSharedEnvelopeWithItsCodesListed() {
        let envelope: JSONValue = ["$ref": .string(Self.errorRef)]
        var checked = 0
        for (key, operation) in Self.operations.sorted(by: { $0.key < $1.key }) {
            guard case .object(let responses)? = operation["responses"] else { continue }
            for (status, value) in responses where Int(status).map({ $0 >= 400 }) == true {
                guard let response = Self.resolve(value) else {
                    Issue.record("\(key) \(status) does not resolve")
                    continue
                }
                let listed = (response["x-error-codes"]?.arrayValue ?? []).map(\.stringValue)
                #expect(!listed.isEmpty && !listed.contains(nil), "\(key) \(status): x-error-codes is missing, empty or not a list of codes")
                let codes = listed.compactMap { $0 }
                #expect(Set(codes).count == codes.count, "\(key) \(status): a code is listed twice")
                let description = response["description"]?.stringValue ?? ""
                for code in codes { #expect(description.contains(code), "\(key) \(status): the description does not name \(code)") }
                let schema = response["content"]?["application/json"]?["schema"]
                if key == "GET /health" && status == "503" {
                    let embedded = Self.resolve(schema)?["properties"]?["error"]?["properties"]?["code"]?["const"]?.stringValue
                    #expect(embedded.map { [$0] } == codes, "GET /health 503 embeds \(embedded ?? "no code"), lists \(codes)")
                } else if let alternatives = schema?["oneOf"]?.arrayValue {
                    #expect(alternatives.contains(envelope), "\(key) \(status): no alternative is the Error envelope as is")
                } else {
                    #expect(schema == envelope, "\(key) \(status): the body must be `$ref: '\(Self.errorRef)'`, as is")
                }
                checked += 1
            }
        }
        #expect(checked > 300, "\(checked) error responses")
    }

    /// Nothing narrows the envelope: an `allOf` over `Error` with a per-response `code` enum made a client generated
    /// by openapi-python-client carry a copy of the error type per operation and status (1,053 of its 1,144 model
    /// files; one type now). `ErrorCode` alone enumerates the codes.
    @Test func noSchemaNarrowsTheErrorCode() {
        let envelope: JSONValue = ["$ref": .string(Self.errorRef)]
        var visited = 0
        func walk(_ value: JSONValue, _ at: String) {
            switch value {
            case .object(let o):
                visited += 1
                if let parts = o["allOf"]?.arrayValue {
                    #expect(!parts.contains(envelope), "\(at): an allOf over Error narrows the envelope")
                }
                if let code = o["properties"]?["error"]?["properties"]?["code"], code["$ref"] == nil, at != "#/components/schemas/Health" {
                    Issue.record("\(at): error.code is narrowed to \(code)")
                }
                for (k, v) in o { walk(v, at + "/" + k) }
            case .array(let a): for (i, v) in a.enumerated() { walk(v, at + "/\(i)") }
            default: break
            }
        }
        walk(Self.document, "#")
        #expect(visited > 1000)
        let code = Self.document["components"]?["schemas"]?["Error"]?["properties"]?["error"]?["properties"]?["code"]
        #expect(code == ["$ref": "#/components/schemas/ErrorCode"])
    }

    /// Every code of the catalogue is documented on the operations that can answer it; the two the router
    /// answers for any path (404 ROUTE_NOT_FOUND, 405 METHOD_NOT_ALLOWED) are described in `info`.
    @Test func everyCodeIsDocumentedWhereItCanBeAnswered() {
        var answered = Set<String>()
        for operation in Self.operations.values {
            for status in Self.statuses(operation) { answered.formUnion(Self.errorCodes(operation, status: status) ?? []) }
        }
        let routerLevel: Set<String> = [ErrorCode.routeNotFound.rawValue, ErrorCode.methodNotAllowed.rawValue]
        let missing = Set(ErrorCode.allCases.map(\.rawValue)).subtracting(answered).subtracting(routerLevel)
        #expect(missing.isEmpty, "codes no operation documents: \(missing.sorted())")
        let description = Self.document["info"]?["description"]?.stringValue ?? ""
        for code in routerLevel { #expect(description.contains(code), "info.description should explain \(code)") }
    }

    /// docs/errors.md, rendered from the catalogue, has every code with its status and meaning.
    @Test func errorsDocumentListsEveryCode() throws {
        let doc = try String(contentsOf: TestEnv.repo.appendingPathComponent("docs/errors.md"), encoding: .utf8)
        for code in ErrorCode.allCases {
            #expect(doc.contains("| \(code.status.code) | `\(code.rawValue)` | \(code.meaning) |"), "docs/errors.md lacks \(code.rawValue)")
        }
    }

    /// Every code the sources throw is a case of the catalogue, and every case is thrown somewhere (a code
    /// nothing answers is dead and should leave the list). `INTERNAL_ERROR`, `DATABASE_UNAVAILABLE` and the
    /// router's two are produced by the middleware and the database layer.
    @Test func codesThrownInSourcesAreExactlyTheCatalogue() throws {
        let sources = TestEnv.repo.appendingPathComponent("Sources/Innkeep")
        let files =
            FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" && $0.lastPathComponent != "ErrorCode.swift" } ?? []
        let use = try Regex(#"(?:APIError\(\s*|retryLater\(\s*|code: |apiError\.code == |\.code == )\.([a-zA-Z]+)"#)
        var used = Set<String>()
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for match in text.matches(of: use) {
                if let name = match.output[1].substring { used.insert(String(name)) }
            }
        }
        let caseNames = Set(ErrorCode.allCases.map { String(describing: $0) })
        #expect(used.subtracting(caseNames).isEmpty, "thrown but not in ErrorCode: \(used.subtracting(caseNames).sorted())")
        let producedElsewhere: Set<String> = ["internalError", "databaseUnavailable", "routeNotFound", "methodNotAllowed"]
        let dead = caseNames.subtracting(used).subtracting(producedElsewhere)
        #expect(dead.isEmpty, "in ErrorCode but never thrown: \(dead.sorted())")
    }

    // MARK: access, headers and parameters per endpoint

    @Test(arguments: API.all)
    func operationDocumentsItsAccessRule(_ endpoint: Endpoint) throws {
        let operation = try #require(Self.operations[endpoint.description], "\(endpoint) is not documented")
        let statuses = Self.statuses(operation)
        let security = (operation["security"]?.arrayValue ?? []).compactMap { requirement -> String? in
            guard case .object(let o) = requirement else { return nil }
            return o.keys.sorted().joined(separator: "+")
        }
        let parameters = Self.parameters(operation)
        let headerNames = Set(parameters.filter { $0.location == "header" }.map(\.name))
        func codes(_ status: Int) -> Set<String> { Self.errorCodes(operation, status: String(status)) ?? [] }

        #expect(statuses.contains("500"), "\(endpoint): every operation can answer 500 INTERNAL_ERROR")
        #expect(headerNames.contains("X-Request-Id"), "\(endpoint): X-Request-Id is accepted everywhere")
        #expect(
            headerNames.contains("Idempotency-Key") == (endpoint.idempotent && endpoint.allowedRoles.count > 0),
            "\(endpoint): Idempotency-Key is documented exactly on the idempotent tenant POSTs"
        )
        switch endpoint.access {
        case .anonymous:
            #expect(security == [], "\(endpoint): anonymous operations declare `security: []`")
            #expect(!statuses.contains("401") || endpoint == API.login, "\(endpoint): anonymous")
        case .user:
            #expect(security == ["bearerAuth"])
            #expect(codes(401) == ["AUTH_REQUIRED", "INVALID_TOKEN"])
            #expect(!headerNames.contains("X-Agency-Id"), "\(endpoint) acts outside any agency")
        case .roles(let roles):
            #expect(security == ["bearerAuth"])
            #expect(codes(401) == ["AUTH_REQUIRED", "INVALID_TOKEN"])
            #expect(headerNames.contains("X-Agency-Id"))
            #expect(codes(400).contains("AGENCY_REQUIRED"))
            #expect(codes(403).contains("AGENCY_ACCESS_DENIED"))
            #expect(
                codes(403).contains("INSUFFICIENT_ROLE") == (roles.count < Role.allCases.count),
                "\(endpoint): INSUFFICIENT_ROLE exactly when some role is refused"
            )
            #expect(codes(403).contains("FEATURE_DISABLED") == (endpoint.feature != nil))
            #expect(codes(422).contains("VALIDATION_ERROR"), "\(endpoint): a malformed X-Agency-Id is a 422")
            #expect(codes(429) == ["RATE_LIMITED"])
            #expect(codes(503) == ["DATABASE_UNAVAILABLE"])
            #expect(codes(422).contains("IDEMPOTENCY_KEY_MISMATCH") == headerNames.contains("Idempotency-Key"))
            #expect(codes(409).contains("IDEMPOTENCY_REQUEST_IN_PROGRESS") == headerNames.contains("Idempotency-Key"))
        case .platformOperator:
            #expect(security == ["bearerAuth", "opsToken"])
            #expect(codes(401) == ["AUTH_REQUIRED", "INVALID_TOKEN"])
            #expect(codes(403) == ["INSUFFICIENT_ROLE"], "\(endpoint): a user who is not an operator is refused with 403")
            #expect(!headerNames.contains("X-Agency-Id"), "\(endpoint) acts outside any agency")
        }
        let takesBody = operation["requestBody"] != nil
        #expect(takesBody == (codes(415) == ["UNSUPPORTED_MEDIA_TYPE"]), "\(endpoint): 415 exactly when it takes a body")
        #expect(takesBody == (codes(413) == ["PAYLOAD_TOO_LARGE"]), "\(endpoint): 413 exactly when it takes a body")
        #expect(takesBody == codes(400).contains("MALFORMED_JSON"), "\(endpoint): MALFORMED_JSON exactly when it takes a body")
        if endpoint.path.contains("{") { #expect(codes(422).contains("VALIDATION_ERROR"), "\(endpoint): a malformed path id is a 422") }
    }

    /// Every response carries X-Request-Id; answers that say "retry later" carry Retry-After.
    @Test func responsesDocumentTheirHeaders() {
        for (key, operation) in Self.operations {
            guard case .object(let responses)? = operation["responses"] else { continue }
            for (status, value) in responses {
                let response = Self.resolve(value)
                #expect(response?["headers"]?["X-Request-Id"] != nil, "\(key) \(status) lacks X-Request-Id")
                if status == "429" || (status == "503" && key != "GET /ops/env-sanity") {
                    #expect(Self.resolve(response?["headers"]?["Retry-After"])?["required"] == .bool(true), "\(key) \(status) lacks Retry-After")
                }
            }
        }
    }

    /// Links (which the fuzzer follows to reach real resources) name operations that exist.
    @Test func linksNameOperations() {
        let ids = Set(Self.operations.values.compactMap { $0["operationId"]?.stringValue })
        #expect(ids.count == Self.operations.count, "every operation has a unique operationId")
        var links = 0
        for (key, operation) in Self.operations {
            guard case .object(let responses)? = operation["responses"] else { continue }
            for (status, response) in responses {
                guard case .object(let named)? = Self.resolve(response)?["links"] else { continue }
                for (name, link) in named {
                    links += 1
                    let target = link["operationId"]?.stringValue ?? ""
                    #expect(ids.contains(target), "\(key) \(status) link \(name) names no operation (\(target))")
                }
            }
        }
        #expect(links > 0)
    }

    @Test func everyReferenceResolves() {
        func walk(_ value: JSONValue, _ at: String) {
            switch value {
            case .object(let o):
                if let ref = o["$ref"]?.stringValue { #expect(Self.resolve(value) != nil, "\(at): \(ref) does not resolve") }
                for (k, v) in o { walk(v, at + "/" + k) }
            case .array(let a): for (i, v) in a.enumerated() { walk(v, at + "/\(i)") }
            default: break
            }
        }
        walk(Self.document, "#")
    }

    // MARK: serving it

    @Test func theServerServesTheDocument() async throws {
        try await withApp { api in
            let r = try await api.send(.get, "/openapi.yaml")
            #expect(r.status == .ok)
            #expect(r.headers[.contentType]?.hasPrefix("application/yaml") == true)
            #expect(r.raw == Self.text)
            #expect(r.headers[HTTPField.Name("X-Request-Id")!] != nil)
        }
    }

    @Test func theDocumentIsFoundLikeTheMigrations() throws {
        let path = OpenAPIDocument.defaultPath()
        #expect(FileManager.default.fileExists(atPath: path.path), "\(path.path)")
        #expect(try OpenAPIDocument.load(from: path) == Self.text)
    }

    // MARK: the YAML reader itself

    @Test func miniYAMLReadsTheSubsetTheDocumentUses() throws {
        let v = try MiniYAML.parse(
            """
            # comment
            a: 1
            b: 'it''s'  # trailing comment
            c:
              - x
              - { k: [1, two, 'three: 3'], n: null }
              - name: n
                in: query
            d: >-
              folded
              text
            '200': { $ref: '#/x' }
            """
        )
        #expect(v["a"] == .int(1))
        #expect(v["b"] == .string("it's"))
        #expect(v["c"]?.arrayValue?.count == 3)
        #expect(v["c"]?.arrayValue?[1]["k"] == .array([.int(1), .string("two"), .string("three: 3")]))
        #expect(v["c"]?.arrayValue?[1]["n"] == .null)
        #expect(v["c"]?.arrayValue?[2]["in"] == .string("query"))
        #expect(v["d"] == .string("folded text"))
        #expect(v["200"]?["$ref"] == .string("#/x"))
    }
}
