import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// `GET /ical/{token}.ics` (SPEC §12): a connection's nights for the channel to import, without
/// credentials (the token is the secret). Channels poll it often, so it is one statement (`app_ical_feed`) and
/// an `ETag` that lets an unchanged calendar answer 304 with no body.
struct ICalFeedController {
    static let productId = "-//Innkeep//Innkeep Channel Sync//EN"

    func addRoutes(to routes: RouteBuilder) {
        routes.anonymous(API.icalFeed, feed)
    }

    @Sendable func feed(_ call: Call) async throws -> Reply {
        guard let raw = call.context.parameters.get("token"), let token = FeedToken(raw) else {
            throw APIError.validation("token", "must be the 96 hexadecimal digits of an export_url")
        }
        guard let feed = try await ICalFeedRepository.feed(call.services.db, token: token) else {
            throw APIError(.feedNotFound)
        }
        let body = ICalWriter.render(feed.upcoming, productId: Self.productId)
        let etag = "\"" + SHA256.hash(data: Array(body.utf8)).prefix(16).hexString + "\""
        var headers = HTTPFields()
        headers[.eTag] = etag
        headers[.cacheControl] = "private, max-age=0, must-revalidate"
        if let match = call.request.headers[.ifNoneMatch], Self.matches(match, etag) {
            return Reply(status: .notModified, body: nil, headers: headers)
        }
        headers[.contentType] = "text/calendar; charset=utf-8"
        return Reply(status: .ok, body: body, headers: headers)
    }

    /// `If-None-Match`: a list of tags (weak ones compare equal too), or `*`.
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { tag in
            let t = tag.trimmingCharacters(in: .whitespaces)
            return t == "*" || t == etag || t == "W/" + etag
        }
    }
}
