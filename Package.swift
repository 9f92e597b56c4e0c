// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "innkeep",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "innkeep", targets: ["InnkeepCLI"]),
        .library(name: "Innkeep", targets: ["Innkeep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // The application: HTTP, domain, persistence and platform code. Tests build this very app.
        .target(
            name: "Innkeep",
            dependencies: [
                "InnkeepRedis",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            plugins: ["StampCommit"]
        ),
        // Generates BuildCommit.swift with the commit being built.
        .plugin(name: "StampCommit", capability: .buildTool()),
        // A small RESP2 client on SwiftNIO: the mirror has no Redis package.
        .target(
            name: "InnkeepRedis",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The thin `innkeep` executable: argument parsing only.
        .executableTarget(
            name: "InnkeepCLI",
            dependencies: [
                "Innkeep",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "InnkeepTests",
            dependencies: [
                "Innkeep",
                "InnkeepRedis",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                // The cluster tests talk to nginx and the worker processes over real HTTP.
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ]
        ),
    ]
)
