/// Fills a fixed-size text left to right with zero-padded numbers and ASCII characters: the timestamps
/// and dates of responses, logs and feeds, written without `String(format:)` (docs/benchmarks.md).
struct ASCIIWriter {
    private let out: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0

    /// The text `body` writes, at most `capacity` bytes.
    static func string(capacity: Int, _ body: (inout ASCIIWriter) -> Void) -> String {
        String(unsafeUninitializedCapacity: capacity) { out in
            var w = ASCIIWriter(out: out)
            body(&w)
            return w.count
        }
    }

    private init(out: UnsafeMutableBufferPointer<UInt8>) { self.out = out }

    /// `value` (not negative) as exactly `width` decimal digits, zero-padded on the left.
    mutating func put(_ value: Int, width: Int) {
        var v = value
        for k in stride(from: count + width - 1, through: count, by: -1) {
            out[k] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        }
        count += width
    }

    mutating func put(_ c: Unicode.Scalar) {
        out[count] = UInt8(ascii: c)
        count += 1
    }
}
