/// The SQLSTATEs the API turns into answers (PostgreSQL, Appendix A), by name.
enum SQLState {
    /// An exclusion constraint held: two stays or blocks would share a night.
    static let exclusionViolation = "23P01"
    /// A row points at a parent that is gone (deleted meanwhile).
    static let foreignKeyViolation = "23503"
    /// A unique constraint held (an email, a connected listing).
    static let uniqueViolation = "23505"
    /// Of a prepared statement: "cached plan must not change result type".
    static let featureNotSupported = "0A000"
    /// Of a prepared statement: it does not exist (on this server connection).
    static let invalidStatementName = "26000"
}
