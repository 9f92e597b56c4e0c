/// Documents rendered from the code, so they cannot drift: `innkeep docs` writes them and a test
/// fails when the committed copies differ.
public enum GeneratedDocs {
    public static var all: [(path: String, text: String)] { [("docs/rbac.md", rbac), ("docs/errors.md", errors)] }

    /// docs/rbac.md from the endpoint table.
    public static var rbac: String {
        var out = """
            # Roles and permissions

            Generated from `API.all` in `Sources/Innkeep/HTTP/Endpoint.swift` by `innkeep docs`; do not edit by hand.
            A role without a mark gets 403 `INSUFFICIENT_ROLE` (unless `ENFORCE_RBAC=false`, which logs and counts instead).
            "own" means an owner sees only properties whose `owner_id` is theirs, and those properties' bookings; anything
            else answers 404 as if it did not exist. "platform operator" is a user granted with `innkeep operator grant EMAIL`
            (agency admins are not operators); "any user" needs a valid token but no agency context.

            | endpoint | \(Role.allCases.map(\.rawValue).joined(separator: " | ")) |
            |---|\(Role.allCases.map { _ in "---|" }.joined())

            """
        for e in API.all {
            let cells: [String]
            switch e.access {
            case .anonymous: cells = Role.allCases.map { _ in "anyone" }
            case .user: cells = Role.allCases.map { _ in "any user" }
            case .platformOperator: cells = Role.allCases.map { _ in "platform operator or ops token" }
            case .roles:
                cells = Role.allCases.map { role in
                    guard e.allowedRoles.contains(role) else { return "" }
                    return role == .owner && e.ownerScoped ? e.ownerNote ?? "own only" : "✓"
                }
            }
            var notes: [String] = []
            if e.idempotent { notes.append("Idempotency-Key") }
            if let f = e.feature { notes.append("feature `\(f.rawValue)`") }
            let name = "`\(e.method.rawValue) \(e.path)`" + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))")
            out += "| \(name) | \(cells.joined(separator: " | ")) |\n"
        }
        return out
    }

    /// docs/errors.md from the closed error catalogue.
    public static var errors: String {
        var out = """
            # Error codes

            Generated from `ErrorCode` in `Sources/Innkeep/HTTP/ErrorCode.swift` by `innkeep docs`; do not edit by hand.
            Every error, on every endpoint, has this shape (SPEC §5); `details` is optional:

            ```json
            {"error": {"code": "BOOKING_CONFLICT", "message": "…", "request_id": "…", "details": {}}}
            ```

            | status | code | meaning |
            |---|---|---|

            """
        for code in ErrorCode.allCases.sorted(by: { ($0.status.code, $0.rawValue) < ($1.status.code, $1.rawValue) }) {
            out += "| \(code.status.code) | `\(code.rawValue)` | \(code.meaning) |\n"
        }
        return out
    }
}
