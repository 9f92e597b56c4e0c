import Logging

public enum LoggingSetup {
    /// Bootstraps swift-log once per process with the configured format and level.
    public static func bootstrap(format: AppConfig.LogFormat, level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            switch format {
            case .json: JSONLogHandler(label: label, level: level)
            case .text:
                {
                    var h = StreamLogHandler.standardError(label: label)
                    h.logLevel = level
                    return h
                }()
            }
        }
    }
}
