import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address as bytes, and whether it is a public unicast destination.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    /// A numeric literal (`127.0.0.1`, `::1`, `::ffff:10.0.0.1`); nil for a name.
    public init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(withUnsafeBytes(of: v4) { Array($0) })
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: v6) { Array($0) })
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .v4(let b): return b.map(String.init).joined(separator: ".")
        case .v6(let b):
            var addr = in6_addr()
            withUnsafeMutableBytes(of: &addr) { $0.copyBytes(from: b) }
            var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// False for every range that does not reach the public internet (RFC 6890 and the IANA special
    /// registries): unspecified, loopback, private, shared (CGNAT), link-local, multicast, broadcast,
    /// documentation, benchmarking, reserved; IPv6 unique-local, site-local, discard; and any IPv6 form
    /// that embeds an IPv4 address (mapped, compatible, NAT64, 6to4) is judged by that address.
    public var isPublic: Bool {
        switch self {
        case .v4(let b): return Self.isPublicV4(b)
        case .v6(let b):
            let zeros10 = b[0..<10].allSatisfy { $0 == 0 }
            // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible, deprecated); :: and ::1 are caught below.
            if zeros10, b[10] == 0xff, b[11] == 0xff { return Self.isPublicV4(Array(b[12..<16])) }
            if zeros10, b[10] == 0, b[11] == 0, !b[12..<15].allSatisfy({ $0 == 0 }) { return Self.isPublicV4(Array(b[12..<16])) }
            if b.allSatisfy({ $0 == 0 }) { return false }  // ::
            if b[0..<15].allSatisfy({ $0 == 0 }), b[15] == 1 { return false }  // ::1
            // 64:ff9b::/96 NAT64 and 64:ff9b:1::/48 local NAT64 translate to the embedded IPv4 address.
            if b[0] == 0x00, b[1] == 0x64, b[2] == 0xff, b[3] == 0x9b {
                return b[4...11].allSatisfy({ $0 == 0 }) ? Self.isPublicV4(Array(b[12..<16])) : false
            }
            if b[0] == 0x20, b[1] == 0x02 { return Self.isPublicV4(Array(b[2..<6])) }  // 2002::/16 6to4
            if b[0] == 0xff { return false }  // multicast
            if b[0] == 0xfe, b[1] & 0xc0 == 0x80 { return false }  // fe80::/10 link-local
            if b[0] == 0xfe, b[1] & 0xc0 == 0xc0 { return false }  // fec0::/10 site-local
            if b[0] & 0xfe == 0xfc { return false }  // fc00::/7 unique local
            if b[0] == 0x01, b[1...7].allSatisfy({ $0 == 0 }) { return false }  // 100::/64 discard
            if b[0] == 0x20, b[1] == 0x01, b[2] == 0x0d, b[3] == 0xb8 { return false }  // 2001:db8::/32 documentation
            if b[0] == 0x20, b[1] == 0x01, b[2] == 0x00, b[3] == 0x00 { return false }  // 2001::/32 Teredo
            // Global unicast is 2000::/3; everything else is reserved.
            return b[0] & 0xe0 == 0x20
        }
    }

    private static func isPublicV4(_ b: [UInt8]) -> Bool {
        let (a, b1, c) = (b[0], b[1], b[2])
        switch a {
        case 0, 10, 127: return false  // this network, private, loopback
        case 100 where b1 & 0xc0 == 64: return false  // 100.64/10 shared (CGNAT)
        case 169 where b1 == 254: return false  // link-local (cloud metadata)
        case 172 where b1 & 0xf0 == 16: return false  // 172.16/12
        case 192 where b1 == 168: return false  // 192.168/16
        case 192 where b1 == 0 && (c == 0 || c == 2): return false  // 192.0.0/24 protocol, 192.0.2/24 documentation
        case 192 where b1 == 88 && c == 99: return false  // 6to4 relay anycast
        case 198 where b1 & 0xfe == 18: return false  // 198.18/15 benchmarking
        case 198 where b1 == 51 && c == 100: return false  // documentation
        case 203 where b1 == 0 && c == 113: return false  // documentation
        case 224...255: return false  // multicast, reserved, broadcast
        default: return true
        }
    }
}
