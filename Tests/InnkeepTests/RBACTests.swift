import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// Every route × every role, generated from the one permission table (`API.all`).
@Suite struct RBACMatrixTests {
    static let tenantEndpoints = API.all.filter { if case .roles = $0.access { true } else { false } }

    /// A request that succeeds for an allowed role: fresh resources are made by the admin first.
    struct Sample {
        var method: HTTPRequest.Method
        var path: String
        var body: JSONValue?
        var success: HTTPResponse.Status
    }

    static func sample(_ e: Endpoint, _ api: APIClient, _ agency: TestAgency, for role: Role, ownedProperty: UUID) async throws -> Sample {
        let path = e.path
        func id(_ value: UUID) -> String { path.replacingOccurrences(of: "{id}", with: value.uuidString.lowercased()) }
        // Owner-scoped reads use the owner's own property so "own only" answers success.
        let property = ownedProperty
        switch e {
        case API.listProperties, API.listBookings, API.listChannelConnections, API.listTeamMembers, API.auditLog, API.features,
            API.listInvitations:
            return Sample(method: e.method, path: path, success: .ok)
        case API.getProperty:
            return Sample(method: .get, path: id(property), success: .ok)
        case API.createProperty:
            return Sample(method: .post, path: path, body: ["name": "New", "max_guests": 2], success: .created)
        case API.updateProperty:
            return Sample(method: .patch, path: id(property), body: ["name": "Renamed"], success: .ok)
        case API.deleteProperty:
            return Sample(method: .delete, path: id(try await api.createProperty(agency)), success: .noContent)
        case API.getBooking, API.cancelBooking:
            let start = Int.random(in: 0..<100_000)
            let b = try await api.createBooking(agency, property: property, checkIn: day(start), checkOut: day(start + 1))
            guard let bid = b["id"]?.uuid else { throw TestFailure("booking: \(b.raw)") }
            return Sample(method: e.method, path: id(bid), success: .ok)
        case API.createBooking:
            let start = Int.random(in: 100_000..<200_000)
            return Sample(
                method: .post,
                path: path,
                body: [
                    "property_id": JSONValue(property), "guest_name": "G", "check_in": .string(day(start)), "check_out": .string(day(start + 1)),
                    "guests": 1,
                ],
                success: .created
            )
        case API.listBlocks, API.availability:
            let query = e == API.availability ? "?check_in=2031-01-01&check_out=2031-01-03" : ""
            return Sample(method: .get, path: path + query, success: .ok)
        case API.getBlock:
            let start = Int.random(in: 200_000..<300_000)
            let b = try await api.createBlock(agency, property: property, start: day(start), end: day(start + 1))
            return Sample(method: .get, path: id(try #require(b["id"]?.uuid)), success: .ok)
        case API.createBlock:
            // Owners may create owner_stay blocks on their own property; that is what every role tries.
            let start = Int.random(in: 300_000..<400_000)
            return Sample(
                method: .post,
                path: path,
                body: [
                    "property_id": JSONValue(property), "start_date": .string(day(start)), "end_date": .string(day(start + 2)), "kind": "owner_stay",
                ],
                success: .created
            )
        case API.deleteBlock:
            let start = Int.random(in: 400_000..<500_000)
            let b = try await api.createBlock(agency, property: property, start: day(start), end: day(start + 1), kind: "owner_stay")
            return Sample(method: .delete, path: id(try #require(b["id"]?.uuid)), success: .noContent)
        case API.propertyCalendar:
            return Sample(method: .get, path: id(property), success: .ok)
        case API.createChannelConnection:
            return Sample(
                method: .post,
                path: path,
                body: [
                    "property_id": JSONValue(property), "channel": "airbnb", "external_listing_id": .string(UUID().uuidString),
                ],
                success: .created
            )
        case API.getChannelConnection, API.updateChannelConnection, API.syncChannelConnection, API.rotateExportToken:
            let c = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "channel": "ical", "external_listing_id": .string(UUID().uuidString),
                    "ical_url": "https://calendar.example.com/feed.ics",
                ]
            )
            let connection = id(try #require(c["id"]?.uuid))
            switch e {
            case API.getChannelConnection: return Sample(method: .get, path: connection, success: .ok)
            case API.updateChannelConnection: return Sample(method: .patch, path: connection, body: ["sync_interval_minutes": 60], success: .ok)
            case API.syncChannelConnection: return Sample(method: .post, path: connection, success: .accepted)
            default: return Sample(method: .post, path: connection, success: .ok)
            }
        case API.listChannelConflicts:
            return Sample(method: .get, path: path, success: .ok)
        case API.deleteChannelConnection:
            let c = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "channel": "vrbo", "external_listing_id": .string(UUID().uuidString),
                ]
            )
            return Sample(method: .delete, path: id(try #require(c["id"]?.uuid)), success: .noContent)
        case API.addTeamMember:
            let user = try await api.signup()
            return Sample(method: .post, path: path, body: ["email": .string(user.email), "role": "staff"], success: .created)
        case API.revokeInvitation:
            let invited = try await api.send(
                .post,
                "/api/v1/team-members",
                token: agency.admin.token,
                json: ["email": .string(uniqueEmail()), "role": "staff"]
            )
            return Sample(method: .delete, path: id(try #require(invited["id"]?.uuid)), success: .noContent)
        case API.updateTeamMember, API.removeTeamMember:
            let user = try await api.signup()
            let m = try await api.addMember(user, role: .staff, agency: agency.id, adminToken: agency.admin.token)
            let member = try #require(m["id"]?.uuid)
            return Sample(
                method: e.method,
                path: id(member),
                body: e.method == .patch ? ["role": "accountant"] : nil,
                success: e.method == .patch ? .ok : .noContent
            )
        case API.listWebhookEndpoints:
            return Sample(method: e.method, path: path, success: .ok)
        case API.createWebhookEndpoint:
            return Sample(method: .post, path: path, body: ["url": "https://93.184.216.34/hook", "events": ["booking.created"]], success: .created)
        case API.getWebhookEndpoint, API.updateWebhookEndpoint, API.deleteWebhookEndpoint, API.rotateWebhookSecret, API.testWebhookEndpoint,
            API.listWebhookDeliveries:
            let w = try await api.send(
                .post,
                "/api/v1/webhook-endpoints",
                token: agency.admin.token,
                json: ["url": "https://93.184.216.34/hook", "events": ["booking.created"]]
            )
            let success: HTTPResponse.Status =
                switch e {
                case API.deleteWebhookEndpoint: .noContent
                case API.testWebhookEndpoint: .accepted
                default: .ok
                }
            return Sample(
                method: e.method,
                path: id(try #require(w["id"]?.uuid)),
                body: e.method == .patch ? ["description": "x"] : nil,
                success: success
            )
        default:
            throw TestFailure("no sample for \(e); add one when adding an endpoint")
        }
    }

    /// 2030-01-01 plus n days.
    static func day(_ n: Int) -> String { futureDay(n, year: 2030) }

    @Test(arguments: tenantEndpoints)
    func everyRoleGetsExactlyWhatTheTableSays(_ endpoint: Endpoint) async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let owned = try await api.createProperty(agency, name: "Owned", owner: agency.members[.owner]!.id)
            for role in Role.allCases {
                let s = try await Self.sample(endpoint, api, agency, for: role, ownedProperty: owned)
                let r = try await api.send(s.method, s.path, token: agency.token(role), json: s.body)
                if endpoint.allowedRoles.contains(role) {
                    #expect(r.status == s.success, "\(role) on \(endpoint): \(r.raw)")
                } else {
                    #expect(r.status == .forbidden, "\(role) on \(endpoint): \(r.raw)")
                    #expect(r.errorCode == "INSUFFICIENT_ROLE")
                    #expect(r.json["error"]?["details"]?["allowed_roles"] == .array(endpoint.allowedRoles.map { .string($0.rawValue) }))
                }
            }
        }
    }

    @Test func tableMatchesTheSpecForEveryRole() {
        let all = Set(Role.allCases)
        let expected: [Endpoint: Set<Role>] = [
            API.listProperties: all, API.getProperty: all, API.createProperty: [.admin, .manager], API.updateProperty: [.admin, .manager],
            API.deleteProperty: [.admin], API.listBookings: all, API.getBooking: all, API.createBooking: [.admin, .manager],
            API.cancelBooking: [.admin, .manager], API.listChannelConnections: [.admin], API.createChannelConnection: [.admin],
            API.deleteChannelConnection: [.admin], API.listTeamMembers: [.admin, .manager], API.addTeamMember: [.admin],
            API.updateTeamMember: [.admin], API.removeTeamMember: [.admin], API.auditLog: [.admin, .accountant], API.features: all,
            API.listBlocks: all, API.getBlock: all, API.createBlock: [.admin, .manager, .owner], API.deleteBlock: [.admin, .manager, .owner],
            API.propertyCalendar: all, API.availability: [.admin, .manager, .staff],
            API.getChannelConnection: [.admin], API.updateChannelConnection: [.admin], API.syncChannelConnection: [.admin],
            API.rotateExportToken: [.admin], API.listChannelConflicts: [.admin, .manager],
            API.listWebhookEndpoints: [.admin], API.createWebhookEndpoint: [.admin], API.getWebhookEndpoint: [.admin],
            API.updateWebhookEndpoint: [.admin], API.deleteWebhookEndpoint: [.admin], API.rotateWebhookSecret: [.admin],
            API.testWebhookEndpoint: [.admin], API.listWebhookDeliveries: [.admin],
            API.listInvitations: [.admin], API.revokeInvitation: [.admin],
        ]
        #expect(Set(Self.tenantEndpoints) == Set(expected.keys))
        for (e, roles) in expected { #expect(Set(e.allowedRoles) == roles, "\(e)") }
        #expect(API.listProperties.ownerScoped && API.getProperty.ownerScoped && API.listBookings.ownerScoped && API.getBooking.ownerScoped)
        #expect([API.listBlocks, API.getBlock, API.createBlock, API.deleteBlock, API.propertyCalendar].allSatisfy { $0.ownerScoped })
    }

    @Test func generatedDocsAreCommittedUpToDate() throws {
        for (path, text) in GeneratedDocs.all {
            let committed = try String(contentsOf: TestEnv.repo.appendingPathComponent(path), encoding: .utf8)
            #expect(committed == text, "\(path) is stale: run `innkeep docs`")
        }
    }
}

/// Owners see only their own properties and those properties' bookings; the rest is 404.
@Suite struct OwnerScopeTests {
    @Test func ownerSeesOnlyOwnPropertiesAndBookings() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let owner = agency.members[.owner]!
            let mine = try await api.createProperty(agency, name: "Mine", owner: owner.id)
            let other = try await api.createProperty(agency, name: "Other")
            let myBooking = try await api.createBooking(agency, property: mine, checkIn: "2031-01-01", checkOut: "2031-01-03")["id"]!.uuid!
            let otherBooking = try await api.createBooking(agency, property: other, checkIn: "2031-01-01", checkOut: "2031-01-03")["id"]!.uuid!

            let props = try await api.send(.get, "/api/v1/properties", token: owner.token)
            #expect(props.data.map { $0["id"]?.uuid } == [mine])
            #expect(try await api.send(.get, "/api/v1/properties/\(mine)", token: owner.token).status == .ok)
            let hidden = try await api.send(.get, "/api/v1/properties/\(other)", token: owner.token)
            #expect(hidden.status == .notFound)
            #expect(hidden.errorCode == "PROPERTY_NOT_FOUND")

            let bookings = try await api.send(.get, "/api/v1/bookings", token: owner.token)
            #expect(bookings.data.map { $0["id"]?.uuid } == [myBooking])
            #expect(try await api.send(.get, "/api/v1/bookings/\(myBooking)", token: owner.token).status == .ok)
            let hiddenBooking = try await api.send(.get, "/api/v1/bookings/\(otherBooking)", token: owner.token)
            #expect(hiddenBooking.status == .notFound)
            #expect(hiddenBooking.errorCode == "BOOKING_NOT_FOUND")
            let filtered = try await api.send(.get, "/api/v1/bookings?property_id=\(other)", token: owner.token)
            #expect(filtered.data.isEmpty)

            // Everyone else sees both.
            for role in [Role.admin, .manager, .staff, .accountant] {
                #expect(try await api.send(.get, "/api/v1/properties", token: agency.token(role)).data.count == 2)
            }
        }
    }
}

/// Team management (SPEC §3): changes take effect on the very next request.
@Suite struct TeamTests {
    func memberId(_ api: APIClient, _ agency: TestAgency, _ user: TestUser) async throws -> UUID {
        let list = try await api.send(.get, "/api/v1/team-members?limit=200", token: agency.admin.token)
        return try #require(list.data.first { $0["user_id"]?.uuid == user.id }?["id"]?.uuid)
    }

    @Test func lastAdminCannotBeDemotedOrRemoved() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let adminMember = try await memberId(api, agency, agency.admin)
            let demote = try await api.send(.patch, "/api/v1/team-members/\(adminMember)", token: agency.admin.token, json: ["role": "manager"])
            #expect(demote.status == .conflict)
            #expect(demote.errorCode == "LAST_ADMIN")
            let remove = try await api.send(.delete, "/api/v1/team-members/\(adminMember)", token: agency.admin.token)
            #expect(remove.errorCode == "LAST_ADMIN")
            // With a second admin, the first may step down.
            let managerMember = try await memberId(api, agency, agency.members[.manager]!)
            #expect(
                try await api.send(.patch, "/api/v1/team-members/\(managerMember)", token: agency.admin.token, json: ["role": "admin"]).status == .ok
            )
            #expect(
                try await api.send(.patch, "/api/v1/team-members/\(adminMember)", token: agency.admin.token, json: ["role": "staff"]).status == .ok
            )
        }
    }

    @Test func twoAdminsDemotingEachOtherAtOnceLeaveOneAdmin() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let a = try await memberId(api, agency, agency.admin)
            let m = agency.members[.manager]!
            let b = try await memberId(api, agency, m)
            _ = try await api.send(.patch, "/api/v1/team-members/\(b)", token: agency.admin.token, json: ["role": "admin"])
            async let first = api.send(.patch, "/api/v1/team-members/\(b)", token: agency.admin.token, json: ["role": "staff"])
            async let second = api.send(.patch, "/api/v1/team-members/\(a)", token: m.token, json: ["role": "staff"])
            let answers = try await [first, second]
            // Exactly one demotion wins. The other is refused: LAST_ADMIN, or, when the winner demoted
            // the second caller before its request resolved its role, INSUFFICIENT_ROLE.
            #expect(answers.filter { $0.status == .ok }.count == 1, "\(answers.map(\.raw))")
            #expect(answers.contains { $0.errorCode == "LAST_ADMIN" || $0.errorCode == "INSUFFICIENT_ROLE" })
            let admins = try await api.send(.get, "/api/v1/team-members?role=admin", token: answers[0].status == .ok ? agency.admin.token : m.token)
            #expect(admins.data.count == 1, "\(admins.raw)")
        }
    }

    @Test func roleChangeAndRemovalTakeEffectOnTheNextRequest() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let manager = agency.members[.manager]!
            let id = try await memberId(api, agency, manager)
            #expect(try await api.send(.post, "/api/v1/properties", token: manager.token, json: ["name": "P", "max_guests": 2]).status == .created)
            #expect(try await api.send(.patch, "/api/v1/team-members/\(id)", token: agency.admin.token, json: ["role": "staff"])["role"] == "staff")
            let denied = try await api.send(.post, "/api/v1/properties", token: manager.token, json: ["name": "P", "max_guests": 2])
            #expect(denied.errorCode == "INSUFFICIENT_ROLE")
            #expect(try await api.send(.delete, "/api/v1/team-members/\(id)", token: agency.admin.token).status == .noContent)
            let gone = try await api.send(.get, "/api/v1/properties", token: manager.token)
            #expect(gone.status == .forbidden)
            #expect(gone.errorCode == "AGENCY_ACCESS_DENIED")
        }
    }

    @Test func invitingReportsDuplicatesButNeverWhetherAnAccountExists() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let unknown = try await api.send(
                .post,
                "/api/v1/team-members",
                token: agency.admin.token,
                json: ["email": .string("nobody-\(UUID())@x.io"), "role": "staff"]
            )
            #expect(unknown.status == .created)
            #expect(unknown["status"] == "pending")
            let dup = try await api.send(
                .post,
                "/api/v1/team-members",
                token: agency.admin.token,
                json: ["email": .string(agency.members[.staff]!.email.uppercased()), "role": "manager"]
            )
            #expect(dup.status == .conflict)
            #expect(dup.errorCode == "ALREADY_MEMBER")
            let bad = try await api.send(.post, "/api/v1/team-members", token: agency.admin.token, json: ["email": "x", "role": "king"])
            #expect(bad.errorCode == "VALIDATION_ERROR")
            #expect(bad.json["error"]?["details"]?["fields"]?.arrayValue?.compactMap { $0["field"]?.stringValue }.sorted() == ["email", "role"])
            let missing = try await api.send(.patch, "/api/v1/team-members/\(UUID())", token: agency.admin.token, json: ["role": "staff"])
            #expect(missing.errorCode == "TEAM_MEMBER_NOT_FOUND")
        }
    }
}

/// ENFORCE_RBAC=false: denials are logged and counted but allowed; authentication and tenant
/// isolation stay on.
@Suite struct ShadowModeTests {
    @Test func deniedRolesAreAllowedAndCountedButAnonymousAndForeignAreNot() async throws {
        try await withApp(env: ["ENFORCE_RBAC": "false"]) { api in
            let agency = try await api.makeAgency()
            let other = try await api.makeAgency()
            let r = try await api.send(.post, "/api/v1/properties", token: agency.token(.staff), json: ["name": "Shadow", "max_guests": 2])
            #expect(r.status == .created)
            #expect(api.services.metrics.render().contains(#"rbac_denials_total{enforced="false"} 1"#))
            #expect(try await api.send(.get, "/api/v1/properties").errorCode == "AUTH_REQUIRED")
            let foreign = try await api.send(.get, "/api/v1/properties", token: agency.token(.staff), agency: other.id)
            #expect(foreign.errorCode == "AGENCY_ACCESS_DENIED")
            let foreignProperty = try await api.createProperty(other)
            let hidden = try await api.send(.get, "/api/v1/properties/\(foreignProperty)", token: agency.token(.admin))
            #expect(hidden.status == .notFound)
        }
    }
}
