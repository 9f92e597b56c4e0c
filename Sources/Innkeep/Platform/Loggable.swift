import PostgresNIO

/// An error as it may appear in logs: never a query's bind values (which can hold password
/// hashes or personal data), only what identifies the failure.
public func loggable(_ error: any Error) -> String {
    switch error {
    case let e as PSQLError:
        let state = e.serverInfo?[.sqlState].map { " sqlstate=\($0)" } ?? ""
        let message = e.serverInfo?[.message].map { " message=\($0)" } ?? ""
        return "PSQLError(\(e.code)\(state)\(message))"
    case let e as DatabaseConnectError:
        return e.description
    case let e as DatabaseUnavailable:
        return "DatabaseUnavailable(\(loggable(e.underlying)))"
    case let e as PostgresTransactionError:
        let parts = [e.beginError, e.closureError, e.commitError, e.rollbackError].compactMap { $0.map(loggable) }
        return "PostgresTransactionError(\(parts.joined(separator: ", ")))"
    default:
        return String(reflecting: error)
    }
}
