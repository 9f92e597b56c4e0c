import Foundation
import PostgresNIO

/// Reads and changes feature entitlements; all queries filter by the agency.
public enum FeatureRepository {
    /// Every registered feature with the agency's overrides applied.
    public static func effective(_ conn: PostgresConnection, agency: UUID) async throws -> [FeatureState] {
        var overrides: [String: (Bool, String)] = [:]
        let rows = try await conn.run(
            "SELECT feature_name, enabled, config::text FROM agency_features WHERE agency_id = \(agency)"
        )
        for try await (name, enabled, config) in rows.decode((String, Bool, String).self) {
            overrides[name] = (enabled, config)
        }
        return Feature.allCases.map { feature in
            if let (enabled, config) = overrides[feature.rawValue] {
                return FeatureState(feature: feature, enabled: enabled, config: JSONValue.parse(Array(config.utf8)) ?? [:])
            }
            return FeatureState(feature: feature, enabled: feature.enabledByDefault, config: [:])
        }
    }

    /// Throws 403 FEATURE_DISABLED unless the agency has the feature: the helper routes use.
    public static func require(_ feature: Feature, _ conn: PostgresConnection, agency: UUID) async throws {
        let rows = try await conn.run(
            "SELECT enabled FROM agency_features WHERE agency_id = \(agency) AND feature_name = \(feature.rawValue)"
        )
        var enabled = feature.enabledByDefault
        for try await value in rows.decode(Bool.self) { enabled = value }
        guard enabled else {
            throw APIError(
                .featureDisabled,
                "The \(feature.rawValue) feature is not enabled for this agency.",
                details: ["feature": .string(feature.rawValue)]
            )
        }
    }

    /// Sets the override and returns the old and new state.
    public static func set(_ conn: PostgresConnection, agency: UUID, feature: Feature, enabled: Bool, config: JSONValue) async throws {
        try await conn.run(
            """
            INSERT INTO agency_features (agency_id, feature_name, enabled, config)
            VALUES (\(agency), \(feature.rawValue), \(enabled), \(config.serialized)::jsonb)
            ON CONFLICT (agency_id, feature_name) DO UPDATE SET enabled = EXCLUDED.enabled, config = EXCLUDED.config, updated_at = now()
            """
        )
    }
}
