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

    /// TEXT escaping (RFC 5545 §3.3.11). Most texts (UIDs, the two summaries) need none: returned as they are.
    static func escape(_ text: String) -> String {
        let special: Set<UInt8> = [UInt8(ascii: "\\"), UInt8(ascii: ";"), UInt8(ascii: ","), UInt8(ascii: "\n")]
        guard text.utf8.contains(where: special.contains) else { return text }
        return text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: ";", with: "\\;")
            .replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: "\n", with: "\\n")
    }

    static func compact(_ date: CalendarDate) -> String { String(decoding: date.description.utf8.filter { $0 != UInt8(ascii: "-") }, as: UTF8.self) }

    /// `YYYYMMDDTHHMMSSZ`, the whole seconds of `date` in UTC, written digit by digit: a feed has one per
    /// event, and a Foundation `Calendar` and `String(format:)` per event were the export's hot spot
    /// (docs/benchmarks.md).
    static func utc(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970.rounded(.down))
        var t = tm()
        gmtime_r(&time, &t)
        var out: [UInt8] = []
        out.reserveCapacity(16)
        func put(_ value: Int32, _ width: Int) {
            var digits = [UInt8](repeating: UInt8(ascii: "0"), count: width)
            var v = Int(value)
            for k in stride(from: width - 1, through: 0, by: -1) {
                digits[k] = UInt8(ascii: "0") + UInt8(v % 10)
                v /= 10
            }
            out += digits
        }
        put(t.tm_year + 1900, 4)
        put(t.tm_mon + 1, 2)
        put(t.tm_mday, 2)
        out.append(UInt8(ascii: "T"))
        put(t.tm_hour, 2)
        put(t.tm_min, 2)
        put(t.tm_sec, 2)
        out.append(UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }
}
