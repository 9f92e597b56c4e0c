import Foundation

/// Writes the export feed (SPEC §12) in strict RFC 5545: CRLF line ends, lines folded at 75 octets
/// (never inside a UTF-8 sequence), `VALUE=DATE` starts and exclusive ends, stable UIDs.
public enum ICalWriter {
    public struct Event: Sendable {
        public let uid: String
        public let nights: Nights
        public let summary: String
        /// When the booking or block was made: stable, so an unchanged feed keeps its ETag.
        public let stamp: Date
    }

    public static func render(_ events: [Event], productId: String) -> String {
        var lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:\(productId)", "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
        for e in events {
            lines += [
                "BEGIN:VEVENT", "UID:\(escape(e.uid))", "DTSTAMP:\(utc(e.stamp))", "DTSTART;VALUE=DATE:\(compact(e.nights.start))",
                "DTEND;VALUE=DATE:\(compact(e.nights.end))", "SUMMARY:\(escape(e.summary))", "TRANSP:OPAQUE", "END:VEVENT",
            ]
        }
        lines.append("END:VCALENDAR")
        return lines.map(fold).joined()
    }

    /// One content line with its CRLF, folded so that no physical line exceeds 75 octets.
    static func fold(_ line: String) -> String {
        var bytes = Array(line.utf8)[...]
        var out: [UInt8] = []
        var limit = 75
        while bytes.count > limit {
            var cut = bytes.startIndex + limit
            while cut > bytes.startIndex, bytes[cut] & 0xC0 == 0x80 { cut -= 1 }  // not inside a UTF-8 sequence
            out += bytes[..<cut] + [0x0D, 0x0A, 0x20]
            bytes = bytes[cut...]
            limit = 74  // the leading space counts
        }
        out += bytes + [0x0D, 0x0A]
        return String(decoding: out, as: UTF8.self)
    }

    /// TEXT escaping (RFC 5545 §3.3.11).
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ";", with: "\\;")
            .replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func compact(_ date: CalendarDate) -> String { date.description.replacingOccurrences(of: "-", with: "") }

    static func utc(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }
}
