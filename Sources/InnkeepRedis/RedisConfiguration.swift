import Foundation

extension RedisClient {
    /// Where Redis is and how long to wait for it.
    public struct Configuration: Sendable, Equatable {
        /// Host name or IP address of the server.
        public var host: String
        /// TCP port of the server.
        public var port: Int
        /// ACL user name for `AUTH user password` (Redis 6+); `nil` authenticates as the default user.
        public var username: String?
        /// Password sent with `AUTH` on every new connection; `nil` skips `AUTH`.
        public var password: String?
        /// Database index chosen with `SELECT` on every new connection (skipped for 0).
        public var database: Int
        /// Longest time a TCP connect may take before the command that needed it fails.
        public var connectTimeout: Duration
        /// Longest time a command may wait for its reply; on expiry the connection is dropped.
        public var commandTimeout: Duration

        /// Creates a configuration from its parts.
        public init(
            host: String = "127.0.0.1",
            port: Int = 6379,
            username: String? = nil,
            password: String? = nil,
            database: Int = 0,
            connectTimeout: Duration = .milliseconds(500),
            commandTimeout: Duration = .milliseconds(500)
        ) {
            self.host = host
            self.port = port
            self.username = username
            self.password = password
            self.database = database
            self.connectTimeout = connectTimeout
            self.commandTimeout = commandTimeout
        }

        /// Parses `redis://[[user]:password@]host[:port][/db]`; the port defaults to 6379, the db to 0.
        /// - Throws: `RedisError.invalidURL` saying what is wrong, never quoting the URL (it may carry a password).
        public init(
            url: String,
            connectTimeout: Duration = .milliseconds(500),
            commandTimeout: Duration = .milliseconds(500)
        ) throws {
            guard let components = URLComponents(string: url) else {
                throw RedisError.invalidURL("cannot parse it")
            }
            guard components.scheme?.lowercased() == "redis" else {
                throw RedisError.invalidURL("scheme must be redis://")
            }
            guard let host = components.host, !host.isEmpty else {
                throw RedisError.invalidURL("missing host")
            }
            let port = components.port ?? 6379
            guard (1...65535).contains(port) else {
                throw RedisError.invalidURL("port \(port) out of range")
            }
            let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
            guard let database = path.isEmpty ? 0 : Int(path), database >= 0 else {
                throw RedisError.invalidURL("database must be a non-negative integer")
            }
            let username = components.user.flatMap { $0.isEmpty ? nil : $0 }
            self.init(
                // URLComponents keeps the brackets of an IPv6 literal; the socket layer wants it bare.
                host: host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")),
                port: port,
                username: username,
                password: components.password,
                database: database,
                connectTimeout: connectTimeout,
                commandTimeout: commandTimeout
            )
        }
    }
}
