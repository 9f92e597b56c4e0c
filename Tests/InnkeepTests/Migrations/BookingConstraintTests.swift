import Foundation
import Logging
import PostgresNIO
import Testing

@testable import Innkeep

// Migrations against the real Postgres (SPEC §8, §9): a fresh `mig_<random>` database per test (MigrationFixture).

@Suite struct BookingConstraintTests {
    typealias F = MigrationFixture

    @Test func confirmedBookingsNeverOverlapAndChildrenNeverCrossAgencies() async throws {
        try await F.withFreshDatabase { db async throws in
            // As the superuser: RLS does not apply, so only the constraints stand in the way.
            try await F.withConnection(TestEnv.adminURL(database: db)) { conn async throws in
                let a = UUID()
                let b = UUID()
                try await conn.run("INSERT INTO agencies (id, name) VALUES (\(a), 'A'), (\(b), 'B')")
                let pa = try await conn.run("INSERT INTO properties (agency_id, name, max_guests) VALUES (\(a), 'A1', 4) RETURNING id").collect()
                    .first!.decode(UUID.self)
                let pa2 = try await conn.run("INSERT INTO properties (agency_id, name, max_guests) VALUES (\(a), 'A2', 4) RETURNING id").collect()
                    .first!.decode(UUID.self)
                let pb = try await conn.run("INSERT INTO properties (agency_id, name, max_guests) VALUES (\(b), 'B1', 4) RETURNING id").collect()
                    .first!.decode(UUID.self)
                func book(_ agency: UUID, _ property: UUID, _ checkIn: String, _ checkOut: String, cancelled: Bool = false) async throws {
                    try await conn.run(
                        """
                        INSERT INTO bookings (agency_id, property_id, guest_name, check_in, check_out, guests, status, cancelled_at)
                        VALUES (\(agency), \(property), 'G', \(checkIn)::date, \(checkOut)::date, 2,
                                \(cancelled ? "cancelled" : "confirmed"), CASE WHEN \(cancelled) THEN now() END)
                        """
                    )
                }
                try await book(a, pa, "2030-06-01", "2030-06-03")
                try await book(a, pa, "2030-06-03", "2030-06-05")  // back-to-back: [1,3) and [3,5)
                let overlap = await F.failure { try await book(a, pa, "2030-06-02", "2030-06-04") }
                #expect(overlap?.state == "23P01", "\(String(describing: overlap))")
                let inside = await F.failure { try await book(a, pa, "2030-05-20", "2030-07-01") }
                #expect(inside?.state == "23P01")
                try await book(a, pa, "2030-06-02", "2030-06-04", cancelled: true)  // a cancelled overlap is fine
                try await book(a, pa2, "2030-06-02", "2030-06-04")  // another property is fine
                #expect(try await F.int(conn, "SELECT count(*) FROM bookings WHERE property_id = \(pa)") == 3)

                // Composite FK: agency A's booking cannot point at agency B's property (nor a channel connection).
                let crossBooking = await F.failure { try await book(a, pb, "2030-08-01", "2030-08-03") }
                #expect(crossBooking?.state == "23503", "\(String(describing: crossBooking))")
                let crossChannel = await F.failure {
                    try await conn.run(
                        "INSERT INTO channel_connections (agency_id, property_id, channel, external_listing_id) VALUES (\(a), \(pb), 'ical', 'x')"
                    )
                }
                #expect(crossChannel?.state == "23503")
            }
        }
    }

    @Test func twoRacingTransactionsCannotBothBookTheSameNights() async throws {
        try await F.withFreshDatabase { db async throws in
            let agency = UUID()
            let property = try await F.withConnection(TestEnv.adminURL(database: db)) { conn async throws in
                try await conn.run("INSERT INTO agencies (id, name) VALUES (\(agency), 'A')")
                return try await conn.run("INSERT INTO properties (agency_id, name, max_guests) VALUES (\(agency), 'A1', 4) RETURNING id").collect()
                    .first!.decode(UUID.self)
            }
            let insert: PostgresQuery = """
                INSERT INTO bookings (agency_id, property_id, guest_name, check_in, check_out, guests) VALUES (\(agency), \(property), 'G',
                    '2030-09-01', '2030-09-05', 2)
                """
            try await F.withConnection(TestEnv.runtimeURL(db)) { first async throws in
                try await F.withConnection(TestEnv.runtimeURL(db)) { second async throws in
                    try await first.run("BEGIN")
                    try await first.run("SELECT set_config('app.agency_id', \(agency.uuidString), true)")
                    try await first.run(insert)
                    // The second transaction waits on the first's uncommitted row, then fails once it commits.
                    let racer = Task { () async -> (state: String, message: String)? in
                        await F.failure { try await F.scoped(second, agency: agency) { _ = try await second.run(insert) } }
                    }
                    try await Task.sleep(for: .milliseconds(200))
                    try await first.run("COMMIT")
                    let failure = await racer.value
                    #expect(failure?.state == "23P01", "\(String(describing: failure))")
                }
            }
            try await F.withConnection(TestEnv.adminURL(database: db)) { conn async throws in
                #expect(try await F.int(conn, "SELECT count(*) FROM bookings") == 1)
            }
        }
    }
}
