import Foundation
import PostgresNIO

/// The feature registry (SPEC §7): every entitlement with its default. `agency_features` overrides it.
public enum Feature: String, CaseIterable, Sendable {
    case channelSync = "channel_sync"
    case directBooking = "direct_booking"
    case ownerPortal = "owner_portal"

    public var enabledByDefault: Bool {
        switch self {
        case .channelSync, .directBooking: true
        case .ownerPortal: false
        }
    }
}

/// An agency's effective setting for one feature.
public struct FeatureState: Sendable {
    public var feature: Feature
    public var enabled: Bool
    public var config: JSONValue

    public var json: JSONValue { ["name": .string(feature.rawValue), "enabled": .bool(enabled), "config": config] }
}
