/// The SQLSTATEs the API turns into answers (PostgreSQL, Appendix A), by name.
enum SQLState {
    /// An exclusion constraint held: two stays or blocks would share a night.
    static let exclusionViolation = "23P01"
    /// A row points at a parent that is gone (deleted meanwhile).
    static let foreignKeyViolation = "23503"
    /// A unique constraint held (an email, a connected listing).
    static let uniqueViolation = "23505"
}
