import Foundation

@testable import Innkeep

#if canImport(Glibc)
import Glibc
#endif

/// The built `innkeep serve` as a real process on a real port, for the tests that must go through the
/// network stack (idle connections, half-sent requests, SIGTERM, event-loop stalls).
final class LiveServer: @unchecked Sendable {
    let port: Int
    let pid: pid_t
    let logPath: String
    private var exited: Int32?

    static let binary = TestEnv.repo.appendingPathComponent(".build/debug/innkeep").path

    /// Starts `innkeep serve` on a free port against `database` (default: the shared, migrated test database)
    /// and waits until `/health/live` answers.
    static func start(database: String = SharedDatabase.name, env overrides: [String: String] = [:]) async throws -> LiveServer {
        if database == SharedDatabase.name { try await SharedDatabase.shared.prepare() }
        guard FileManager.default.isExecutableFile(atPath: binary) else { throw TestFailure("\(binary) is missing: run `swift build --build-tests`") }
        var lastError: any Error = TestFailure("no attempt")
        for _ in 0..<5 {
            let port = Int.random(in: 20_000...30_000)
            var env = TestEnv.environment(database: database)
            env.merge([
                "PORT": "\(port)", "HOST": "127.0.0.1", "LOG_LEVEL": "warning", "MIGRATIONS_DIR": TestEnv.migrationsDir.path,
                "OPENAPI_PATH": TestEnv.repo.appendingPathComponent("openapi.yaml").path,
                "AUTH_RATE_LIMIT_PER_MINUTE": "1000000", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            ]) { _, new in new }
            env.merge(overrides) { _, new in new }
            let server = try LiveServer(port: port, env: env)
            do {
                try await server.waitUntilLive()
                return server
            } catch {
                lastError = error
                server.kill()
            }
        }
        throw lastError
    }

    private init(port: Int, env: [String: String]) throws {
        self.port = port
        logPath = FileManager.default.temporaryDirectory.appendingPathComponent("innkeep-live-\(UUID()).log").path
        pid = try spawnProcess(Self.binary, arguments: [Self.binary, "serve"], environment: env, logPath: logPath)
    }

    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func waitUntilLive() async throws {
        for _ in 0..<300 {
            if let status = exitStatus() { throw TestFailure("innkeep serve exited (\(status)): \(log)") }
            if let r = try? await request("GET", "/health/live", timeout: 2), r.status == 200 { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("innkeep serve on \(port) did not answer: \(log)")
    }

    /// The exit status once the process has ended (reaped here), else nil.
    func exitStatus() -> Int32? {
        if let exited { return exited }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return nil }
        exited = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return exited
    }

    func signal(_ sig: Int32) { Glibc.kill(pid, sig) }

    /// Waits for the process to end; how long it took, or nil when it was still running at `timeout`.
    func waitForExit(timeout: Duration) async -> Duration? {
        let clock = ContinuousClock()
        let start = clock.now
        while clock.now - start < timeout {
            if exitStatus() != nil { return clock.now - start }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// SIGKILL and reap, and delete the log, for cleanup (whatever the test did).
    func kill() {
        defer { try? FileManager.default.removeItem(atPath: logPath) }
        guard exitStatus() == nil else { return }
        signal(SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
        exited = 137
    }

    /// One request on its own connection (`Connection: close`), read to the end.
    func request(
        _ method: String,
        _ path: String,
        headers: [String: String] = [:],
        body: [UInt8] = [],
        timeout: Double = 30
    ) async throws -> RawResponse {
        let port = port
        return try await offPool {
            let socket = try RawSocket(port: port, timeout: timeout)
            defer { socket.close() }
            var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
            for (k, v) in headers { head += "\(k): \(v)\r\n" }
            if !body.isEmpty || method == "POST" { head += "Content-Length: \(body.count)\r\n" }
            head += "\r\n"
            try socket.send(Array(head.utf8) + body)
            return try RawResponse(bytes: socket.readToEnd())
        }
    }
}

/// A parsed HTTP/1.1 response.
struct RawResponse: Sendable {
    let status: Int
    let headers: [String: String]
    let body: String
    var json: JSONValue { JSONValue.parse(Array(body.utf8)) ?? .null }
    var errorCode: String? { json["error"]?["code"]?.stringValue }

    init(bytes: [UInt8]) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else { throw TestFailure("no complete response: \(text.prefix(200))") }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw TestFailure("bad status line: \(lines[0])") }
        self.status = status
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        self.headers = headers
        body = String(text[split.upperBound...])
    }
}

/// A blocking TCP client socket on 127.0.0.1, used off the cooperative pool.
final class RawSocket: @unchecked Sendable {
    let fd: Int32

    init(port: Int, timeout: Double = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            Glibc.close(fd)
            throw TestFailure("connect to \(port) failed: \(errno)")
        }
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw TestFailure("send failed: \(errno)") }
            offset += n
        }
    }

    /// Reads until the peer closes; throws on the receive timeout.
    func readToEnd() throws -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return out }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET { return out }
                throw TestFailure("recv failed or timed out: \(errno)")
            }
            out += buffer[0..<n]
        }
    }

    /// Waits until the server closes the connection (EOF or reset): true, or false at the receive timeout.
    func waitForClose() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return true }
            if n < 0 {
                if errno == EINTR { continue }
                return errno == ECONNRESET
            }
        }
    }

    func close() { Glibc.close(fd) }
}

/// Runs blocking work on a thread of its own: never on Swift's cooperative pool, and not on Dispatch's global
/// queues either (on Linux the cooperative pool shares their thread budget, so dozens of blocked sockets there
/// would starve every task of the test process, timers included, and skew what is measured).
func offPool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try work() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

extension LiveServer {
    /// A JSON request on its own connection.
    func json(
        _ method: String,
        _ path: String,
        token: String? = nil,
        body: JSONValue? = nil,
        headers extra: [String: String] = [:],
        timeout: Double = 30
    ) async throws -> RawResponse {
        var headers = extra
        if let token { headers["Authorization"] = "Bearer \(token)" }
        if body != nil { headers["Content-Type"] = "application/json" }
        return try await request(method, path, headers: headers, body: body.map { Array($0.serialized.utf8) } ?? [], timeout: timeout)
    }

    /// Signs up a user with a new agency through the real server: (user id, token, agency id).
    func signupWithAgency(password: String = "correct horse battery") async throws -> (email: String, token: String, agency: UUID) {
        let email = uniqueEmail("live")
        let r = try await json(
            "POST",
            "/api/v1/auth/signup",
            body: [
                "email": .string(email), "password": .string(password), "full_name": "Live", "agency_name": "Live Agency",
            ]
        )
        guard r.status == 201, let token = r.json["access_token"]?.stringValue else { throw TestFailure("signup: \(r.status) \(r.body)") }
        let me = try await json("GET", "/api/v1/me", token: token)
        guard let agency = me.json["memberships"]?.arrayValue?.first?["agency_id"]?.uuid else { throw TestFailure("me: \(me.body)") }
        return (email, token, agency)
    }
}

/// Runs `count` copies of `work` at once on Dispatch threads (each blocking on its own socket).
func concurrently<T: Sendable>(_ count: Int, _ work: @escaping @Sendable (Int) async throws -> T) async throws -> [T] {
    try await withThrowingTaskGroup(of: T.self) { group in
        for i in 0..<count { group.addTask { try await work(i) } }
        return try await group.reduce(into: []) { $0.append($1) }
    }
}

/// A redis-server of the test's own on a free port, which the test may freeze with SIGSTOP.
final class FreezableRedis: @unchecked Sendable {
    let port: Int
    let pid: pid_t

    init() throws {
        port = Int.random(in: 40_000...50_000)
        let args = ["/usr/bin/redis-server", "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid = pid_t()
        guard posix_spawn(&pid, args[0], &actions, nil, &argv, environ) == 0 else { throw TestFailure("cannot start redis-server") }
        self.pid = pid
        // Ready when it accepts a connection and answers PING.
        for _ in 0..<100 {
            if let s = try? RawSocket(port: port, timeout: 1) {
                defer { s.close() }
                if (try? s.send(Array("PING\r\n".utf8))) != nil {
                    var buffer = [UInt8](repeating: 0, count: 16)
                    if buffer.withUnsafeMutableBytes({ recv(s.fd, $0.baseAddress, $0.count, 0) }) > 0 { return }
                }
            }
            usleep(50_000)
        }
        throw TestFailure("redis-server on \(port) did not start")
    }

    func freeze() { kill(pid, SIGSTOP) }
    func thaw() { kill(pid, SIGCONT) }

    func destroy() {
        kill(pid, SIGCONT)
        kill(pid, SIGKILL)
        var status: Int32 = 0
        _ = waitpid(pid, &status, 0)
    }
}

/// The tests that load both cores (sign-up and login floods, JSON bombs) and those that time answers against
/// a deadline (the Postgres outage, a frozen Redis, the idempotency faults) take turns: running together on two
/// cores, the first would skew the second's measurements.
actor HeavyLoad {
    static let shared = HeavyLoad()
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    private func acquire() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    private func release() {
        if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
    }

    static func exclusive<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        await shared.acquire()
        do {
            let result = try await body()
            await shared.release()
            return result
        } catch {
            await shared.release()
            throw error
        }
    }
}
