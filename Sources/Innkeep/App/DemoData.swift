import Foundation
import Logging
import PostgresNIO

/// The demo agency the README's first command creates: one user per role, two properties, a booking.
/// Idempotent: running it again reuses what exists and prints fresh tokens.
public enum DemoData {
    public static let agencyName = "Demo Rentals"

    public static func seed(config: AppConfig, logger: Logger) async throws -> String {
        try await Runner.checkConnection(config.databaseURL, logger: logger)
        let db = Database(config: config, logger: logger, maximumConnections: 2, deadline: .seconds(30))
        let jwt = JWTSigner(secret: config.jwtSecret)
        let hasher = PasswordHasher(cost: 10)
        return try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                await db.run()
                return nil
            }
            defer { group.cancelAll() }
            var users: [(Role, String, String, UUID)] = []
            for role in Role.allCases {
                let email = "\(role.rawValue)@demo.innkeep.test"
                let password = "demo-\(role.rawValue)-password"
                let id = try await ensureUser(db, email: email, password: password, name: "Demo \(role.rawValue.capitalized)", hasher: hasher)
                users.append((role, email, password, id))
            }
            let agencyId = try await ensureAgency(db, admin: users[0].3, members: users.dropFirst().map { ($0.3, $0.0) })
            var out = "Demo agency \"\(agencyName)\" (\(agencyId.uuidString.lowercased())) — users, passwords and 24-hour tokens:\n"
            for (role, email, password, id) in users {
                out += "\n  \(role.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(email)  password: \(password)\n"
                out += "    TOKEN_\(role.rawValue.uppercased())=\(await jwt.sign(subject: id, lifetime: 86_400))\n"
            }
            return out
        }
    }

    static func ensureUser(_ db: Database, email: String, password: String, name: String, hasher: PasswordHasher) async throws -> UUID {
        if let id = try await db.transaction(
            .none,
            { conn in
                try await UserRepository.id(conn, email: email)
            }
        ) {
            return id
        }
        let hash = try await hasher.hash(password)
        let id = UUID.random()
        try await db.transaction(.none) { conn in
            try await UserRepository.create(conn, id: id, email: email, passwordHash: hash, fullName: name)
        }
        return id
    }

    static func ensureAgency(_ db: Database, admin: UUID, members: [(UUID, Role)]) async throws -> UUID {
        let existing = try await db.transaction(.user(admin)) { conn in
            try await UserRepository.memberships(conn, id: admin).first { $0.agencyName == agencyName }?.agencyId
        }
        if let existing { return existing }
        let agencyId = UUID.random()
        try await db.transaction(.tenant(agencyId, user: admin)) { conn in
            try await AgencyRepository.create(conn, id: agencyId, name: agencyName, admin: admin)
            for (user, role) in members {
                _ = try await TeamMemberRepository.add(conn, agency: agencyId, user: user, role: role)
            }
            let owner = members.first { $0.1 == .owner }?.0
            let beach = try await PropertyRepository.insert(
                conn,
                agency: agencyId,
                ownerId: owner,
                name: "Beach House",
                address: "1 Ocean Drive",
                timezone: "Europe/Lisbon",
                maxGuests: 6,
                minNights: 2,
                maxNights: 28,
                status: .active
            )
            _ = try await PropertyRepository.insert(
                conn,
                agency: agencyId,
                ownerId: nil,
                name: "City Loft",
                address: "22 Market Street",
                timezone: "Europe/Lisbon",
                maxGuests: 2,
                minNights: 1,
                maxNights: 365,
                status: .active
            )
            let checkIn = CalendarDate.today(in: TimeZone(identifier: "Europe/Lisbon")!) + 7
            let now = try await conn.run("SELECT now()").collect()[0].decode(Date.self)
            let stay = BookingRepository.New(
                propertyId: beach.id,
                guestName: "Ada Guest",
                guestEmail: "ada@example.com",
                stay: Nights(checkIn, checkIn + 3),
                guests: 2,
                source: .direct,
                totalAmountCents: nil,
                currency: nil,
                notes: nil
            )
            let booking = Booking(creating: stay, agency: agencyId, createdBy: admin, now: now)
            // Written like any booking (its event goes nowhere: the new agency has no webhook endpoint).
            try await Outbox.emit(conn, agency: agencyId, type: .bookingCreated, data: booking, writing: BookingRepository.Insert(booking: booking))
        }
        return agencyId
    }
}
