import Foundation
import HTTPTypes
import NIOCore
import PostgresNIO
import Testing

@testable import Innkeep

/// SPEC §7: feature entitlements per agency: the registry's defaults, changed only with the ops token, audited,
/// and gating the routes of a disabled feature.
@Suite struct FeatureFlagTests {
    static let defaults: JSONValue = [
        "data": [
            ["name": "channel_sync", "enabled": true, "config": [:]],
            ["name": "direct_booking", "enabled": true, "config": [:]],
            ["name": "owner_portal", "enabled": false, "config": [:]],
        ],
        "next_cursor": nil,
    ]

    @Test func everyRoleReadsTheRegistryDefaults() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            for role in Role.allCases {
                let r = try await api.send(.get, "/api/v1/features", token: agency.token(role))
                #expect(r.status == .ok, "\(role): \(r.raw)")
                #expect(r.json == Self.defaults, "\(role): \(r.raw)")
            }
            #expect(try await api.send(.get, "/api/v1/features").errorCode == "AUTH_REQUIRED")
            #expect(Feature.allCases.map(\.rawValue) == ["channel_sync", "direct_booking", "owner_portal"])
        }
    }

    @Test func disablingChannelSyncGatesChannelConnectionsAndIsAudited() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let other = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let existing = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "channel": "airbnb", "external_listing_id": "A-1",
                ]
            )
            let existingId = try #require(existing["id"]?.uuid)

            let off = try await api.setFeature(agency.id, "channel_sync", ["enabled": false])
            #expect(off.status == .ok, "\(off.raw)")
            #expect(off.json == ["name": "channel_sync", "enabled": false, "config": [:]])

            let list = try await api.send(.get, "/api/v1/channel-connections", token: agency.admin.token)
            #expect(list.status == .forbidden)
            #expect(list.errorCode == "FEATURE_DISABLED")
            #expect(list.json["error"]?["details"]?["feature"] == "channel_sync")
            let create = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "channel": "vrbo", "external_listing_id": "V-1",
                ],
                headers: Fixtures.key(Fixtures.freshKey())
            )
            #expect(create.errorCode == "FEATURE_DISABLED")
            #expect(
                try await api.send(.delete, "/api/v1/channel-connections/\(existingId)", token: agency.admin.token).errorCode == "FEATURE_DISABLED"
            )
            // Role checks still come first; other agencies are untouched.
            #expect(try await api.send(.get, "/api/v1/channel-connections", token: agency.token(.staff)).errorCode == "INSUFFICIENT_ROLE")
            #expect(try await api.send(.get, "/api/v1/channel-connections", token: other.admin.token).status == .ok)
            #expect(try await api.send(.get, "/api/v1/features", token: other.admin.token).json == Self.defaults)

            let features = try await api.send(.get, "/api/v1/features", token: agency.token(.owner))
            #expect(features.data.first { $0["name"] == "channel_sync" }?["enabled"] == false)
            #expect(features.data.first { $0["name"] == "direct_booking" }?["enabled"] == true)

            let changes = try await api.auditEntries(agency, "action=feature.change")
            #expect(changes.count == 1)
            let change = try #require(changes.first)
            #expect(change["resource_type"] == "feature")
            #expect(change["agency_id"]?.uuid == agency.id)
            #expect(change["user_id"] == .null)
            #expect(change["details"]?["name"] == "channel_sync")
            #expect(change["details"]?["old"] == ["name": "channel_sync", "enabled": true, "config": [:]])
            #expect(change["details"]?["new"] == ["name": "channel_sync", "enabled": false, "config": [:]])
            #expect(try await api.auditEntries(other, "action=feature.change").isEmpty)

            // Re-enable: everything works again, and the change is audited with old/new swapped.
            let on = try await api.setFeature(agency.id, "channel_sync", ["enabled": true, "config": ["interval_minutes": 15]])
            #expect(on.status == .ok)
            #expect(on.json == ["name": "channel_sync", "enabled": true, "config": ["interval_minutes": 15]])
            let listAgain = try await api.send(.get, "/api/v1/channel-connections", token: agency.admin.token)
            #expect(listAgain.status == .ok)
            #expect(listAgain.data.map { $0["id"]?.uuid } == [existingId])
            #expect(try await api.send(.delete, "/api/v1/channel-connections/\(existingId)", token: agency.admin.token).status == .noContent)
            let features2 = try await api.send(.get, "/api/v1/features", token: agency.admin.token)
            #expect(
                features2.data.first { $0["name"] == "channel_sync" } == [
                    "name": "channel_sync", "enabled": true, "config": ["interval_minutes": 15],
                ]
            )
            let changes2 = try await api.auditEntries(agency, "action=feature.change")
            #expect(changes2.count == 2)
            #expect(changes2.first?["details"]?["old"]?["enabled"] == false)
            #expect(changes2.first?["details"]?["new"]?["enabled"] == true)
        }
    }

    @Test func enablingAnOffByDefaultFeature() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let r = try await api.setFeature(agency.id, "owner_portal", ["enabled": true, "config": nil])
            #expect(r.status == .ok, "\(r.raw)")
            let features = try await api.send(.get, "/api/v1/features", token: agency.token(.accountant))
            #expect(features.data.map { $0["enabled"] } == [true, true, true])
            let change = try #require(try await api.auditEntries(agency, "action=feature.change").first)
            #expect(change["details"]?["old"]?["enabled"] == false)
            #expect(change["details"]?["new"]?["enabled"] == true)
        }
    }

    @Test func onlyTheOpsTokenChangesEntitlements() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let path = "/ops/agencies/\(agency.id.uuidString.lowercased())/features/channel_sync"
            let body: JSONValue = ["enabled": false]
            let admin = try await api.send(.put, path, token: agency.admin.token, json: body)
            // A real user without the right: 403, not 401.
            #expect(admin.status == .forbidden, "\(admin.raw)")
            #expect(admin.errorCode == "INSUFFICIENT_ROLE")
            let none = try await api.send(.put, path, json: body)
            #expect(none.status == .unauthorized)
            #expect(none.errorCode == "AUTH_REQUIRED")
            let wrong = try await api.send(.put, path, token: TestEnv.opsToken + "x", json: body)
            #expect(wrong.status == .unauthorized)
            #expect(wrong.errorCode == "INVALID_TOKEN")
            #expect(try await api.send(.get, "/api/v1/features", token: agency.admin.token).json == Self.defaults)
            #expect(try await api.auditEntries(agency, "action=feature.change").isEmpty)
        }
    }

    @Test func unknownFeatureUnknownAgencyAndBadBodies() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let unknownFeature = try await api.setFeature(agency.id, "teleportation", ["enabled": true])
            #expect(unknownFeature.status == .notFound)
            #expect(unknownFeature.errorCode == "FEATURE_NOT_FOUND")
            let unknownAgency = try await api.setFeature(UUID(), "channel_sync", ["enabled": true])
            #expect(unknownAgency.status == .notFound)
            #expect(unknownAgency.errorCode == "AGENCY_NOT_FOUND")
            let badAgency = try await api.send(.put, "/ops/agencies/not-a-uuid/features/channel_sync", json: ["enabled": true], headers: Fixtures.ops)
            #expect(badAgency.errorCode == "VALIDATION_ERROR")

            for bad: JSONValue in [["enabled": "yes"], [:], ["enabled": nil], ["enabled": true, "config": "x"], ["enabled": true, "config": [1]]] {
                let r = try await api.setFeature(agency.id, "channel_sync", bad)
                #expect(r.status == .unprocessableContent, "\(bad.serialized): \(r.raw)")
                #expect(r.errorCode == "VALIDATION_ERROR")
            }
            let notJSON = try await api.send(
                .put,
                "/ops/agencies/\(agency.id.uuidString.lowercased())/features/channel_sync",
                rawBody: "{",
                headers: Fixtures.ops
            )
            #expect(notJSON.errorCode == "MALFORMED_JSON")
            #expect(try await api.send(.get, "/api/v1/features", token: agency.admin.token).json == Self.defaults)
            #expect(try await api.auditEntries(agency, "action=feature.change").isEmpty)
        }
    }
}
