/// The pure tests: no database, no Redis, no server, no Python. Every suite nested here runs in a
/// second or two on a new checkout with `swift test --filter Unit` (no `scripts/stack up` needed);
/// docs/testing.md lists the other ways to run part of the suite.
enum Unit {}
