import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Fetches a channel's feed (SPEC §12): `User-Agent: Innkeep/<version>`, conditional headers from the
/// last answer, 10 s for the whole exchange, at most 5 MiB, at most 3 redirects followed by hand so that
/// every hop passes `OutboundURLPolicy` again (the destination is re-resolved and pinned each time).
public struct ICalFetcher: Sendable {
    public enum Result: Sendable, Equatable {
        case notModified
        case fetched(body: String, etag: String?, lastModified: String?)
    }

    /// Why a fetch failed, in words safe for `last_error` (no credentials from the URL).
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let description: String
    }

    public static let maxBytes = 5 * 1024 * 1024
    public static let maxRedirects = 3
    let policy: OutboundURLPolicy
    let timeout: Duration
    let userAgent: String

    public init(allowPrivate: Bool, timeout: Duration = .seconds(10), version: String) {
        policy = .icalFeeds(allowPrivate: allowPrivate)
        self.timeout = timeout
        userAgent = "Innkeep/\(version)"
    }

    public func fetch(_ url: String, etag: String?, lastModified: String?) async throws(Failure) -> Result {
        do {
            return try await withDeadline(timeout) { try await self.follow(url, etag: etag, lastModified: lastModified) }
        } catch let failure as Failure {
            throw failure
        } catch is DeadlineExceeded {
            throw Failure(description: "timed out after \(timeout.components.seconds) s")
        } catch let error as HTTPClientError where [.deadlineExceeded, .readTimeout, .connectTimeout].contains(error) {
            // AsyncHTTPClient's own timer, set to the same bound, can fire first: the same failure.
            throw Failure(description: "timed out after \(timeout.components.seconds) s")
        } catch {
            throw Failure(description: "request failed: \(Self.describe(error))")
        }
    }

    private func follow(_ start: String, etag: String?, lastModified: String?) async throws -> Result {
        var url = start
        for hop in 0...Self.maxRedirects {
            let destination: OutboundURLPolicy.Destination
            do { destination = try await policy.check(url) } catch { throw Failure(description: "destination refused: \(error.description)") }
            var request = HTTPClientRequest(url: destination.url.absoluteString)
            request.headers.add(name: "User-Agent", value: userAgent)
            request.headers.add(name: "Accept", value: "text/calendar, */*;q=0.5")
            if let etag { request.headers.add(name: "If-None-Match", value: etag) }
            if let lastModified { request.headers.add(name: "If-Modified-Since", value: lastModified) }
            // A client per hop, pinned to the address the policy approved (the TLS name stays the URL's
            // host): a feed is fetched every half hour at most, so there is no connection worth keeping.
            let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: destination.pinnedClientConfiguration)
            let answer: Hop
            do {
                answer = try await self.hop(client, request, base: destination.url)
                try await client.shutdown()
            } catch {
                try? await client.shutdown()
                throw error
            }
            switch answer {
            case .done(let result): return result
            case .redirect(let next):
                guard hop < Self.maxRedirects else { throw Failure(description: "more than \(Self.maxRedirects) redirects") }
                url = next
            }
        }
        throw Failure(description: "more than \(Self.maxRedirects) redirects")
    }

    private enum Hop {
        case done(Result)
        case redirect(String)
    }

    private func hop(_ client: HTTPClient, _ request: HTTPClientRequest, base: URL) async throws -> Hop {
        let response = try await client.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
        switch response.status.code {
        case 304:
            return .done(.notModified)
        case 301, 302, 303, 307, 308:
            guard let location = response.headers.first(name: "Location"),
                let next = URL(string: location, relativeTo: base)?.absoluteURL.absoluteString
            else { throw Failure(description: "redirect (\(response.status.code)) without a usable Location") }
            return .redirect(next)
        case 200..<300:
            if let length = response.headers.first(name: "Content-Length").flatMap(Int.init), length > Self.maxBytes {
                throw Failure(description: "the calendar is larger than 5 MiB")
            }
            var body = ByteBuffer()
            for try await chunk in response.body {
                guard body.readableBytes + chunk.readableBytes <= Self.maxBytes else {
                    throw Failure(description: "the calendar is larger than 5 MiB")
                }
                var chunk = chunk
                body.writeBuffer(&chunk)
            }
            return .done(
                .fetched(
                    body: String(decoding: body.readableBytesView, as: UTF8.self),
                    etag: response.headers.first(name: "ETag"),
                    lastModified: response.headers.first(name: "Last-Modified")
                )
            )
        default:
            throw Failure(description: "the channel answered HTTP \(response.status.code)")
        }
    }

    static func describe(_ error: any Error) -> String {
        if let e = error as? HTTPClientError { return "\(e)" }
        return String(describing: type(of: error))
    }

}
