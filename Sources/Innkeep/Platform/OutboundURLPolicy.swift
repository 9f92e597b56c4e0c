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
        /// The lookup outlasted the limit a save gives it (`check(_:lookUpLimit:)`).
        case slowLookup(host: String, limit: Duration)
        case nonPublic(host: String, address: String)

        public var description: String {
            switch self {
            case .notAURL: "must be an absolute URL with a host"
            case .scheme(let allowed): "must be an \(allowed.joined(separator: " or ")) URL"
            case .unresolvable(let host): "the host \(host) does not resolve"
            case .slowLookup(let host, let limit): "looking the host \(host) up took longer than \(Int(limit / .milliseconds(1))) ms; try again"
            case .nonPublic(let host, let address):
                host == address
                    ? "must not point to a loopback, private, link-local, multicast or reserved address (\(address))"
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

    /// Parses, resolves and classifies every address of the host. `lookUpLimit`: how long a save waits for the lookup
    /// before it answers (`slowLookup`); the worker's fetches and deliveries wait for the resolver, within their own
    /// timeouts.
    public func check(_ raw: String, lookUpLimit: Duration? = nil) async throws(Violation) -> Destination {
        let (url, scheme, host) = try parse(raw)
        let addresses: [IPAddress]
        if let literal = IPAddress(host) {
            addresses = [literal]
        } else {
            let resolved: [IPAddress]
            if let lookUpLimit {
                do { resolved = try await withDeadline(lookUpLimit) { await Self.lookUp(host) } } catch {
                    throw .slowLookup(host: host, limit: lookUpLimit)
                }
            } else {
                resolved = await Self.lookUp(host)
            }
            guard !resolved.isEmpty else { throw .unresolvable(host: host) }
            addresses = resolved
        }
        if !allowPrivate, let bad = addresses.first(where: { !$0.isPublic }) {
            throw .nonPublic(host: host, address: IPAddress(host) != nil ? host : bad.description)
        }
        return Destination(url: url, scheme: scheme, host: host, addresses: addresses.map(\.description))
    }

    /// How long a save (a webhook endpoint's or a channel connection's URL) waits for the lookup of its host: the
    /// resolver's own timeouts add up to 10–30 s. The lookup itself cannot be stopped, and ends on its thread. A
    /// task-local so a test can hold a lookup open past it, or make it short.
    @TaskLocal static var saveLookUpLimit: Duration = .seconds(2)

    /// How `check` looks a host up: `getaddrinfo` on the thread pool (it blocks), an empty answer when the name does
    /// not resolve. A test replaces it for the requests it sends, to hold a lookup open.
    @TaskLocal static var lookUp: @Sendable (String) async -> [IPAddress] = { host in
        (try? await NIOThreadPool.singleton.runIfActive { Self.getaddrinfoLookUp(host) }) ?? []
    }

    private static func getaddrinfoLookUp(_ host: String) -> [IPAddress] {
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
