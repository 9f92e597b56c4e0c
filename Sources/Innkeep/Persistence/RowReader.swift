import PostgresNIO

/// Reads a row's cells in column order, each as the concrete type asked for. Cheaper than PostgresNIO's
/// tuple `decode` (a parameter pack, not specialized here) and than `makeRandomAccess` (an array of
/// cells per row) on the pages of a list (docs/benchmarks.md, issue 17).
struct RowReader {
    private var cells: PostgresRow.Iterator

    init(_ row: PostgresRow) { cells = row.makeIterator() }

    mutating func next<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        guard let cell = cells.next() else { throw UnknownValue(column: "(row)", value: "fewer columns than read") }
        return try cell.decode(T.self)
    }
}
