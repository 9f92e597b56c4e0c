import Foundation
@testable import Innkeep
import Logging
import PostgresNIO
import Testing

/// The cheaper request path of issue 17 (docs/benchmarks.md) keeps its guarantees: the one statement that
/// opens a tenant request sets what row-level security reads, and a request that skipped it sees nothing.
@Suite struct RequestEntryTests {
    struct Entered: Sendable {
        let memberships: [UUID]?
        let agency: String
        let user: String
        let worker: String
        let visible: [UUID]
    }

    /// Opens an `.entering` transaction, runs `app_enter_request` and reads back the settings and the
    /// properties row-level security lets through.
    static func enter(_ api: APIClient, user: UUID, agency: UUID?) async throws -> Entered {
        let scope = Database.Scope.entering(user: user, agency: agency)
        return try await api.services.db.transaction(scope) { conn in
            let transaction = RequestTransaction(connection: conn, scope: scope)
            let memberships = try await transaction.enter()
            let settings = try await conn.run("""
                SELECT current_setting('app.agency_id', true), current_setting('app.user_id', true), current_setting('app.worker', true)
                """).collect()[0].decode((String?, String?, String?).self)
            let visible = try await conn.run("SELECT id FROM properties").collect().map { try $0.decode(UUID.self) }
            return Entered(memberships: memberships?.map(\.agencyId), agency: settings.0 ?? "", user: settings.1 ?? "",
                           worker: settings.2 ?? "", visible: visible)
        }
    }

    @Test func theOnlyMembershipChoosesTheAgencyAndRLSShowsOnlyItsRows() async throws {
        try await withApp { api in
            let a = try await api.makeAgency(), b = try await api.makeAgency()
            let propertyA = try await api.createProperty(a), propertyB = try await api.createProperty(b)
            let entered = try await Self.enter(api, user: a.admin.id, agency: nil)
            #expect(entered.memberships == [a.id])
            #expect(entered.agency == a.id.uuidString.lowercased())
            #expect(entered.user == a.admin.id.uuidString.lowercased())
            #expect(entered.worker == "")
            #expect(entered.visible.contains(propertyA))
            #expect(!entered.visible.contains(propertyB))
        }
    }

    @Test func aForeignAgencyInTheHeaderIsNotAMembershipAndIsRefused() async throws {
        try await withApp { api in
            let a = try await api.makeAgency(), b = try await api.makeAgency()
            let entered = try await Self.enter(api, user: a.admin.id, agency: b.id)
            // The function only returns the caller's own memberships; the API refuses before any tenant statement.
            #expect(entered.memberships == [a.id])
            let r = try await api.send(.get, "/api/v1/properties", token: a.admin.token, agency: b.id)
            #expect(r.status == .forbidden)
            #expect(r.errorCode == "AGENCY_ACCESS_DENIED")
            let own = try await api.send(.get, "/api/v1/properties", token: a.admin.token, agency: a.id)
            #expect(own.status == .ok)
        }
    }

    @Test func severalMembershipsWithoutHeaderLeaveTheAgencyUnsetSoNothingIsVisible() async throws {
        try await withApp { api in
            let a = try await api.makeAgency(), b = try await api.makeAgency()
            _ = try await api.createProperty(a)
            _ = try await api.createProperty(b)
            let staff = a.members[.staff]!
            try await api.addMember(staff, role: .staff, agency: b.id, adminToken: b.admin.token)
            let entered = try await Self.enter(api, user: staff.id, agency: nil)
            #expect(Set(entered.memberships ?? []) == [a.id, b.id])
            #expect(entered.agency == "")
            #expect(entered.visible.isEmpty)
            let r = try await api.send(.get, "/api/v1/properties", token: staff.token)
            #expect(r.errorCode == "AGENCY_REQUIRED")
        }
    }

    @Test func anUnknownUserHasNoRowsAndAUserWithoutAgencyOneRowOfNulls() async throws {
        try await withApp { api in
            let nobody = try await Self.enter(api, user: UUID(), agency: nil)
            #expect(nobody.memberships == nil)
            #expect(nobody.visible.isEmpty)
            let loner = try await api.signup()
            let entered = try await Self.enter(api, user: loner.id, agency: nil)
            #expect(entered.memberships == [])
            #expect(entered.agency == "")
        }
    }

    /// A transaction opened to be entered that never was runs without agency or user: it fails closed.
    @Test func aTransactionThatDidNotEnterSeesNoTenantRows() async throws {
        try await withApp { api in
            let a = try await api.makeAgency()
            _ = try await api.createProperty(a)
            let count = try await api.services.db.transaction(.entering(user: a.admin.id, agency: a.id)) { conn in
                try await conn.run("SELECT count(*) FROM properties").collect()[0].decode(Int.self)
            }
            #expect(count == 0)
        }
    }
}

/// The byte-level JSON writer answers what the `String` one did: sorted keys, escapes, integers.
@Suite struct JSONWriterTests {
    @Test func writesSortedKeysEscapesAndIntegers() {
        let value: JSONValue = [
            "z": [1, -2, 0, .int(Int64.max), .int(Int64.min)], "a": "quote \" back \\ nl \n tab \t ctl \u{01} é ✓",
            "m": ["nested": true, "n": nil, "d": .double(1.5)],
        ]
        let expected = #"{"a":"quote \" back \\ nl \n tab \t ctl \u0001 é ✓","m":{"d":1.5,"n":null,"nested":true},"#
            + #""z":[1,-2,0,9223372036854775807,-9223372036854775808]}"#
        #expect(value.serialized == expected)
        #expect(JSONValue.parse(Array(value.serialized.utf8)) == value)
    }
}
