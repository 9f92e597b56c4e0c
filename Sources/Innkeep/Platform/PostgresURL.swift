import Foundation
import InnkeepRedis
import Logging

/// The parts of a postgres:// URL that PostgresNIO needs, with libpq's `sslmode` and `sslrootcert` (SPEC §15).
public struct PostgresURL: Sendable, Equatable {
    public var user: String
    public var password: String?
    public var host: String
    public var port: Int
    public var database: String
    public var sslMode: SSLMode = .prefer
    /// A PEM file of trusted CA certificates, or `system` for the system's; nil: the system's.
    public var sslRootCert: String?
    /// Where the URL came from (`DATABASE_URL`, `--admin-url`…): connection errors name it, never the URL.
    public var source = "the database URL"

    public init?(_ string: String) {
        guard let c = URLComponents(string: string), c.scheme == "postgres" || c.scheme == "postgresql",
            let host = c.host, !host.isEmpty, let user = c.user, !user.isEmpty
        else { return nil }
        let database = String(c.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { return nil }
        // URLComponents.user/.password are already percent-decoded: decoding again would turn a literal
        // "%41" in a password into "A".
        self.user = user
        self.password = c.password
        // URLComponents keeps the brackets of an IPv6 literal; the socket layer (and TLS's IP check) wants it bare.
        self.host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        self.port = c.port ?? 5432
        self.database = database
        guard (try? readTLSParameters(c.queryItems ?? [])) != nil else { return nil }
    }

    /// Like `init?`, but says what is wrong (never quoting the URL, which may hold a password).
    public static func parse(_ string: String, source: String) throws(ConfigError) -> PostgresURL {
        let shape = "must be a URL like postgres://user:password@host:5432/database[?sslmode=verify-full&sslrootcert=/path/ca.pem]"
        guard var url = PostgresURL(string) else {
            if let c = URLComponents(string: string), let items = c.queryItems {
                var probe = PostgresURL("postgres://u@h/d")!
                do { try probe.readTLSParameters(items) } catch { throw ConfigError(variable: source, problem: error.problem) }
            }
            throw ConfigError(variable: source, problem: shape)
        }
        url.source = source
        return url
    }

    /// `sslmode` and `sslrootcert` from the query; other parameters are ignored (poolers add their own).
    private mutating func readTLSParameters(_ items: [URLQueryItem]) throws(ConfigError) {
        for item in items {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(SSLMode.init(rawValue:)) else {
                    throw ConfigError(variable: "", problem: "has an unknown sslmode (use disable, prefer, require, verify-ca or verify-full)")
                }
                sslMode = mode
            case "sslrootcert":
                guard let path = item.value?.removingPercentEncoding, !path.isEmpty else {
                    throw ConfigError(variable: "", problem: "has an empty sslrootcert")
                }
                if path != "system", !FileManager.default.isReadableFile(atPath: path) {
                    throw ConfigError(variable: "", problem: "names an sslrootcert file that cannot be read: \(path)")
                }
                sslRootCert = path
            default: continue
            }
        }
    }

    /// A loopback host (`localhost`, 127.0.0.0/8, `::1`, `::ffff:127.x.x.x`): the database, or a pooler in front of
    /// it, shares this machine's cores.
    public var isOnThisMachine: Bool {
        if ["localhost", "localhost."].contains(host.lowercased()) { return true }
        guard let address = IPNetwork.parse(host) else { return false }
        return Self.loopback.contains { $0.contains(address) }
    }
    private static let loopback = [IPNetwork("127.0.0.0/8")!, IPNetwork("::1")!]

    /// The same server and credentials, another database.
    public func with(database: String) -> PostgresURL {
        var copy = self
        copy.database = database
        return copy
    }
}
