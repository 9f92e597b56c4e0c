import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// libpq's `sslmode` values (SPEC §15), with libpq's meaning:
/// - `disable`: plain TCP only;
/// - `prefer` (the default): TLS when the server offers it, without checking its certificate, else plain;
/// - `require`: TLS or nothing, certificate not checked (checked against `sslrootcert` when one is named, as libpq does);
/// - `verify-ca`: TLS, and the certificate must chain to `sslrootcert` (or the system's roots);
/// - `verify-full`: as `verify-ca`, and the certificate must also name the host of the URL.
public enum SSLMode: String, Sendable, Equatable {
    case disable, prefer, require
    case verifyCA = "verify-ca"
    case verifyFull = "verify-full"
}
