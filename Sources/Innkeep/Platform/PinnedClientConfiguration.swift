import AsyncHTTPClient

extension OutboundURLPolicy.Destination {
    /// AsyncHTTPClient settings for a request to this destination: connect to the address the policy
    /// approved (the TLS name stays the URL's host, so a second DNS answer cannot redirect it), follow no
    /// redirect, decompress nothing, 10 s to connect and between reads. Webhooks and iCal fetches share it.
    var pinnedClientConfiguration: HTTPClient.Configuration {
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .seconds(10), read: .seconds(10)),
            decompression: .disabled
        )
        if IPAddress(host) == nil { configuration.dnsOverride = [host: pinnedAddress] }
        return configuration
    }
}
