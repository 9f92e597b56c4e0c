import Foundation
import HTTPTypes
import Testing

@testable import Innkeep

/// SPEC §12–13 check a URL's host when an endpoint or a connection is saved. That lookup runs with no pooled
/// connection held (`RouteBuilder.tenant(awaitsNetwork:)`): with a pool of one connection and the lookup held open,
/// the agency's other requests are still served, and the held request finishes once its lookup answers.
@Suite struct HeldLookupTests {
    /// Holds every lookup until `release`, then answers a public address.
    actor LookupGate {
        private var waiting: [CheckedContinuation<Void, Never>] = []
        var held: Int { waiting.count }

        func lookUp() async -> [IPAddress] {
            await withCheckedContinuation { waiting.append($0) }
            return [IPAddress("93.184.216.34")!]
        }

        func release() {
            for continuation in waiting { continuation.resume() }
            waiting = []
        }
    }

    @Test func aHeldLookupHoldsNoConnection() async throws {
        // The list's deadline is what fails without `awaitsNetwork`; the saves' lookups may wait far longer here.
        try await OutboundURLPolicy.$saveLookUpLimit.withValue(.seconds(60)) {
            try await withApp(databaseDeadline: .seconds(5), poolSize: 1) { api in
                let agency = try await api.makeAgency()
                let token = agency.admin.token
                let property = try await api.createProperty(agency)
                let hook = try await api.createEndpoint(agency, url: "https://93.184.216.34/hook")
                let connectionId = try await api.createConnection(agency, property: property)
                let saves: [(HTTPRequest.Method, String, JSONValue, HTTPResponse.Status)] = [
                    (.post, "/api/v1/webhook-endpoints", ["url": "https://hooks.example.com/a", "events": ["booking.created"]], .created),
                    (.patch, "/api/v1/webhook-endpoints/\(hook.id)", ["url": "https://hooks.example.com/b"], .ok),
                    (
                        .post, "/api/v1/channel-connections",
                        [
                            "property_id": JSONValue(property), "channel": "airbnb", "external_listing_id": "a-1",
                            "ical_url": "https://calendar.example.com/a.ics",
                        ], .created
                    ),
                    (.patch, "/api/v1/channel-connections/\(connectionId)", ["ical_url": "https://calendar.example.com/v.ics"], .ok),
                ]
                for (method, path, body, expected) in saves {
                    let gate = LookupGate()
                    try await OutboundURLPolicy.$lookUp.withValue({ _ in await gate.lookUp() }) {
                        async let saved = api.send(method, path, token: token, json: body)
                        try await eventually("\(method) \(path) looks its host up") { await gate.held == 1 }
                        let list = try await api.send(.get, "/api/v1/properties", token: token)
                        #expect(list.status == .ok, "\(method) \(path) held the connection: \(list.raw)")
                        await gate.release()
                        let reply = try await saved
                        #expect(reply.status == expected, "\(method) \(path): \(reply.raw)")
                    }
                }
            }
        }
    }

    /// A save's lookup that outlasts its limit answers then: a webhook's URL is refused and says why, an iCal feed's is
    /// kept (each fetch looks it up again), rather than waiting out the resolver's 10–30 s.
    @Test func aSavesLookupPastItsLimitAnswersThen() async throws {
        let limit = Duration.milliseconds(300)
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let gate = LookupGate()
            defer { Task { await gate.release() } }
            try await OutboundURLPolicy.$saveLookUpLimit.withValue(limit) {
                try await OutboundURLPolicy.$lookUp.withValue({ _ in await gate.lookUp() }) {
                    var start = ContinuousClock.now
                    let hook = try await api.send(
                        .post,
                        "/api/v1/webhook-endpoints",
                        token: agency.admin.token,
                        json: ["url": "https://hooks.example.com/slow", "events": ["booking.created"]]
                    )
                    #expect(ContinuousClock.now - start >= limit)
                    #expect(hook.status == .unprocessableContent && fields(hook) == ["url"], "\(hook.raw)")
                    #expect(hook.raw.contains("took longer than 300 ms"), "\(hook.raw)")
                    start = ContinuousClock.now
                    let feed = try await api.send(
                        .post,
                        "/api/v1/channel-connections",
                        token: agency.admin.token,
                        json: [
                            "property_id": JSONValue(property), "channel": "ical", "external_listing_id": "slow",
                            "ical_url": "https://calendar.example.com/slow.ics",
                        ]
                    )
                    #expect(ContinuousClock.now - start >= limit)
                    #expect(feed.status == .created, "\(feed.raw)")
                }
            }
        }
    }
}
