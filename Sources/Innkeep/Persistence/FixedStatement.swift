import PostgresNIO

/// A statement whose SQL text never changes, only its values: the one statement of a hot path (`TenantEntry`, the
/// iCal export), sent by `Database.send`. With `DATABASE_PREPARED_STATEMENTS` on (the default) it is a named prepared statement:
/// Postgres parses it once per connection, and every later call sends Bind and Execute only (no Parse, no
/// Describe, no RowDescription to decode; docs/benchmarks.md, issue 17's eleventh pass).
///
/// `bindingDataTypes` are the types of the values `makeBindings` appends, as an unnamed statement declares them;
/// the SQL casts a value where its function wants another type. The SQL names the columns it reads, so a function
/// that gains a column does not change a prepared statement's result type.
///
/// Each one names itself (`static let name`), unique among them (`PreparedStatementTests`): PostgresNIO's default name,
/// `String(reflecting:)` of the type, demangles the type's name on every call (about 1 % of a booking create's CPU).
protocol FixedStatement: PostgresPreparedStatement where Row == PostgresRow {}

extension FixedStatement {
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }

    /// Takes PostgresNIO's default away: a statement without a name of its own does not compile.
    @available(*, unavailable, message: "a FixedStatement names itself: static let name = \"...\"")
    static var name: String { fatalError("unreachable") }
}
