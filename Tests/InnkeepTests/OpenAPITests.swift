import Foundation
import HTTPTypes
@testable import Innkeep
import Testing

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
              let codes = response["x-error-codes"]?.arrayValue else { return nil }
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
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?
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
                #expect(r.errorCode != ErrorCode.routeNotFound.rawValue && r.errorCode != ErrorCode.methodNotAllowed.rawValue,
                        "\(endpoint) is in API.all but not served: \(r.status) \(r.raw.prefix(200))")
            }
        }
    }

    @Test func pathParametersAreDeclared() {
        for (key, operation) in Self.operations {
            let path = String(key.split(separator: " ")[1])
            // A segment may carry a suffix after its parameter: `/ical/{token}.ics`.
            let templated = Set(path.split(separator: "/").filter { $0.hasPrefix("{") }.compactMap { $0.dropFirst().split(separator: "}").first.map(String.init) })
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
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" && $0.lastPathComponent != "ErrorCode.swift" } ?? []
        let use = try Regex(#"(?:APIError\(|retryLater\(|code: |apiError\.code == |\.code == )\.([a-zA-Z]+)"#)
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
        #expect(headerNames.contains("Idempotency-Key") == (endpoint.idempotent && endpoint.allowedRoles.count > 0),
                "\(endpoint): Idempotency-Key is documented exactly on the idempotent tenant POSTs")
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
            #expect(codes(403).contains("INSUFFICIENT_ROLE") == (roles.count < Role.allCases.count),
                    "\(endpoint): INSUFFICIENT_ROLE exactly when some role is refused")
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
        let v = try MiniYAML.parse("""
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
            """)
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

/// A reader for the block-style YAML subset openapi.yaml is written in (two-space indentation, `- ` lists,
/// one-line flow collections, quoted and plain scalars, `>`/`|` block scalars, comments). No YAML package is
/// in the dependency set; openapi-spec-validator checks the document as real YAML in scripts/fuzz.
enum MiniYAML {
    struct ParseError: Error, CustomStringConvertible {
        let description: String
    }

    private struct Line {
        var indent: Int
        var text: String
        let number: Int
    }

    static func parse(_ text: String) throws -> JSONValue {
        var lines: [Line] = []
        var raw = text.components(separatedBy: "\n")
        var i = 0
        while i < raw.count {
            let line = raw[i]
            let content = stripComment(line)
            let trimmed = content.trimmingCharacters(in: .whitespaces)
            defer { i += 1 }
            if trimmed.isEmpty { continue }
            let indent = content.prefix { $0 == " " }.count
            // A block scalar: gather the more-indented lines that follow, blank ones included.
            if let marker = blockScalarMarker(trimmed) {
                var body: [String] = []
                var j = i + 1
                while j < raw.count, raw[j].trimmingCharacters(in: .whitespaces).isEmpty || raw[j].prefix(while: { $0 == " " }).count > indent {
                    body.append(raw[j])
                    j += 1
                }
                while body.last?.trimmingCharacters(in: .whitespaces).isEmpty == true { body.removeLast() }
                let bodyIndent = body.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
                let stripped = body.map { $0.count >= bodyIndent ? String($0.dropFirst(bodyIndent)) : "" }
                let value: String
                if marker.folded {
                    var paragraphs: [String] = [], current: [String] = []
                    for l in stripped {
                        if l.isEmpty { paragraphs.append(current.joined(separator: " ")); current = [] } else { current.append(l) }
                    }
                    paragraphs.append(current.joined(separator: " "))
                    value = paragraphs.joined(separator: "\n")
                } else {
                    value = stripped.joined(separator: "\n")
                }
                let quoted = "'" + value.replacingOccurrences(of: "'", with: "''") + "'"
                lines.append(Line(indent: indent, text: String(trimmed.dropLast(marker.length)) + quoted, number: i + 1))
                raw.replaceSubrange((i + 1)..<j, with: Array(repeating: "", count: j - i - 1))
                continue
            }
            lines.append(Line(indent: indent, text: trimmed, number: i + 1))
        }
        var index = 0
        let value = try node(&lines, &index, indent: lines.first?.indent ?? 0)
        guard index == lines.count else { throw ParseError(description: "line \(lines[index].number): unexpected indentation") }
        return value
    }

    private static func blockScalarMarker(_ line: String) -> (folded: Bool, length: Int)? {
        for marker in [">-", "|-", ">", "|"] where line.hasSuffix(": " + marker) || line == "- " + marker {
            return (marker.hasPrefix(">"), marker.count)
        }
        return nil
    }

    /// Removes a `#` comment that is not inside quotes.
    private static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, c) in line.enumerated() {
            if let q = quote {
                if c == q { quote = nil }
            } else if c == "'" || c == "\"" {
                quote = c
            } else if c == "#", previous == " " {
                return String(line.prefix(offset))
            }
            previous = c
        }
        return line
    }

    private static func node(_ lines: inout [Line], _ index: inout Int, indent: Int) throws -> JSONValue {
        guard index < lines.count else { return .null }
        return lines[index].text.hasPrefix("- ") || lines[index].text == "-"
            ? try sequence(&lines, &index, indent: indent) : try mapping(&lines, &index, indent: indent)
    }

    private static func sequence(_ lines: inout [Line], _ index: inout Int, indent: Int) throws -> JSONValue {
        var items: [JSONValue] = []
        while index < lines.count, lines[index].indent == indent, lines[index].text.hasPrefix("- ") || lines[index].text == "-" {
            let rest = String(lines[index].text.dropFirst(2))
            if rest.isEmpty {
                index += 1
                items.append(index < lines.count && lines[index].indent > indent ? try node(&lines, &index, indent: lines[index].indent) : .null)
            } else if splitKey(rest) != nil, !rest.hasPrefix("{"), !rest.hasPrefix("[") {
                // `- key: value` starts a mapping whose keys sit two columns in.
                lines[index] = Line(indent: indent + 2, text: rest, number: lines[index].number)
                items.append(try mapping(&lines, &index, indent: indent + 2))
            } else {
                items.append(try inline(rest, line: lines[index].number))
                index += 1
            }
        }
        return .array(items)
    }

    private static func mapping(_ lines: inout [Line], _ index: inout Int, indent: Int) throws -> JSONValue {
        var object: [String: JSONValue] = [:]
        while index < lines.count, lines[index].indent == indent {
            let line = lines[index]
            guard let (key, rest) = splitKey(line.text) else { throw ParseError(description: "line \(line.number): expected `key: value`") }
            guard object[key] == nil else { throw ParseError(description: "line \(line.number): duplicate key \(key)") }
            index += 1
            if rest.isEmpty {
                if index < lines.count, lines[index].indent > indent {
                    object[key] = try node(&lines, &index, indent: lines[index].indent)
                } else if index < lines.count, lines[index].indent == indent, lines[index].text.hasPrefix("- ") {
                    object[key] = try sequence(&lines, &index, indent: indent)
                } else {
                    object[key] = .null
                }
            } else {
                object[key] = try inline(rest, line: line.number)
            }
        }
        if index < lines.count, lines[index].indent > indent {
            throw ParseError(description: "line \(lines[index].number): unexpected indentation")
        }
        return .object(object)
    }

    /// `key: rest` or `key:`, with a plain or quoted key; nil when the line is not a mapping entry.
    private static func splitKey(_ text: String) -> (String, String)? {
        var scanner = Scanner(Array(text))
        let key: String
        if let q = scanner.peek, q == "'" || q == "\"" {
            guard let quoted = try? scanner.quoted() else { return nil }
            key = quoted
            guard scanner.peek == ":" else { return nil }
        } else {
            var chars: [Character] = []
            while let c = scanner.peek, !(c == ":" && (scanner.peek(1) == nil || scanner.peek(1) == " ")) {
                chars.append(c)
                scanner.advance()
            }
            guard scanner.peek == ":" else { return nil }
            key = String(chars).trimmingCharacters(in: .whitespaces)
        }
        scanner.advance()
        return (key, String(scanner.rest).trimmingCharacters(in: .whitespaces))
    }

    private static func inline(_ text: String, line: Int) throws -> JSONValue {
        var scanner = Scanner(Array(text))
        do {
            let value = try scanner.value(flow: false)
            scanner.skipSpaces()
            guard scanner.atEnd else { throw ParseError(description: "trailing characters") }
            return value
        } catch let error as ParseError {
            throw ParseError(description: "line \(line): \(error.description) in `\(text)`")
        }
    }

    private struct Scanner {
        let chars: [Character]
        var position = 0
        init(_ chars: [Character]) { self.chars = chars }

        var atEnd: Bool { position >= chars.count }
        var peek: Character? { peek(0) }
        func peek(_ offset: Int) -> Character? { position + offset < chars.count ? chars[position + offset] : nil }
        var rest: ArraySlice<Character> { chars[min(position, chars.count)...] }
        mutating func advance() { position += 1 }
        mutating func skipSpaces() { while peek == " " { advance() } }

        mutating func expect(_ c: Character) throws {
            skipSpaces()
            guard peek == c else { throw ParseError(description: "expected \(c)") }
            advance()
        }

        mutating func value(flow: Bool) throws -> JSONValue {
            skipSpaces()
            switch peek {
            case "{"?:
                advance()
                var object: [String: JSONValue] = [:]
                skipSpaces()
                if peek == "}" { advance(); return .object(object) }
                while true {
                    skipSpaces()
                    let key: String
                    if peek == "'" || peek == "\"" { key = try quoted() } else {
                        var k: [Character] = []
                        while let c = peek, c != ":" { k.append(c); advance() }
                        key = String(k).trimmingCharacters(in: .whitespaces)
                    }
                    try expect(":")
                    object[key] = try value(flow: true)
                    skipSpaces()
                    if peek == "," { advance(); continue }
                    try expect("}")
                    return .object(object)
                }
            case "["?:
                advance()
                var items: [JSONValue] = []
                skipSpaces()
                if peek == "]" { advance(); return .array(items) }
                while true {
                    items.append(try value(flow: true))
                    skipSpaces()
                    if peek == "," { advance(); continue }
                    try expect("]")
                    return .array(items)
                }
            case "'"?, "\""?:
                return .string(try quoted())
            default:
                var text: [Character] = []
                while let c = peek, !(flow && (c == "," || c == "]" || c == "}")) { text.append(c); advance() }
                return Self.scalar(String(text).trimmingCharacters(in: .whitespaces))
            }
        }

        mutating func quoted() throws -> String {
            let q = peek!
            advance()
            var out = ""
            while let c = peek {
                advance()
                if c == q {
                    if q == "'", peek == "'" { out.append("'"); advance(); continue }
                    return out
                }
                if q == "\"", c == "\\", let e = peek {
                    advance()
                    switch e {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    default: out.append(e)
                    }
                    continue
                }
                out.append(c)
            }
            throw ParseError(description: "unterminated string")
        }

        static func scalar(_ s: String) -> JSONValue {
            switch s {
            case "null", "~", "": return .null
            case "true": return .bool(true)
            case "false": return .bool(false)
            default: return Int64(s).map(JSONValue.int) ?? .string(s)
            }
        }
    }
}

/// Answers the document promises that the server once broke (found while writing openapi.yaml and fuzzing
/// it); each was a 500 or an input the document says is rejected.
@Suite struct ContractRegressionTests {
    /// Lengths count Unicode code points, as JSON Schema's maxLength and Postgres' length() do. Counting
    /// grapheme clusters let "e" + 200 combining accents (201 code points, 1 character) past the 200 limit
    /// and into the CHECK constraint: a 500.
    @Test func lengthsCountCodePointsNotCharacters() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let long = "e" + String(repeating: "\u{301}", count: 200)
            #expect(long.count == 1 && long.unicodeScalars.count == 201)
            let p = try await api.send(.post, "/api/v1/properties", token: agency.admin.token,
                                       json: ["name": .string(long), "max_guests": 2])
            #expect(p.status == .unprocessableContent, "\(p.raw)")
            #expect(p["error"]?["details"]?["fields"]?.arrayValue?.first?["field"] == "name")
            let s = try await api.send(.post, "/api/v1/auth/signup", json: [
                "email": .string(uniqueEmail()), "password": "correct horse battery", "full_name": .string(long),
            ])
            #expect(s.status == .unprocessableContent, "\(s.raw)")
            let exact = "e" + String(repeating: "\u{301}", count: 199)
            let ok = try await api.send(.post, "/api/v1/properties", token: agency.admin.token,
                                        json: ["name": .string(exact), "max_guests": 2])
            #expect(ok.status == .created, "\(ok.raw)")
            #expect(ok["name"]?.stringValue == exact)
        }
    }

    /// A cursor is opaque, but a forged one that decodes to an absurd time answered 500 (timestamp out of
    /// range in Postgres); it is a 422 naming `cursor`, like any other cursor this API did not issue.
    @Test func forgedCursorOutOfRangeIs422() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            for micros in ["-9223372036854775807", "9223372036854775807", "-999999999999999999"] {
                let cursor = Base64URL.encode(Array("\(micros):\(UUID().uuidString.lowercased())".utf8))
                for path in ["/api/v1/properties", "/api/v1/bookings", "/api/v1/team-members", "/api/v1/audit-log", "/api/v1/channel-connections"] {
                    let r = try await api.send(.get, "\(path)?cursor=\(cursor)", token: agency.admin.token)
                    #expect(r.status == .unprocessableContent, "\(path) \(micros): \(r.status) \(r.raw)")
                }
            }
        }
    }

    /// `format: date` is YYYY-MM-DD in ASCII digits; signs slipped through Int parsing ("+999-01-01").
    @Test func datesAreDigitsOnly() {
        #expect(CalendarDate("2031-01-02") != nil)
        for bad in ["+999-01-01", "2031-+1-01", "2031-01-+1", "-001-01-01", "2031-1-001", "２０３１-01-01"] {
            #expect(CalendarDate(bad) == nil, "\(bad)")
        }
    }
}
