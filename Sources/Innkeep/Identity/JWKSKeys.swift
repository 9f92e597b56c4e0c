import AsyncHTTPClient
import Foundation
import JWTKit
import Logging
import NIOCore

/// The public keys of `JWT_JWKS_URL` (Supabase: `https://<project>.supabase.co/auth/v1/.well-known/jwks.json`),
/// or of a JWKS file (`/path` or `file:///path`), for `ES256` and `RS256` tokens (SPEC §15).
///
/// Fetched at start; fetched again when a token names a `kid` it does not know (a key the issuer just added),
/// but at most once per `minimumRefreshInterval`, so a flood of made-up `kid`s costs the JWKS URL one request;
/// and, in the background, when the keys are older than `maximumAge` (so a key the issuer revoked stops working).
/// A token is checked only by the key its `kid` names, and only when that key is for the token's `alg`.
public actor JWKSKeys {
    public enum Source: Sendable, Equatable, CustomStringConvertible {
        case url(String)
        case file(String)

        /// `http(s)://…`, `file:///path` or a path.
        public init?(_ text: String) {
            if text.hasPrefix("https://") || text.hasPrefix("http://") {
                guard URL(string: text)?.host != nil else { return nil }
                self = .url(text)
            } else if text.hasPrefix("file://") {
                guard let path = URL(string: text)?.path, !path.isEmpty else { return nil }
                self = .file(path)
            } else if text.hasPrefix("/") || text.hasPrefix(".") {
                self = .file(text)
            } else {
                return nil
            }
        }

        public var description: String {
            switch self {
            case .url(let url): url
            case .file(let path): path
            }
        }
    }

    /// Why the keys could not be loaded, in one line.
    public struct LoadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// A JWKS document larger than this is refused (Supabase's is well under 2 KiB).
    static let maximumSize = 256 * 1024
    static let fetchTimeout: TimeAmount = .seconds(5)

    public let source: Source
    let minimumRefreshInterval: Duration
    let maximumAge: Duration
    private let logger: Logger
    /// The keys by `kid`, and the algorithm each may verify. Replaced whole on each refresh.
    private var keys = JWTKeyCollection()
    private var algorithms: [String: String] = [:]
    private var lastRefresh: ContinuousClock.Instant?
    /// When the keys were last read (or a refresh last failed).
    private var loadedAt = ContinuousClock.now
    private var refreshing: Task<Void, Never>?
    /// Documents read so far (the first load included): tests check the rate limit with it.
    public private(set) var fetches = 0

    public init(source: Source, minimumRefreshInterval: Duration = .seconds(30), maximumAge: Duration = .seconds(600), logger: Logger) {
        self.source = source
        self.minimumRefreshInterval = minimumRefreshInterval
        self.maximumAge = maximumAge
        self.logger = logger
    }

    /// The `kid`s known now.
    public var kids: [String] { algorithms.keys.sorted() }

    /// Reads the keys (at start): throws when the document cannot be read or holds no ES256/RS256 key.
    public func load() async throws(LoadError) {
        try await refresh()
        lastRefresh = nil
    }

    /// Verifies a token whose header says `alg` and `kid`, with that key only.
    func verify(_ token: String, kid: String, alg: String) async throws -> AccessPayload {
        if algorithms[kid] == nil {
            await refreshForUnknownKid()
        } else if ContinuousClock.now - loadedAt >= maximumAge {
            _ = startRefresh()  // this token is checked with the keys known now; later ones with the fresh set
        }
        guard algorithms[kid] == alg else { throw JWTSigner.Failure.algorithm }
        return try await keys.verify(token, as: AccessPayload.self)
    }

    /// One refresh at a time, and none within `minimumRefreshInterval` of the last one caused by an unknown `kid`.
    private func refreshForUnknownKid() async {
        if let refreshing {
            await refreshing.value
            return
        }
        let now = ContinuousClock.now
        if let lastRefresh, now - lastRefresh < minimumRefreshInterval { return }
        lastRefresh = now
        await startRefresh().value
    }

    /// The refresh in flight, or a new one; a failure keeps the keys known (and waits `maximumAge` before the next
    /// background attempt).
    private func startRefresh() -> Task<Void, Never> {
        if let refreshing { return refreshing }
        let task = Task {
            do throws(LoadError) {
                try await self.refresh()
            } catch {
                self.loadedAt = .now
                self.logger.warning("JWKS refresh failed; keeping the keys known", metadata: ["error": "\(error.description)"])
            }
            self.refreshing = nil
        }
        refreshing = task
        return task
    }

    private func refresh() async throws(LoadError) {
        fetches += 1
        let document = try await Self.read(source)
        let jwks: JWKS
        do { jwks = try JSONDecoder().decode(JWKS.self, from: Data(document)) } catch {
            throw LoadError(description: "JWT_JWKS_URL \(source) is not a JWKS document (\(error))")
        }
        let fresh = JWTKeyCollection()
        var found: [String: String] = [:]
        for jwk in jwks.keys {
            guard let kid = jwk.keyIdentifier?.string, let alg = Self.algorithm(of: jwk) else { continue }
            do {
                try await fresh.add(jwk: jwk)
                found[kid] = alg
            } catch {
                logger.warning("skipping a JWKS key that does not load", metadata: ["kid": "\(kid)", "error": "\(error)"])
            }
        }
        guard !found.isEmpty else { throw LoadError(description: "JWT_JWKS_URL \(source) holds no ES256 or RS256 key with a kid") }
        keys = fresh
        loadedAt = .now
        if found != algorithms {
            logger.info("JWKS keys loaded", metadata: ["kids": "\(found.keys.sorted().joined(separator: ","))"])
        }
        algorithms = found
    }

    /// The one algorithm a key may verify: its `alg`, else P-256 → ES256 and RSA → RS256; nil for any other key.
    static func algorithm(of jwk: JWK) -> String? {
        if let alg = jwk.algorithm {
            switch alg {
            case .es256 where jwk.keyType == .ecdsa: return "ES256"
            case .rs256 where jwk.keyType == .rsa: return "RS256"
            default: return nil
            }
        }
        if jwk.keyType == .ecdsa, jwk.curve == .ecdsa(.p256) { return "ES256" }
        if jwk.keyType == .rsa { return "RS256" }
        return nil
    }

    private static func read(_ source: Source) async throws(LoadError) -> [UInt8] {
        switch source {
        case .file(let path):
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw LoadError(description: "JWT_JWKS_URL file \(path) cannot be read")
            }
            defer { try? handle.close() }
            let data = (try? handle.read(upToCount: maximumSize + 1)) ?? Data()
            guard data.count <= maximumSize else { throw LoadError(description: "JWT_JWKS_URL file \(path) is larger than \(maximumSize) bytes") }
            return Array(data)
        case .url(let url):
            do {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Accept", value: "application/json")
                let response = try await HTTPClient.shared.execute(request, timeout: fetchTimeout)
                guard response.status == .ok else {
                    throw LoadError(description: "JWT_JWKS_URL \(url) answered \(response.status.code)")
                }
                let body = try await response.body.collect(upTo: maximumSize)
                return Array(buffer: body)
            } catch let error as LoadError {
                throw error
            } catch let error as NIOTooManyBytesError {
                throw LoadError(description: "JWT_JWKS_URL \(url) sent more than \(maximumSize) bytes (\(error))")
            } catch {
                throw LoadError(description: "JWT_JWKS_URL \(url) cannot be fetched: \(error)")
            }
        }
    }
}
