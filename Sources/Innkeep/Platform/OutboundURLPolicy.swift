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

/// The one rule for every request Innkeep makes on a customer's behalf (webhooks, SPEC §13; iCal
/// imports, SPEC §12): only the allowed schemes, and only public destinations — a URL whose host is,
/// or resolves to, a loopback, private, link-local, multicast, unspecified or otherwise reserved
/// address (IPv4 and IPv6, IPv4-mapped and other embeddings included) is refused unless
/// `ALLOW_PRIVATE_URLS=true` (development and tests).
///
/// Check at save (a 422 naming the field) and again right before connecting, since DNS can change;
/// connect to the address this check approved (`Destination.pinnedAddress`), so a second, different
/// answer from DNS (rebinding) cannot redirect the request.
public struct OutboundURLPolicy: Sendable {
    /// The schemes allowed when private URLs are not: webhooks `["https"]`, iCal `["http", "https"]`.
    public let schemes: Set<String>
    public let allowPrivate: Bool

    public init(schemes: Set<String>, allowPrivate: Bool) {
        self.schemes = schemes
        self.allowPrivate = allowPrivate
    }

    /// Webhook receivers: https and public; `ALLOW_PRIVATE_URLS=true` also admits plain http (a test
    /// receiver on loopback speaks no TLS).
    public static func webhooks(allowPrivate: Bool) -> OutboundURLPolicy {
        OutboundURLPolicy(schemes: allowPrivate ? ["http", "https"] : ["https"], allowPrivate: allowPrivate)
    }

    /// Why a URL is refused; `description` is safe to show to the client that sent the URL.
    public enum Violation: Error, Sendable, Equatable, CustomStringConvertible {
        case notAURL
        case scheme(allowed: [String])
        case unresolvable(host: String)
        case nonPublic(host: String, address: String)

        public var description: String {
            switch self {
            case .notAURL: "must be an absolute URL with a host"
            case .scheme(let allowed): "must be an \(allowed.joined(separator: " or ")) URL"
            case .unresolvable(let host): "the host \(host) does not resolve"
            case .nonPublic(let host, let address):
                host == address ? "must not point to a loopback, private, link-local, multicast or reserved address (\(address))"
                    : "the host \(host) resolves to \(address), a loopback, private, link-local, multicast or reserved address"
            }
        }
    }

    /// A URL that passed: where to connect.
    public struct Destination: Sendable {
        public let url: URL
        public let scheme: String
        /// The host as written (brackets stripped from an IPv6 literal).
        public let host: String
        /// Every address the host resolved to (numeric), all of them allowed.
        public let addresses: [String]
        /// The address to connect to (the first one resolved).
        public var pinnedAddress: String { addresses[0] }
    }

    /// Parses the URL and checks its scheme, without resolving it.
    public func parse(_ raw: String) throws(Violation) -> (url: URL, scheme: String, host: String) {
        guard let components = URLComponents(string: raw), let scheme = components.scheme?.lowercased(),
              let url = components.url, var host = components.host, !host.isEmpty
        else {
            throw .notAURL
        }
        guard schemes.contains(scheme) else { throw .scheme(allowed: schemes.sorted().reversed()) }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        host = host.removingPercentEncoding ?? host
        guard !host.isEmpty, !host.contains(where: { $0.isWhitespace || $0 == "\0" || $0 == "/" }) else { throw .notAURL }
        return (url, scheme, host)
    }

    /// Parses, resolves and classifies every address of the host.
    public func check(_ raw: String) async throws(Violation) -> Destination {
        let (url, scheme, host) = try parse(raw)
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            let resolved = await Self.resolve(host)
            guard !resolved.isEmpty else { throw .unresolvable(host: host) }
            addresses = resolved
        }
        if !allowPrivate, let bad = addresses.first(where: { !$0.isPublic }) {
            throw .nonPublic(host: host, address: IPAddress(host) != nil ? host : bad.description)
        }
        return Destination(url: url, scheme: scheme, host: host, addresses: addresses.map(\.description))
    }

    /// `getaddrinfo` on the thread pool (it blocks); an empty answer when the name does not resolve.
    static func resolve(_ host: String) async -> [IPAddress] {
        (try? await NIOThreadPool.singleton.runIfActive { Self.lookup(host) }) ?? []
    }

    private static func lookup(_ host: String) -> [IPAddress] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Darwin)
        hints.ai_socktype = SOCK_STREAM
        #else
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #endif
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &result) == 0, let first = result else { return [] }
        defer { freeaddrinfo(first) }
        var addresses: [IPAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let info = cursor {
            if let sa = info.pointee.ai_addr {
                switch Int32(sa.pointee.sa_family) {
                case AF_INET:
                    let v4 = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
                    addresses.append(.v4(withUnsafeBytes(of: v4) { Array($0) }))
                case AF_INET6:
                    let v6 = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_addr }
                    addresses.append(.v6(withUnsafeBytes(of: v6) { Array($0) }))
                default: break
                }
            }
            cursor = info.pointee.ai_next
        }
        var seen = Set<IPAddress>()
        return addresses.filter { seen.insert($0).inserted }
    }
}

/// An IPv4 or IPv6 address as bytes, and whether it is a public unicast destination.
public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
    case v4([UInt8])
    case v6([UInt8])

    /// A numeric literal (`127.0.0.1`, `::1`, `::ffff:10.0.0.1`); nil for a name.
    public init?(_ text: String) {
        var v4 = in_addr(), v6 = in6_addr()
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
            if b.allSatisfy({ $0 == 0 }) { return false }                              // ::
            if b[0..<15].allSatisfy({ $0 == 0 }), b[15] == 1 { return false }          // ::1
            // 64:ff9b::/96 NAT64 and 64:ff9b:1::/48 local NAT64 translate to the embedded IPv4 address.
            if b[0] == 0x00, b[1] == 0x64, b[2] == 0xff, b[3] == 0x9b {
                return b[4...11].allSatisfy({ $0 == 0 }) ? Self.isPublicV4(Array(b[12..<16])) : false
            }
            if b[0] == 0x20, b[1] == 0x02 { return Self.isPublicV4(Array(b[2..<6])) }  // 2002::/16 6to4
            if b[0] == 0xff { return false }                                          // multicast
            if b[0] == 0xfe, b[1] & 0xc0 == 0x80 { return false }                     // fe80::/10 link-local
            if b[0] == 0xfe, b[1] & 0xc0 == 0xc0 { return false }                     // fec0::/10 site-local
            if b[0] & 0xfe == 0xfc { return false }                                   // fc00::/7 unique local
            if b[0] == 0x01, b[1...7].allSatisfy({ $0 == 0 }) { return false }        // 100::/64 discard
            if b[0] == 0x20, b[1] == 0x01, b[2] == 0x0d, b[3] == 0xb8 { return false } // 2001:db8::/32 documentation
            if b[0] == 0x20, b[1] == 0x01, b[2] == 0x00, b[3] == 0x00 { return false } // 2001::/32 Teredo
            // Global unicast is 2000::/3; everything else is reserved.
            return b[0] & 0xe0 == 0x20
        }
    }

    private static func isPublicV4(_ b: [UInt8]) -> Bool {
        let (a, b1, c) = (b[0], b[1], b[2])
        switch a {
        case 0, 10, 127: return false                         // this network, private, loopback
        case 100 where b1 & 0xc0 == 64: return false          // 100.64/10 shared (CGNAT)
        case 169 where b1 == 254: return false                // link-local (cloud metadata)
        case 172 where b1 & 0xf0 == 16: return false          // 172.16/12
        case 192 where b1 == 168: return false                // 192.168/16
        case 192 where b1 == 0 && (c == 0 || c == 2): return false  // 192.0.0/24 protocol, 192.0.2/24 documentation
        case 192 where b1 == 88 && c == 99: return false      // 6to4 relay anycast
        case 198 where b1 & 0xfe == 18: return false          // 198.18/15 benchmarking
        case 198 where b1 == 51 && c == 100: return false     // documentation
        case 203 where b1 == 0 && c == 113: return false      // documentation
        case 224...255: return false                          // multicast, reserved, broadcast
        default: return true
        }
    }
}
