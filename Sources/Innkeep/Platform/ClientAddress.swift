#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which address a request comes from, for the per-address limit on the anonymous auth endpoints (SPEC
/// §14). The peer's address, unless the peer is a trusted proxy: then the right-most `X-Forwarded-For`
/// entry that is not itself a trusted proxy (entries further left are whatever the client wrote).
public enum ClientAddress {
    public static func resolve(peer: String?, forwardedFor: String?, trusted: [IPNetwork]) -> String {
        guard let peer, let peerBytes = IPNetwork.parse(peer) else { return peer ?? "unknown" }
        func isTrusted(_ bytes: [UInt8]) -> Bool { trusted.contains { $0.contains(bytes) } }
        guard isTrusted(peerBytes), let forwardedFor else { return peer }
        var client = peer
        for entry in forwardedFor.split(separator: ",").reversed() {
            let candidate = String(entry).stripping(" ")
            guard let bytes = IPNetwork.parse(candidate) else { return client }
            client = candidate
            if !isTrusted(bytes) { return candidate }
        }
        return client
    }
}
