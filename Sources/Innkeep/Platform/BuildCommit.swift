/// The commit this binary was built from, when the build stamped one (see scripts/build-info).
enum BuildCommit {
    static let sha = "unknown"
}
