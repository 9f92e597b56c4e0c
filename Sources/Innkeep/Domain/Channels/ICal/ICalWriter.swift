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

    /// The feed, written line by line into one byte buffer (docs/benchmarks.md: the export built an array
    /// of `String`s and folded each through a fresh array).
    public static func render(_ events: [Event], productId: String) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256 + events.count * 240)
        var line: [UInt8] = []
        line.reserveCapacity(128)
        func put(_ parts: String...) {
            line.removeAll(keepingCapacity: true)
            for part in parts { line.append(contentsOf: part.utf8) }
            appendFolded(line, to: &out)
        }
        put("BEGIN:VCALENDAR")
        put("VERSION:2.0")
        put("PRODID:", productId)
        put("CALSCALE:GREGORIAN")
        put("METHOD:PUBLISH")
        for e in events {
            put("BEGIN:VEVENT")
            put("UID:", escape(e.uid))
            put("DTSTAMP:", utc(e.stamp))
            put("DTSTART;VALUE=DATE:", compact(e.nights.start))
            put("DTEND;VALUE=DATE:", compact(e.nights.end))
            put("SUMMARY:", escape(e.summary))
            put("TRANSP:OPAQUE")
            put("END:VEVENT")
        }
        put("END:VCALENDAR")
        return String(decoding: out, as: UTF8.self)
    }

    /// One content line with its CRLF, folded so that no physical line exceeds 75 octets.
    static func fold(_ line: String) -> String {
        var out: [UInt8] = []
        appendFolded(Array(line.utf8), to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `line` and its CRLF to `out`, folded at 75 octets (never inside a UTF-8 sequence).
    static func appendFolded(_ line: [UInt8], to out: inout [UInt8]) {
        var bytes = line[...]
        var limit = 75
        while bytes.count > limit {
            var cut = bytes.startIndex + limit
            while cut > bytes.startIndex, bytes[cut] & 0xC0 == 0x80 { cut -= 1 }  // not inside a UTF-8 sequence
            out.append(contentsOf: bytes[..<cut])
            out.append(contentsOf: [0x0D, 0x0A, 0x20])
            bytes = bytes[cut...]
            limit = 74  // the leading space counts
        }
        out.append(contentsOf: bytes)
        out.append(contentsOf: [0x0D, 0x0A])
    }

    /// TEXT escaping (RFC 5545 §3.3.11). Most texts (UIDs, the two summaries) need none: returned as they are.
    static func escape(_ text: String) -> String {
        let special = { (b: UInt8) in b == UInt8(ascii: "\\") || b == UInt8(ascii: ";") || b == UInt8(ascii: ",") || b == UInt8(ascii: "\n") }
        guard text.utf8.contains(where: special) else { return text }
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
        return ASCIIWriter.string(capacity: 16) { w in
            w.put(Int(t.tm_year) + 1900, width: 4)
            w.put(Int(t.tm_mon) + 1, width: 2)
            w.put(Int(t.tm_mday), width: 2)
            w.put("T")
            w.put(Int(t.tm_hour), width: 2)
            w.put(Int(t.tm_min), width: 2)
            w.put(Int(t.tm_sec), width: 2)
            w.put("Z")
        }
    }
}
