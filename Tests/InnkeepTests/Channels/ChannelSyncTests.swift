import Foundation
import HTTPTypes
import PostgresNIO
import Testing

@testable import Innkeep

/// Import by the worker (SPEC §12) against a real feed server, database and syncer.
@Suite(.serialized) struct ChannelSyncTests {
    static let privateOK: [String: String?] = ["ALLOW_PRIVATE_URLS": "true"]

    func withFeeds(_ body: @Sendable (APIClient, FeedServer) async throws -> Void) async throws {
        let server = try await FeedServer.start()
        do {
            try await withApp(env: Self.privateOK) { api in try await body(api, server) }
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    /// A new agency's property connected to a feed of `ICalFixtures.airbnb()`, synced once by the returned syncer.
    func syncedFeed(
        _ api: APIClient,
        _ feeds: FeedServer,
        timeout: Duration = .seconds(10)
    ) async throws -> (agency: TestAgency, url: String, connection: UUID, syncer: ChannelSyncer) {
        let agency = try await api.makeAgency()
        let property = try await api.createProperty(agency)
        let url = feeds.serve(.calendar(ICalFixtures.airbnb()))
        let connection = try await api.connectFeed(agency, property: property, url: url)
        let syncer = api.syncer(agency, timeout: timeout)
        #expect(try await syncer.syncDue() == 1)
        return (agency, url, connection, syncer)
    }

    /// Makes the connection due now.
    func requestSync(_ api: APIClient, _ agency: TestAgency, _ connection: UUID) async throws {
        try await api.services.db.transaction(.tenant(agency.id, user: nil)) { conn in
            try await ChannelConnectionRepository.requestSync(conn, agency: agency.id, id: connection)
        }
    }

    /// Makes the connection due now and runs one pass of `syncer`.
    func syncNow(_ api: APIClient, _ agency: TestAgency, _ connection: UUID, _ syncer: ChannelSyncer) async throws {
        try await requestSync(api, agency, connection)
        #expect(try await syncer.syncDue() == 1)
    }

    @Test func theFeedIsTheTruthForItsConnectionStepByStep() async throws {
        try await withFeeds { api, feeds in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let url = feeds.serve(.calendar(ICalFixtures.airbnb()))
            let connection = try await api.connectFeed(agency, property: property, url: url)
            let syncer = api.syncer(agency)
            let reservedUID = "1418fb94e984-a9d0f2a5c3d0e2d3b1f3f2d6e7a4c0c8@airbnb.com"
            let blockedUID = "f6c0b2a3e1d9-airbnb-blocked@airbnb.com"

            // add
            #expect(try await syncer.syncDue() == 1)
            var blocks = try await api.channelBlocks(agency, connection: connection)
            #expect(blocks.mapValues { "\($0.start)/\($0.end)" } == [reservedUID: "2031-07-05/2031-07-10", blockedUID: "2031-08-01/2031-08-04"])
            let c = try await api.connection(agency, connection)
            #expect(c["last_sync_status"] == "ok" && c["last_error"] == .null && c["imported_events"] == 2 && c["last_synced_at"] != .null)
            #expect(feeds.requests(to: url).last?.headers["user-agent"]?.hasPrefix("Innkeep/") == true)
            let reservedId = blocks[reservedUID]!.id
            let blockedId = blocks[blockedUID]!.id
            let days = try await api.calendarDays(agency, property: property, from: "2031-07-04", to: "2031-07-06")
            #expect(days["2031-07-04"]?["status"] == "available" && days["2031-07-05"]?["block_kind"] == "channel")

            // the same feed twice: nothing changes
            let auditBefore = try await api.send(.get, "/api/v1/audit-log", token: agency.admin.token).data.count
            try await syncNow(api, agency, connection, syncer)
            blocks = try await api.channelBlocks(agency, connection: connection)
            #expect(blocks[reservedUID]?.id == reservedId && blocks[blockedUID]?.id == blockedId && blocks.count == 2)
            #expect(try await api.send(.get, "/api/v1/audit-log", token: agency.admin.token).data.count == auditBefore)

            // move (same UID, new nights: same block), and Airbnb's unstable UID for the same window (same block)
            feeds.set(url, .calendar(ICalFixtures.airbnb(blockedUID: "another-uid-same-window@airbnb.com", reserved: ("20310706", "20310712"))))
            try await syncNow(api, agency, connection, syncer)
            blocks = try await api.channelBlocks(agency, connection: connection)
            #expect(blocks[reservedUID]?.id == reservedId && blocks[reservedUID]?.start == "2031-07-06" && blocks[reservedUID]?.end == "2031-07-12")
            #expect(blocks["another-uid-same-window@airbnb.com"]?.id == blockedId && blocks.count == 2)

            // remove: a UID that is gone releases its nights
            feeds.set(url, .calendar(ICalFixtures.bookingCom))
            try await syncNow(api, agency, connection, syncer)
            blocks = try await api.channelBlocks(agency, connection: connection)
            #expect(Set(blocks.keys) == ["7d5e3a1c-booking-1@booking.com"])
            #expect(try await api.createBooking(agency, property: property, checkIn: "2031-07-06", checkOut: "2031-07-12").status == .created)

            // a valid empty calendar releases everything
            feeds.set(url, .calendar(ICalFixtures.empty))
            try await syncNow(api, agency, connection, syncer)
            #expect(try await api.channelBlocks(agency, connection: connection).isEmpty)
            #expect(try await api.connection(agency, connection)["imported_events"] == 0)
        }
    }

    @Test func aFailedSyncChangesNoBlockAndSaysWhy() async throws {
        try await withFeeds { api, feeds in
            let (agency, url, connection, syncer) = try await syncedFeed(api, feeds, timeout: .seconds(2))
            let before = try await api.channelBlocks(agency, connection: connection).mapValues(\.id)
            #expect(before.count == 2)
            let hops = (1...4).map { feeds.serve(.redirect(to: "/hop-\($0).ics"), at: "/hop-\($0 - 1).ics") }
            _ = feeds.serve(.calendar(ICalFixtures.empty), at: "/hop-4.ics")
            let cases: [(FeedServer.Answer, String)] = [
                (.status(200, body: ICalFixtures.loginPage), "not an iCalendar"),
                (.status(500, body: "oops"), "HTTP 500"),
                (.status(404), "HTTP 404"),
                (.slow(.seconds(4), then: ICalFixtures.empty), "timed out"),
                (.huge(bytes: 6 * 1024 * 1024), "larger than 5 MiB"),
                (.redirect(to: URL(string: hops[0])!.path), "more than 3 redirects"),
            ]
            for (answer, reason) in cases {
                feeds.set(url, answer)
                try await syncNow(api, agency, connection, syncer)
                let c = try await api.connection(agency, connection)
                #expect(c["last_sync_status"] == "error", "\(reason)")
                #expect(c["last_error"]?.stringValue?.contains(reason) == true, "\(reason): \(c["last_error"] ?? .null)")
                #expect(try await api.channelBlocks(agency, connection: connection).mapValues(\.id) == before, "\(reason)")
            }
            // The change from ok to error was one event; recovering clears the error.
            feeds.set(url, .redirect(to: URL(string: hops[2])!.path))  // two hops to an empty calendar
            try await syncNow(api, agency, connection, syncer)
            let recovered = try await api.connection(agency, connection)
            #expect(recovered["last_sync_status"] == "ok" && recovered["last_error"] == .null)
            #expect(try await api.channelBlocks(agency, connection: connection).isEmpty)
        }
    }

    /// A sync cancelled mid-fetch (a worker shut down) is abandoned, not failed: the agency still sees its last
    /// sync's status, not an error the feed never had.
    @Test func aSyncCancelledMidFetchLeavesTheConnectionAsItWas() async throws {
        try await withFeeds { api, feeds in
            let (agency, url, connection, syncer) = try await syncedFeed(api, feeds)
            let before = try await api.connection(agency, connection)
            #expect(before["last_sync_status"] == "ok")

            feeds.set(url, .slow(.seconds(4), then: ICalFixtures.empty))
            try await requestSync(api, agency, connection)
            let pass = Task { try await syncer.syncDue() }
            try await eventually("the fetch to start") { feeds.requests(to: url).count == 2 }
            let cancelled = ContinuousClock.now
            pass.cancel()
            #expect(try await pass.value == 1)
            #expect(ContinuousClock.now - cancelled < .seconds(2), "the pass waited for the feed")
            let after = try await api.connection(agency, connection)
            #expect(after["last_sync_status"] == "ok" && after["last_error"] == .null, "\(after["last_error"] ?? .null)")
            #expect(after["last_synced_at"] == before["last_synced_at"])
            #expect(try await api.channelBlocks(agency, connection: connection).count == 2)
        }
    }

    @Test func anUnchangedFeedAnswers304AndStillCountsAsSynced() async throws {
        try await withFeeds { api, feeds in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let url = feeds.serve(.calendar(ICalFixtures.bookingCom, etag: "\"v1\""))
            let connection = try await api.connectFeed(agency, property: property, url: url)
            let syncer = api.syncer(agency)
            #expect(try await syncer.syncDue() == 1)
            let first = try await api.connection(agency, connection)["last_synced_at"]?.stringValue
            try await Task.sleep(for: .milliseconds(20))
            try await syncNow(api, agency, connection, syncer)
            #expect(feeds.requests(to: url).last?.headers["if-none-match"] == "\"v1\"")
            let c = try await api.connection(agency, connection)
            #expect(c["last_sync_status"] == "ok" && c["last_synced_at"]?.stringValue != first)
            #expect(try await api.channelBlocks(agency, connection: connection).count == 1)
        }
    }

    @Test func conflictsOpenOnceAndResolveThemselves() async throws {
        try await withFeeds { api, feeds in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let booking = try #require(
                try await api.createBooking(agency, property: property, checkIn: "2031-07-06", checkOut: "2031-07-08")["id"]?.uuid
            )
            let manual = try #require(try await api.createBlock(agency, property: property, start: "2031-08-03", end: "2031-08-05")["id"]?.uuid)
            let url = feeds.serve(.calendar(ICalFixtures.airbnb()))
            let connection = try await api.connectFeed(agency, property: property, url: url)
            let syncer = api.syncer(agency)
            #expect(try await syncer.syncDue() == 1)
            for _ in 0..<2 { try await syncNow(api, agency, connection, syncer) }  // once per overlap, not per sync
            let open = try await api.send(.get, "/api/v1/channel-conflicts?status=open", token: agency.token(.manager))
            #expect(open.status == .ok && open.data.count == 2, "\(open.raw)")
            let onBooking = try #require(open.data.first { $0["conflicting_booking_id"]?.uuid == booking })
            #expect(
                onBooking["channel_connection_id"]?.uuid == connection && onBooking["start_date"] == "2031-07-05" && onBooking["resolved_at"] == .null
            )
            #expect(open.data.contains { $0["conflicting_block_id"]?.uuid == manual })
            let audit = try await api.send(.get, "/api/v1/audit-log?action=channel.conflict_detected", token: agency.admin.token)
            #expect(audit.data.count == 2)
            let days = try await api.calendarDays(agency, property: property, from: "2031-07-05", to: "2031-07-09")
            #expect(days["2031-07-06"]?["conflict"] == true && days["2031-07-05"]?["conflict"] == false)

            // The booking is cancelled: its conflict resolves at once; the event moves off the manual block: that one too.
            _ = try await api.send(.post, "/api/v1/bookings/\(booking)/cancel", token: agency.admin.token)
            feeds.set(url, .calendar(ICalFixtures.airbnb(blocked: ("20310901", "20310903"))))
            try await syncNow(api, agency, connection, syncer)
            let resolved = try await api.send(.get, "/api/v1/channel-conflicts?status=resolved&property_id=\(property)", token: agency.admin.token)
            #expect(resolved.data.count == 2 && resolved.data.allSatisfy { $0["resolved_at"] != .null })
            #expect(try await api.send(.get, "/api/v1/channel-conflicts?status=open", token: agency.admin.token).data.isEmpty)
            // Other agencies and roles see none of it.
            let other = try await api.makeAgency()
            #expect(try await api.send(.get, "/api/v1/channel-conflicts", token: other.admin.token).data.isEmpty)
            #expect(try await api.send(.get, "/api/v1/channel-conflicts", token: agency.token(.staff)).status == .forbidden)
            #expect(fields(try await api.send(.get, "/api/v1/channel-conflicts?status=maybe", token: agency.admin.token)) == ["status"])
        }
    }

    @Test func twoWorkersSyncingOneConnectionNeverDuplicateABlock() async throws {
        try await withFeeds { api, feeds in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let url = feeds.serve(.slow(.milliseconds(300), then: ICalFixtures.airbnb()))
            let connection = try await api.connectFeed(agency, property: property, url: url)
            let (a, b) = (api.syncer(agency), api.syncer(agency))
            for _ in 0..<3 {
                try await requestSync(api, agency, connection)
                async let first = a.syncDue()
                async let second = b.syncDue()
                let claimed = try await first + second
                #expect(claimed == 1, "one sync per connection at a time")
            }
            let rows = try await api.services.db.transaction(.tenant(agency.id, user: nil)) { conn in
                try await conn.run("SELECT count(*)::int8 FROM blocks WHERE agency_id = \(agency.id) AND channel_connection_id = \(connection)")
                    .collect()[0].decode(Int.self)
            }
            #expect(rows == 2)
        }
    }

    @Test func syncNowRunsWithinFiveSecondsAndPausedConnectionsRefuse() async throws {
        try await withFeeds { api, feeds in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let url = feeds.serve(.calendar(ICalFixtures.empty))
            let connection = try await api.connectFeed(agency, property: property, url: url)
            var options = ChannelSyncer.Options()
            options.onlyAgency = agency.id
            let worker = ChannelSyncer(
                db: api.services.db,
                logger: TestEnv.logger,
                metrics: api.services.metrics,
                fetcher: ICalFetcher(allowPrivate: true, version: "test"),
                baseURL: "http://x",
                options: options
            )
            let running = Task { try await worker.run() }
            defer { running.cancel() }
            try await eventually("the first sync") { try await api.connection(agency, connection)["last_sync_status"] == "ok" }
            feeds.set(url, .calendar(ICalFixtures.bookingCom))
            let asked = ContinuousClock.now
            let r = try await api.send(.post, "/api/v1/channel-connections/\(connection)/sync", token: agency.admin.token)
            #expect(r.status == .accepted && r["id"]?.uuid == connection)
            try await eventually("the requested sync", timeout: .seconds(5)) {
                try await api.channelBlocks(agency, connection: connection).count == 1
            }
            #expect(ContinuousClock.now - asked < .seconds(5))

            let paused = try await api.send(
                .patch,
                "/api/v1/channel-connections/\(connection)",
                token: agency.admin.token,
                json: ["status": "paused"]
            )
            #expect(paused["status"] == "paused")
            let refused = try await api.send(.post, "/api/v1/channel-connections/\(connection)/sync", token: agency.admin.token)
            #expect(refused.status == .conflict && refused.errorCode == "CHANNEL_CONNECTION_PAUSED")
        }
    }

    @Test func privateDestinationsAreRefusedAtSaveAndAtFetchUnlessAllowed() async throws {
        try await withApp { api in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            for url in [
                "http://127.0.0.1:9/x.ics", "http://10.1.2.3/cal.ics", "http://[::1]/x.ics", "http://169.254.169.254/latest", "ftp://example.com/x",
            ] {
                let r = try await api.send(
                    .post,
                    "/api/v1/channel-connections",
                    token: agency.admin.token,
                    json: [
                        "property_id": JSONValue(property), "channel": "ical", "external_listing_id": .string(UUID().uuidString),
                        "ical_url": .string(url),
                    ]
                )
                #expect(r.status == .unprocessableContent && fields(r) == ["ical_url"], "\(url): \(r.raw)")
            }
            let ok = try await api.send(
                .post,
                "/api/v1/channel-connections",
                token: agency.admin.token,
                json: [
                    "property_id": JSONValue(property), "channel": "vrbo", "external_listing_id": "v-1",
                    "ical_url": "https://calendar.example.com/v.ics",
                ]
            )
            let id = try #require(ok["id"]?.uuid)
            let patch = try await api.send(
                .patch,
                "/api/v1/channel-connections/\(id)",
                token: agency.admin.token,
                json: ["ical_url": "http://192.168.1.1/x"]
            )
            #expect(fields(patch) == ["ical_url"])
            let clear = try await api.send(.patch, "/api/v1/channel-connections/\(id)", token: agency.admin.token, json: ["ical_url": nil])
            #expect(clear.status == .ok && clear["ical_url"] == .null)
            let noURL = try await api.send(.post, "/api/v1/channel-connections/\(id)/sync", token: agency.admin.token)
            #expect(fields(noURL) == ["ical_url"])
        }
        // A URL saved while allowed, fetched by a worker that is not: refused at fetch, said in last_error.
        try await withFeeds { api, feeds in
            let agency = try await api.makeAgency()
            let property = try await api.createProperty(agency)
            let connection = try await api.connectFeed(agency, property: property, url: feeds.serve(.calendar(ICalFixtures.airbnb())))
            var options = ChannelSyncer.Options()
            options.onlyAgency = agency.id
            let strict = ChannelSyncer(
                db: api.services.db,
                logger: TestEnv.logger,
                metrics: api.services.metrics,
                fetcher: ICalFetcher(allowPrivate: false, version: "test"),
                baseURL: "http://x",
                options: options
            )
            #expect(try await strict.syncDue() == 1)
            let c = try await api.connection(agency, connection)
            #expect(c["last_sync_status"] == "error" && c["last_error"]?.stringValue?.contains("destination refused") == true)
            #expect(try await api.channelBlocks(agency, connection: connection).isEmpty)
        }
    }
}
