import HTTPTypes

/// Who may call an endpoint.
public enum Access: Sendable, Hashable {
    /// Anyone (health, signup, login).
    case anonymous
    /// A valid user token; no agency context (me, agency creation).
    case user
    /// A member of the request's agency holding one of these roles.
    case roles(Set<Role>)
    /// A platform operator (SPEC §14): the ops token, or a user granted with `innkeep operator grant`.
    /// Agency admins are customers, not operators.
    case platformOperator
}
