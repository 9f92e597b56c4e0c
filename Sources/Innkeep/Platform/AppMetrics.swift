import Prometheus
import Synchronization

/// The service's Prometheus metrics, on a registry of its own (no global bootstrap, so tests can
/// build many applications in one process). Served at `GET /metrics`.
public final class AppMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5),
    ]

    /// The counter and histogram of each (route, method, status) seen, so a request records its metrics
    /// with one dictionary lookup instead of two registry lookups that build label arrays and names.
    private let requestSeries = Mutex<[RequestKey: (Counter, DurationHistogram)]>([:])
    private struct RequestKey: Hashable {
        let route: String, method: String, status: Int
    }

    /// Tenant statements that tried to answer at once (`TenantEntry`): answered, or sent the full way.
    private let oneStatementRequests: (answered: Counter, fullPath: Counter)

    public init() {
        let help =
            "Tenant statements (lists, creates, key claims, calendars, availability) that tried to admit the caller and answer at once, by outcome."
        oneStatementRequests = (
            Self.counter(registry, "one_statement_requests_total", help, [("outcome", "answered")]),
            Self.counter(registry, "one_statement_requests_total", help, [("outcome", "full_path")])
        )
    }

    private static func counter(_ registry: PrometheusCollectorRegistry, _ name: String, _ help: String, _ labels: [(String, String)]) -> Counter {
        registry.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)]) -> Counter {
        Self.counter(registry, name, help, labels)
    }

    /// A tenant request that tried one statement: `answered`, or sent the full way.
    func oneStatementRequest(answered: Bool) {
        (answered ? oneStatementRequests.answered : oneStatementRequests.fullPath).increment()
    }

    public func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        registry.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels)
    }

    /// One finished request, by route template (never the raw path, which would explode cardinality).
    public func request(route: String, method: String, status: Int, duration: Duration) {
        let key = RequestKey(route: route, method: method, status: status)
        let (requests, latency) = requestSeries.withLock { series -> (Counter, DurationHistogram) in
            if let known = series[key] { return known }
            let made = (
                self.counter(
                    "http_requests_total",
                    "HTTP requests by route template, method and status.",
                    [("route", route), ("method", method), ("status", String(status))]
                ),
                self.registry.makeDurationHistogram(
                    descriptor: MetricNameDescriptor(
                        metricName: "http_request_duration_seconds",
                        unitName: "",
                        helpText: "Request latency by route template."
                    ),
                    labels: [("route", route), ("method", method)],
                    buckets: Self.buckets
                )
            )
            series[key] = made
            return made
        }
        requests.increment()
        latency.record(duration)
    }

    /// A role denial; with ENFORCE_RBAC=false it was allowed but still counted.
    public func rbacDenial(enforced: Bool) {
        counter("rbac_denials_total", "Requests whose role may not use the endpoint.", [("enforced", String(enforced))]).increment()
    }

    /// A 503 answered because a dependency was down.
    public func degradedResponse(code: ErrorCode) {
        counter("degraded_responses_total", "503 answers because a dependency was unavailable.", [("code", code.rawValue)]).increment()
    }

    /// A Redis operation that failed open.
    public func failOpen(_ use: String) {
        counter("redis_fail_open_total", "Redis operations skipped because Redis was unavailable.", [("use", use)]).increment()
    }

    /// One webhook delivery attempt: `succeeded`, `retrying`, `failed` or `gone` (410, endpoint disabled).
    public func webhookAttempt(outcome: String, duration: Duration) {
        counter("webhook_delivery_attempts_total", "Webhook delivery attempts by outcome.", [("outcome", outcome)]).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                metricName: "webhook_delivery_duration_seconds",
                unitName: "",
                helpText: "Webhook request latency, until the answer or the failure."
            ),
            labels: [],
            buckets: Self.webhookBuckets
        ).record(duration)
    }

    private static let webhookBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
    ]

    /// One channel sync: `ok`, `unchanged` (304) or `error`.
    public func channelSync(result: String, duration: Duration) {
        counter("channel_syncs_total", "iCal channel syncs by result.", [("result", result)]).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(metricName: "channel_sync_duration_seconds", unitName: "", helpText: "iCal sync time, fetch and apply."),
            labels: [],
            buckets: Self.webhookBuckets
        ).record(duration)
    }

    public func render() -> String { registry.emitToString() }
}
