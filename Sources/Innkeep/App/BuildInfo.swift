import Foundation
import InnkeepRedis
import Logging

/// What /ops/current-commit reports: `COMMIT_SHA`/`DEPLOYED_AT`, else the build's commit and the start time.
public struct BuildInfo: Sendable {
    public let commitSHA: String
    public let deployedAt: String

    init(config: AppConfig) {
        commitSHA = config.commitSHA ?? BuildCommit.sha
        deployedAt = config.deployedAt ?? RFC3339.format(Date())
    }
}
