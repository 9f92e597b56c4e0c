import Foundation

/// Reads iCalendar (RFC 5545) feeds as channels really write them (SPEC §12): CRLF or LF, folded lines,
/// parameters, `DATE` and `DATE-TIME` values (UTC, `TZID`, floating), missing or non-positive `DTEND`
/// as one night, `STATUS:CANCELLED` and past events ignored, a broken event skipped and counted.
public enum ICalParser {
    public struct Feed: Sendable, Equatable {
        /// Current events, one per UID (the first one wins).
        public var events: [ImportedEvent] = []
        /// Events that could not be read (no usable start, longer than a block may be, a repeated UID).
        public var skipped = 0
    }

    /// The body is not a calendar at all (an HTML login page, JSON, an empty answer).
    public struct NotACalendar: Error, CustomStringConvertible {
        public var description: String { "the response is not an iCalendar (no BEGIN:VCALENDAR)" }
    }

    public static func parse(_ text: String, timeZone: TimeZone, today: CalendarDate) throws(NotACalendar) -> Feed {
        let lines = unfold(text)
        guard lines.contains(where: { $0.uppercased() == "BEGIN:VCALENDAR" }) else { throw NotACalendar() }
        var feed = Feed()
        var seen = Set<String>()
        var event: [ContentLine]?
        var nested = 0  // components inside an event (VALARM) are not the event's properties
        for raw in lines {
            let upper = raw.uppercased()
            if upper == "BEGIN:VEVENT", event == nil {
                event = []
                nested = 0
                continue
            }
            guard event != nil else { continue }
            if upper.hasPrefix("BEGIN:") {
                nested += 1
                continue
            }
            if upper.hasPrefix("END:"), nested > 0 {
                nested -= 1
                continue
            }
            if upper == "END:VEVENT" {
                switch read(event!, timeZone: timeZone) {
                case .event(let e) where e.nights.end > today:
                    if seen.insert(e.uid).inserted { feed.events.append(e) } else { feed.skipped += 1 }
                case .event, .ignored: break
                case .broken: feed.skipped += 1
                }
                event = nil
                continue
            }
            if nested == 0, let line = ContentLine(raw) { event!.append(line) }
        }
        return feed
    }

    /// Lines with folding undone (a line that starts with a space or tab continues the previous one).
    /// Works on bytes: in Swift "\r\n" is one Character, so splitting the String on "\n" would miss it.
    static func unfold(_ text: String) -> [String] {
        var lines: [[UInt8]] = []
        for var line in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            if line.last == 0x0D { line = line.dropLast() }
            if let first = line.first, first == 0x20 || first == 0x09, !lines.isEmpty {
                lines[lines.count - 1] += line.dropFirst()
            } else if !line.isEmpty {
                lines.append(Array(line))
            }
        }
        if let first = lines.first, first.starts(with: [0xEF, 0xBB, 0xBF]) { lines[0].removeFirst(3) }
        return lines.map { String(decoding: $0, as: UTF8.self) }
    }

    enum Outcome {
        case event(ImportedEvent)
        case ignored
        case broken
    }

    static func read(_ lines: [ContentLine], timeZone: TimeZone) -> Outcome {
        func first(_ name: String) -> ContentLine? { lines.first { $0.name == name } }
        if first("STATUS")?.value.uppercased() == "CANCELLED" { return .ignored }
        guard let startLine = first("DTSTART"), let start = date(startLine, in: timeZone) else { return .broken }
        var end = first("DTEND").flatMap { date($0, in: timeZone) }
        if end == nil, let duration = first("DURATION").flatMap({ days(inDuration: $0.value) }) { end = start + duration }
        let last = end.flatMap { $0 > start ? $0 : nil } ?? start + 1
        guard last - start <= BlockController.maxNights else { return .broken }
        let uid = first("UID")?.value.trimmingCharacters(in: .whitespaces) ?? ""
        // A feed without UIDs still mirrors: its events are known by their nights.
        return .event(ImportedEvent(uid: uid.isEmpty ? "innkeep-nouid:\(start)/\(last)" : String(uid.prefix(1000)), nights: Nights(start, last)))
    }

    /// The night a `DTSTART`/`DTEND` falls on in the property's time zone: a `DATE` as written; a UTC or
    /// `TZID` date-time converted; a floating date-time as written (it means the property's local time).
    static func date(_ line: ContentLine, in timeZone: TimeZone) -> CalendarDate? {
        let v = line.value.trimmingCharacters(in: .whitespaces)
        let digits = v.prefix(8)
        guard digits.count == 8, digits.allSatisfy(\.isASCII),
            let day = CalendarDate("\(digits.prefix(4))-\(digits.dropFirst(4).prefix(2))-\(digits.suffix(2))")
        else { return nil }
        guard v.count > 8 else { return day }
        let time = v.dropFirst(8)
        guard time.first == "T", time.count >= 7, let hh = Int(time.dropFirst().prefix(2)), let mm = Int(time.dropFirst(3).prefix(2)),
            let ss = Int(time.dropFirst(5).prefix(2)), (0...23).contains(hh), (0...59).contains(mm), (0...60).contains(ss)
        else { return nil }
        let source: TimeZone?
        if time.hasSuffix("Z") {
            source = TimeZone(identifier: "UTC")
        } else if let tzid = line.parameters["TZID"], let zone = TimeZone(identifier: tzid) {
            source = zone
        } else {
            source = nil
        }  // floating, or a TZID we do not know: the property's local time
        guard let source, source != timeZone else { return day }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = source
        let components = DateComponents(year: day.year, month: day.month, day: day.day, hour: hh, minute: mm, second: min(ss, 59))
        guard let instant = calendar.date(from: components) else { return nil }
        return CalendarDate(instant, in: timeZone)
    }

    /// Whole days of an RFC 5545 duration such as `P3D` or `P1W` (times within a day are dropped).
    static func days(inDuration value: String) -> Int? {
        var v = Substring(value.uppercased())
        guard v.first == "P" else { return nil }
        v = v.dropFirst()
        if let w = v.firstIndex(of: "W"), let n = Int(v[..<w]) { return n * 7 }
        if let d = v.firstIndex(of: "D"), let n = Int(v[..<d]) { return n }
        return nil
    }
}

/// `NAME;PARAM=value;…:value`, with the name and parameter names uppercased.
struct ContentLine: Equatable {
    let name: String
    let parameters: [String: String]
    let value: String

    init?(_ line: String) {
        var inQuotes = false
        var colon: String.Index?
        for i in line.indices {
            if line[i] == "\"" {
                inQuotes.toggle()
            } else if line[i] == ":", !inQuotes {
                colon = i
                break
            }
        }
        guard let colon else { return nil }
        var parts: [Substring] = []
        var start = line.startIndex
        inQuotes = false
        for i in line[..<colon].indices {
            if line[i] == "\"" {
                inQuotes.toggle()
            } else if line[i] == ";", !inQuotes {
                parts.append(line[start..<i])
                start = line.index(after: i)
            }
        }
        parts.append(line[start..<colon])
        name = parts[0].uppercased()
        guard !name.isEmpty else { return nil }
        var params: [String: String] = [:]
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { continue }
            params[kv[0].uppercased()] = kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        parameters = params
        value = String(line[line.index(after: colon)...])
    }
}
