/// A row held a value that the code's enum does not know: the schema and the code disagree. Never
/// guessed into a known case; it surfaces as an opaque 500 and is logged.
struct UnknownValue: Error, CustomStringConvertible {
    let column: String
    let value: String

    var description: String { "unknown value '\(value)' in \(column)" }
}
