import Foundation
import Hummingbird
import PostgresNIO

/// `/api/v1/bookings` (SPEC §4). Double booking is impossible: the database's `occupancy_no_overlap`
/// constraint rejects a confirmed stay over another or over a block, even from racing requests.
struct BookingController {
    static let maxNights = 365

    func addRoutes(to routes: RouteBuilder) {
        routes.tenant(API.listBookings, list, inOneStatement: listInOneStatement)
        routes.tenant(API.getBooking, get)
        routes.tenant(API.createBooking, create, inOneStatement: createInOneStatement)
        routes.tenant(API.cancelBooking, cancel)
    }

    static let notFound = APIError(.bookingNotFound)

    /// The parameters of the list: `limit`, `cursor`, `property_id`, `status`, `from` and `to`.
    struct ListQuery: Sendable {
        let page: PageRequest
        let filter: BookingRepository.Filter
        let cursor: PageCursor?

        init(_ request: Request) throws {
            var query = FieldReader(query: request)
            page = PageRequest(&query)
            filter = BookingRepository.Filter(
                propertyId: query.uuid("property_id"),
                status: query.choice("status", as: Booking.Status.self),
                from: query.date("from"),
                to: query.date("to")
            )
            if let from = filter.from, let to = filter.to, to < from { query.fail("to", "must not be before from") }
            try query.finish()
            cursor = try page.cursor()
        }
    }

    @Sendable func list(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let list = try ListQuery(request)
        let caller = context.caller
        return try await context.read { conn in
            try await BookingRepository.list(
                conn,
                agency: caller.agencyId,
                owner: caller.ownerScope,
                filter: list.filter,
                cursor: list.cursor,
                limit: list.page.limit
            ).reply
        }
    }

    /// The same list in one statement (`TenantEntry`); nil sends the request the full way (`list`).
    @Sendable func listInOneStatement(_ call: Call, _ entry: TenantEntry) async throws -> Reply? {
        guard let list = try? ListQuery(call.request) else { return nil }
        return try await entry.run { conn in
            try await BookingRepository.list(conn, entering: entry, filter: list.filter, cursor: list.cursor, limit: list.page.limit).reply
        }
    }

    @Sendable func get(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.read { conn in
            guard let b = try await BookingRepository.find(conn, agency: caller.agencyId, id: id, owner: caller.ownerScope) else {
                throw Self.notFound
            }
            return .json(b)
        }
    }

    /// Reads and validates a new booking, reporting every bad field at once.
    static func readNew(_ body: inout FieldReader) throws -> BookingRepository.New {
        let propertyId = body.uuid("property_id", required: true)
        let guestName = body.string("guest_name", required: true, length: 1...200)
        let guestEmail = body.email("guest_email")
        let checkIn = body.date("check_in", required: true)
        let checkOut = body.date("check_out", required: true)
        let guests = body.int("guests", required: true, range: 1...100)
        let source = body.choice("source", as: Booking.Source.self) ?? .direct
        let total = body.int("total_amount_cents", range: 0...1_000_000_000_000)
        var currency = body.string("currency", length: 3...3)
        if let c = currency, !c.allSatisfy({ $0.isASCII && $0.isUppercase }) {
            body.fail("currency", "must be an ISO 4217 code such as EUR")
            currency = nil
        }
        if total != nil, currency == nil, !body.has("currency") || body.isNull("currency") {
            body.fail("currency", "is required with total_amount_cents")
        }
        let notes = body.string("notes", length: 0...5000)
        if let checkIn, let checkOut {
            if checkOut <= checkIn {
                body.fail("check_out", "must be after check_in")
            } else if checkOut - checkIn > maxNights {
                body.fail("check_out", "a stay is at most \(maxNights) nights")
            }
        }
        try body.finish()
        return .init(
            propertyId: propertyId!,
            guestName: guestName!,
            guestEmail: guestEmail,
            stay: Nights(checkIn!, checkOut!),
            guests: Int(guests!),
            source: source,
            totalAmountCents: total,
            currency: currency,
            notes: notes
        )
    }

    @Sendable func create(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        var body = try context.json()
        let new = try Self.readNew(&body)
        let caller = context.caller
        do {
            return try await context.transaction { conn in
                let target = try await PropertyRepository.findWithFirstHolder(conn, agency: caller.agencyId, id: new.propertyId, nights: new.stay)
                guard let (property, holder, now) = target else { throw APIError(.propertyNotFound) }
                var issues: [FieldIssue] = []
                if property.status != .active { issues.append(FieldIssue("property_id", "the property is inactive")) }
                if new.guests > property.maxGuests {
                    issues.append(FieldIssue("guests", "must be at most \(property.maxGuests), the property's max_guests"))
                }
                if !issues.isEmpty { throw APIError.validation(issues) }
                let stay = new.stay
                guard (property.minNights...property.maxNights).contains(stay.count) else {
                    throw APIError(
                        .stayRulesViolated,
                        "The property takes stays of \(property.minNights) to \(property.maxNights) nights.",
                        details: [
                            "nights": .int(Int64(stay.count)), "min_nights": .int(Int64(property.minNights)),
                            "max_nights": .int(Int64(property.maxNights)),
                        ]
                    )
                }
                if let holder { throw Self.conflict(holder) }
                let booking = Booking(creating: new, agency: caller.agencyId, createdBy: caller.userId, now: now)
                let audit = AuditLog.Entry(
                    caller,
                    "booking.create",
                    "booking",
                    booking.id,
                    details: [
                        "property_id": JSONValue(booking.propertyId), "check_in": .string(booking.stay.start.description),
                        "check_out": .string(booking.stay.end.description),
                    ]
                )
                // The row, its audit row and its event in one statement.
                try await Outbox.emit(
                    conn,
                    agency: caller.agencyId,
                    type: .bookingCreated,
                    data: booking,
                    recording: audit,
                    writing: BookingRepository.Insert(booking: booking)
                )
                return .json(booking, status: .created)
            }
        } catch  where isPostgresError(error, state: SQLState.exclusionViolation) {
            // Lost a race with a concurrent booking or block: the constraint held; name the winner.
            let holder = try await context.read { conn in
                try await CalendarRepository.firstHolder(conn, agency: caller.agencyId, propertyId: new.propertyId, nights: new.stay)
            }
            throw Self.conflict(holder)
        } catch  where isPostgresError(error, state: SQLState.foreignKeyViolation) {
            throw APIError(.propertyNotFound)  // the property was deleted meanwhile
        }
    }

    /// The same create in one statement (`TenantEntry`, `app_create_booking`): the booking, its audit row and
    /// its event, or nil, which sends the request the full way (`create`): a body `readNew` refuses, a caller
    /// not admitted, a booking the full path would refuse (it explains why), a race lost.
    @Sendable func createInOneStatement(_ call: Call, _ entry: TenantEntry) async throws -> Reply? {
        guard var body = try? call.json(), let new = try? Self.readNew(&body) else { return nil }
        return try await entry.run { conn in
            try await Reply(status: .created, body: BookingRepository.create(conn, entering: entry, new))
        }
    }

    static func conflict(_ holder: CalendarEntry?) -> APIError {
        APIError(.bookingConflict, "The stay overlaps a confirmed booking or a block of this property.", details: holder?.conflictDetails)
    }

    @Sendable func cancel(_ request: Request, _ context: TenantRequestContext) async throws -> Reply {
        let id = try context.pathId()
        let caller = context.caller
        return try await context.transaction { conn in
            guard let booking = try await BookingRepository.find(conn, agency: caller.agencyId, id: id, owner: caller.ownerScope, forUpdate: true)
            else {
                throw Self.notFound
            }
            guard booking.status == .confirmed else { throw APIError(.bookingAlreadyCancelled) }
            let cancelled = try await BookingRepository.cancel(conn, agency: caller.agencyId, id: id)
            let audit = AuditLog.Entry(caller, "booking.cancel", "booking", id)
            try await Outbox.emit(conn, agency: caller.agencyId, type: .bookingCancelled, data: cancelled, recording: audit)
            // A channel block that overlapped this stay no longer conflicts with anything it held.
            try await ChannelConflicts.reconcile(conn, agency: caller.agencyId, propertyId: cancelled.propertyId, user: caller.userId)
            return .json(cancelled)
        }
    }
}
