import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// HTTP clients pinned to the addresses `OutboundURLPolicy` approved (AsyncHTTPClient's `dnsOverride`:
/// the TLS name stays the URL's host), one per host and address so connections are reused; bounded.
actor PinnedHTTPClients {
    private var clients: [String: HTTPClient] = [:]
    private var order: [String] = []
    static let capacity = 64

    func client(for destination: OutboundURLPolicy.Destination) -> HTTPClient {
        let key = "\(destination.host)|\(destination.pinnedAddress)"
        if let client = clients[key] { return client }
        var configuration = destination.pinnedClientConfiguration
        configuration.connectionPool = .init(idleTimeout: .seconds(30))
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        clients[key] = client
        order.append(key)
        if order.count > Self.capacity {
            let evicted = order.removeFirst()
            if let old = clients.removeValue(forKey: evicted) {
                Task { try? await old.shutdown() }
            }
        }
        return client
    }

    func shutdown() async {
        for client in clients.values { try? await client.shutdown() }
        clients = [:]
        order = []
    }
}
