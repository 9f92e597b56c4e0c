import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

extension PostgresURL {
    /// The NIOSSL client configuration for this URL's `sslmode`; nil when TLS is disabled.
    var tlsConfiguration: TLSConfiguration? {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable: return nil
        case .prefer: tls.certificateVerification = .none
        case .require where sslRootCert == nil: tls.certificateVerification = .none
        case .require: tls.certificateVerification = .noHostnameVerification
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if tls.certificateVerification == .none {
            tls.trustRoots = .certificates([])  // nothing is checked: spare each connection reading the system's CA bundle
        } else if let root = sslRootCert, root != "system" {
            tls.trustRoots = .file(root)
        }
        return tls
    }

    /// A connection's TLS setting (it needs a context, which reads `sslrootcert`).
    func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        guard let tls = tlsConfiguration else { return .disable }
        let context = try NIOSSLContext(configuration: tls)
        return sslMode == .prefer ? .prefer(context) : .require(context)
    }

    /// Where it points, for messages: never the user's password.
    var endpoint: String { "\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)" }
}

/// A connection that could not be opened, said in one line that names where the URL came from
/// (`DATABASE_URL`, `MIGRATION_DATABASE_URL`, `--admin-url`) and what the failure means for its `sslmode`.
public struct DatabaseConnectError: Error, CustomStringConvertible {
    public let source: String
    public let endpoint: String
    public let sslMode: SSLMode
    public let sslRootCert: String?
    public let reason: String
    /// A TLS or authentication problem that retrying will not fix (as opposed to a server that is down).
    public let isMisconfiguration: Bool

    public var description: String {
        "\(source): cannot connect to \(endpoint) with sslmode=\(sslMode.rawValue): \(reason)"
    }

    init(url: PostgresURL, error: any Error) {
        source = url.source
        endpoint = url.endpoint
        sslMode = url.sslMode
        sslRootCert = url.sslRootCert
        (reason, isMisconfiguration) = Self.explain(error, url: url)
    }

    private static func explain(_ error: any Error, url: PostgresURL) -> (String, Bool) {
        let ca =
            url.sslRootCert.map { $0 == "system" ? "the system's CA certificates" : "sslrootcert \($0)" }
            ?? "the system's CA certificates (no sslrootcert given)"
        if let e = error as? PSQLError {
            if e.code == PSQLError.Code.sslUnsupported {
                return ("the server does not accept TLS connections, and sslmode=\(url.sslMode.rawValue) requires TLS", true)
            }
            if let state = e.serverInfo?[.sqlState] {
                let message = e.serverInfo?[.message] ?? "refused"
                if state == "28000", url.sslMode == .disable || url.sslMode == .prefer,
                    message.contains("no encryption") || message.contains("SSL off")
                {
                    return ("the server accepts only TLS connections (\(message)); use sslmode=verify-full (or require)", true)
                }
                return ("the server refused: \(message) (sqlstate \(state))", state.hasPrefix("28"))
            }
            if let underlying = e.underlying { return explain(underlying, url: url) }
            return ("\(loggable(e))", false)
        }
        if let e = error as? NIOSSLExtraError, e == .failedToValidateHostname {
            return ("the server's TLS certificate does not name \(url.host) (sslmode=verify-full checks the host name)", true)
        }
        if let e = error as? NIOSSLError {
            switch e {
            case .handshakeFailed(let inner):
                let text = "\(inner)"
                if text.contains("CERTIFICATE_VERIFY_FAILED") {
                    return ("the server's TLS certificate is not signed by a CA in \(ca)", true)
                }
                return ("the TLS handshake failed (\(text))", true)
            case .failedToLoadCertificate, .failedToLoadPrivateKey:
                return ("cannot read \(ca) as PEM certificates", true)
            default:
                return ("TLS failed (\(e))", true)
            }
        }
        if let e = error as? NIOConnectionError {
            return ("cannot reach the server: \(e.dnsAAAAError ?? e.dnsAError ?? e.connectionErrors.first?.error ?? e)", false)
        }
        if error is ChannelError || error is IOError { return ("cannot reach the server: \(error)", false) }
        return (loggable(error), false)
    }
}

extension PostgresConnection {
    /// Opens one connection (for the pool, migrations, `db init` and the start-up checks) with the URL's `sslmode`;
    /// any failure is a `DatabaseConnectError`. `tls`: the URL's `connectionTLS()` built once by a caller that opens
    /// many connections (nil: built here).
    public static func open(
        _ url: PostgresURL,
        logger: Logger,
        connectTimeout: TimeAmount = .seconds(10),
        startupParameters: [(String, String)] = [],
        tls: PostgresConnection.Configuration.TLS? = nil,
        on eventLoop: any EventLoop = PostgresConnection.defaultEventLoopGroup.any()
    ) async throws -> PostgresConnection {
        do {
            var config = PostgresConnection.Configuration(
                host: url.host,
                port: url.port,
                username: url.user,
                password: url.password,
                database: url.database,
                tls: try tls ?? url.connectionTLS()
            )
            config.options.connectTimeout = connectTimeout
            config.options.additionalStartupParameters = startupParameters
            return try await PostgresConnection.connect(on: eventLoop, configuration: config, id: 1, logger: logger)
        } catch {
            throw DatabaseConnectError(url: url, error: error)
        }
    }
}
