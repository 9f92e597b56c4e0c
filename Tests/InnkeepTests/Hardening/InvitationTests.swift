import Foundation
import HTTPTypes
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import Innkeep

#if canImport(Glibc)
import Glibc
#endif

/// SPEC §14: nobody joins an agency without accepting; the answer to an invite never reveals an account.
@Suite struct InvitationTests {
    @Test func inviteAcceptDeclineRevokeAndNoAccountLeak() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let known = try await api.signup()
            let unknownEmail = uniqueEmail("later")
            // Known and unknown emails get the same kind of answer: no name, no user id, nothing about an account.
            let a = try await api.send(
                .post,
                "/api/v1/team-members",
                token: agency.admin.token,
                json: ["email": .string(known.email), "role": "staff"]
            )
            let b = try await api.send(
                .post,
                "/api/v1/team-members",
                token: agency.admin.token,
                json: ["email": .string(unknownEmail), "role": "owner"]
            )
            for r in [a, b] {
                #expect(r.status == .created, "\(r.raw)")
                guard case .object(let o) = r.json else {
                    Issue.record("not an object: \(r.raw)")
                    continue
                }
                #expect(Set(o.keys) == ["id", "email", "role", "status", "expires_at"])
                #expect(r["status"] == "pending")
            }
            #expect(!a.raw.contains("Test User"))
            // Seven days.
            let expires = try #require(a["expires_at"]?.stringValue)
            let days = try await api.services.db.transaction(.none) { conn in
                try await conn.run("SELECT round(extract(epoch FROM (\(expires)::timestamptz - now())) / 86400)::int8").collect()[0].decode(
                    Int64.self
                )
            }
            #expect(days == 7)
            // Not a member yet: the invitee cannot act in the agency.
            #expect(try await api.send(.get, "/api/v1/properties", token: known.token, agency: agency.id).errorCode == "AGENCY_ACCESS_DENIED")

            // The invitee sees it in /me, with the agency's name.
            let me = try await api.send(.get, "/api/v1/me", token: known.token)
            let invitation = try #require(me["invitations"]?.arrayValue?.first)
            #expect(me["invitations"]?.arrayValue?.count == 1)
            #expect(invitation["agency_id"]?.uuid == agency.id)
            #expect(invitation["agency_name"]?.stringValue?.hasPrefix("Agency") == true)
            #expect(invitation["role"] == "staff")
            let invitationId = try #require(a["id"]?.uuid)
            #expect(invitation["id"]?.uuid == invitationId)

            // Someone else cannot accept or decline it (404, as if it did not exist), not even the agency's admin.
            for other in [agency.admin.token, agency.token(.manager)] {
                #expect(try await api.send(.post, "/api/v1/invitations/\(invitationId)/accept", token: other).errorCode == "INVITATION_NOT_FOUND")
                #expect(try await api.send(.post, "/api/v1/invitations/\(invitationId)/decline", token: other).errorCode == "INVITATION_NOT_FOUND")
            }
            #expect(try await api.send(.post, "/api/v1/invitations/\(UUID())/accept", token: known.token).errorCode == "INVITATION_NOT_FOUND")

            // The admin lists both pending ones.
            let pending = try await api.send(.get, "/api/v1/invitations", token: agency.admin.token)
            #expect(Set(pending.data.compactMap { $0["email"]?.stringValue }) == [known.email, unknownEmail])

            // Accept: a member with the invited role; accepting again is 409.
            let accepted = try await api.send(.post, "/api/v1/invitations/\(invitationId)/accept", token: known.token)
            #expect(accepted.status == .ok, "\(accepted.raw)")
            #expect(accepted["role"] == "staff")
            #expect(accepted["user_id"]?.uuid == known.id)
            #expect(accepted["agency_id"]?.uuid == agency.id)
            #expect(try await api.send(.get, "/api/v1/properties", token: known.token, agency: agency.id).status == .ok)
            let twice = try await api.send(.post, "/api/v1/invitations/\(invitationId)/accept", token: known.token)
            #expect(twice.status == .conflict)
            #expect(twice.errorCode == "INVITATION_NOT_PENDING")
            #expect(try await api.send(.get, "/api/v1/me", token: known.token)["invitations"] == [])
            // Re-inviting a member: 409 ALREADY_MEMBER (whatever the case of the email).
            #expect(
                try await api.send(
                    .post,
                    "/api/v1/team-members",
                    token: agency.admin.token,
                    json: ["email": .string(known.email.uppercased()), "role": "manager"]
                ).errorCode == "ALREADY_MEMBER"
            )

            // Someone who signs up later with the invited email sees it, and may decline it.
            let later = try await api.signup(email: unknownEmail)
            let laterMe = try await api.send(.get, "/api/v1/me", token: later.token)
            let laterInvitation = try #require(laterMe["invitations"]?.arrayValue?.first?["id"]?.uuid)
            #expect(laterInvitation == b["id"]?.uuid)
            #expect(try await api.send(.post, "/api/v1/invitations/\(laterInvitation)/decline", token: later.token).status == .noContent)
            #expect(
                try await api.send(.post, "/api/v1/invitations/\(laterInvitation)/accept", token: later.token).errorCode == "INVITATION_NOT_PENDING"
            )
            #expect(try await api.send(.get, "/api/v1/properties", token: later.token, agency: agency.id).errorCode == "AGENCY_ACCESS_DENIED")

            // Revoked: the invitee can no longer accept; revoking twice is 409; a foreign or unknown id is 404.
            let third = try await api.signup()
            let c = try await api.send(
                .post,
                "/api/v1/team-members",
                token: agency.admin.token,
                json: ["email": .string(third.email), "role": "manager"]
            )
            let cId = try #require(c["id"]?.uuid)
            #expect(try await api.send(.delete, "/api/v1/invitations/\(cId)", token: agency.admin.token).status == .noContent)
            #expect(try await api.send(.delete, "/api/v1/invitations/\(cId)", token: agency.admin.token).errorCode == "INVITATION_NOT_PENDING")
            #expect(try await api.send(.post, "/api/v1/invitations/\(cId)/accept", token: third.token).errorCode == "INVITATION_NOT_PENDING")
            let otherAgency = try await api.makeAgency()
            #expect(try await api.send(.delete, "/api/v1/invitations/\(cId)", token: otherAgency.admin.token).errorCode == "INVITATION_NOT_FOUND")
            #expect(try await api.send(.get, "/api/v1/invitations", token: agency.admin.token).data.isEmpty)

            // Expired (7 days passed): gone from /me and the admin's list, and 409 on accept.
            let fourth = try await api.signup()
            let d = try await api.send(
                .post,
                "/api/v1/team-members",
                token: agency.admin.token,
                json: ["email": .string(fourth.email), "role": "staff"]
            )
            let dId = try #require(d["id"]?.uuid)
            try await api.services.db.transaction(.tenant(agency.id, user: nil)) { conn in
                try await conn.run("UPDATE invitations SET expires_at = now() - interval '1 second' WHERE agency_id = \(agency.id) AND id = \(dId)")
            }
            #expect(try await api.send(.get, "/api/v1/me", token: fourth.token)["invitations"] == [])
            #expect(try await api.send(.post, "/api/v1/invitations/\(dId)/accept", token: fourth.token).errorCode == "INVITATION_NOT_PENDING")
            #expect(try await api.send(.get, "/api/v1/invitations", token: agency.admin.token).data.isEmpty)
            // Inviting again makes a fresh pending one.
            let again = try await api.send(
                .post,
                "/api/v1/team-members",
                token: agency.admin.token,
                json: ["email": .string(fourth.email), "role": "staff"]
            )
            #expect(again.status == .created)

            // A member of several agencies accepts with no agency context.
            #expect(
                try await api.send(
                    .post,
                    "/api/v1/team-members",
                    token: otherAgency.admin.token,
                    json: ["email": .string(known.email), "role": "accountant"]
                ).status == .created
            )
            let second = try #require(try await api.send(.get, "/api/v1/me", token: known.token)["invitations"]?.arrayValue?.first?["id"]?.uuid)
            #expect(try await api.send(.post, "/api/v1/invitations/\(second)/accept", token: known.token)["role"] == "accountant")
            #expect(try await api.send(.get, "/api/v1/me", token: known.token)["memberships"]?.arrayValue?.count == 2)
        }
    }
}
