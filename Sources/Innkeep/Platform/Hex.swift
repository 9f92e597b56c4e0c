extension Sequence<UInt8> {
    /// Lowercase hexadecimal, two digits per byte: digests as keys, ETags and checksums. Written digit by digit
    /// (`String(format: "%02x")` per byte went through `vfprintf` 32 times per idempotent request).
    var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
