/// Feeds in the shapes channels really publish (SPEC §12), for the parser and sync tests.
/// `crlf` turns the LF-joined text into CRLF, as most channels send it.
enum ICalFixtures {
    static func crlf(_ text: String) -> String { text.replacingOccurrences(of: "\n", with: "\r\n") }

    /// Airbnb: a reservation with a folded DESCRIPTION, and a blocked window.
    static func airbnb(
        reservedUID: String = "1418fb94e984-a9d0f2a5c3d0e2d3b1f3f2d6e7a4c0c8@airbnb.com",
        blockedUID: String = "f6c0b2a3e1d9-airbnb-blocked@airbnb.com",
        reserved: (String, String) = ("20310705", "20310710"),
        blocked: (String, String) = ("20310801", "20310804")
    ) -> String {
        crlf(
            """
            BEGIN:VCALENDAR
            PRODID:-//Airbnb Inc//Hosting Calendar 0.8.8//EN
            CALSCALE:GREGORIAN
            VERSION:2.0
            BEGIN:VEVENT
            DTEND;VALUE=DATE:\(reserved.1)
            DTSTART;VALUE=DATE:\(reserved.0)
            UID:\(reservedUID)
            DESCRIPTION:Reservation URL: https://www.airbnb.com/hosting/reservations/det
             ails/HMABCDEFGH\\nPhone Number (Last 4 Digits): 1234
            SUMMARY:Reserved
            END:VEVENT
            BEGIN:VEVENT
            DTEND;VALUE=DATE:\(blocked.1)
            DTSTART;VALUE=DATE:\(blocked.0)
            UID:\(blockedUID)
            SUMMARY:Airbnb (Not available)
            END:VEVENT
            END:VCALENDAR

            """
        )
    }

    /// Booking.com: closed nights, LF line ends.
    static let bookingCom = """
        BEGIN:VCALENDAR
        VERSION:2.0
        PRODID:-//admin.booking.com//EN
        BEGIN:VEVENT
        UID:7d5e3a1c-booking-1@booking.com
        DTSTAMP:20310101T000000Z
        DTSTART;VALUE=DATE:20310901
        DTEND;VALUE=DATE:20310903
        SUMMARY:CLOSED - Not available
        END:VEVENT
        END:VCALENDAR
        """

    /// Vrbo/HomeAway: a cancelled event (ignored), a past one (ignored) and one without DTEND (one night).
    static let vrbo = crlf(
        """
        BEGIN:VCALENDAR
        PRODID:-//HomeAway.com, Inc.//EN
        VERSION:2.0
        BEGIN:VEVENT
        UID:vrbo-cancelled
        DTSTART;VALUE=DATE:20311001
        DTEND;VALUE=DATE:20311005
        STATUS:CANCELLED
        SUMMARY:Reserved
        END:VEVENT
        BEGIN:VEVENT
        UID:vrbo-past
        DTSTART;VALUE=DATE:20200101
        DTEND;VALUE=DATE:20200105
        SUMMARY:Reserved
        END:VEVENT
        BEGIN:VEVENT
        UID:vrbo-one-night
        DTSTART;VALUE=DATE:20311010
        SUMMARY:Blocked
        END:VEVENT
        END:VCALENDAR
        """
    )

    /// A Google/Outlook export: TZID and UTC date-times, an alarm inside the event, a broken event.
    static let google = crlf(
        """
        BEGIN:VCALENDAR
        PRODID:-//Google Inc//Google Calendar 70.9054//EN
        VERSION:2.0
        BEGIN:VTIMEZONE
        TZID:America/New_York
        END:VTIMEZONE
        BEGIN:VEVENT
        DTSTART;TZID=America/New_York:20311101T150000
        DTEND;TZID=America/New_York:20311104T110000
        UID:google-tzid@google.com
        SUMMARY:Owner visit
        BEGIN:VALARM
        ACTION:DISPLAY
        DTSTART:19700101T000000
        END:VALARM
        END:VEVENT
        BEGIN:VEVENT
        DTSTART:20311110T230000Z
        DTEND:20311112T100000Z
        UID:google-utc@google.com
        END:VEVENT
        BEGIN:VEVENT
        DTSTART:not-a-date
        UID:google-broken@google.com
        END:VEVENT
        BEGIN:VEVENT
        DTSTART;VALUE=DATE:20311120
        DTEND;VALUE=DATE:20311118
        UID:google-reversed@google.com
        END:VEVENT
        END:VCALENDAR
        """
    )

    static let empty = crlf(
        """
        BEGIN:VCALENDAR
        VERSION:2.0
        PRODID:-//Example//Empty//EN
        END:VCALENDAR
        """
    )

    static let loginPage = "<!DOCTYPE html><html><head><title>Sign in</title></head><body><form>…</form></body></html>"
}
