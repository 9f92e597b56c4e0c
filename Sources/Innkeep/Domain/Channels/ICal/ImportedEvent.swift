import Foundation

/// One event of an imported feed: the nights it holds in the property's time zone.
public struct ImportedEvent: Sendable, Equatable {
    public let uid: String
    public let nights: Nights
}
