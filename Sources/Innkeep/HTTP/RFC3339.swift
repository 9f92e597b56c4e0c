import Foundation

/// RFC 3339 UTC timestamps with microseconds, as Postgres stores them.
public enum RFC3339 {
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` written digit by digit into one buffer (every timestamp of every
    /// response and log line comes through here).
    private static func format(_ t: tm, fraction: Int) -> String {
        ASCIIWriter.string(capacity: 27) { w in
            w.put(Int(t.tm_year) + 1900, width: 4)
            w.put("-")
            w.put(Int(t.tm_mon) + 1, width: 2)
            w.put("-")
            w.put(Int(t.tm_mday), width: 2)
            w.put("T")
            w.put(Int(t.tm_hour), width: 2)
            w.put(":")
            w.put(Int(t.tm_min), width: 2)
            w.put(":")
            w.put(Int(t.tm_sec), width: 2)
            w.put(".")
            w.put(fraction, width: 6)
            w.put("Z")
        }
    }

    public static func format(_ date: Date) -> String {
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = Int(micros.quotientAndRemainder(dividingBy: 1_000_000).quotient) - (micros < 0 && micros % 1_000_000 != 0 ? 1 : 0)
        let fraction = Int(micros - Int64(seconds) * 1_000_000)
        var t = tm()
        var time = time_t(seconds)
        gmtime_r(&time, &t)
        if (0...9999).contains(t.tm_year + 1900) { return format(t, fraction: fraction) }
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        let f = String(fraction)
        let date = "\(pad(t.tm_year + 1900, 4))-\(pad(t.tm_mon + 1, 2))-\(pad(t.tm_mday, 2))"
        let clock = "\(pad(t.tm_hour, 2)):\(pad(t.tm_min, 2)):\(pad(t.tm_sec, 2))"
        return "\(date)T\(clock).\(String(repeating: "0", count: 6 - f.count) + f)Z"
    }
}
