import Foundation

/// RFC 3339 UTC timestamps with microseconds, as Postgres stores them.
public enum RFC3339 {
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` written digit by digit into one buffer (every timestamp of every
    /// response and log line comes through here).
    private static func format(_ t: tm, fraction: Int) -> String {
        String(unsafeUninitializedCapacity: 27) { buffer in
            var i = 0
            func put(_ value: Int, _ width: Int) {
                var v = value
                for k in stride(from: width - 1, through: 0, by: -1) {
                    buffer[i + k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                i += width
            }
            func put(_ c: Unicode.Scalar) {
                buffer[i] = UInt8(ascii: c)
                i += 1
            }
            put(Int(t.tm_year) + 1900, 4)
            put("-")
            put(Int(t.tm_mon) + 1, 2)
            put("-")
            put(Int(t.tm_mday), 2)
            put("T")
            put(Int(t.tm_hour), 2)
            put(":")
            put(Int(t.tm_min), 2)
            put(":")
            put(Int(t.tm_sec), 2)
            put(".")
            put(fraction, 6)
            put("Z")
            return i
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
