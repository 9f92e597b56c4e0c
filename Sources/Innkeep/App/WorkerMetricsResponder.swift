import Foundation
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// `innkeep worker`'s only HTTP answer, on `WORKER_METRICS_PORT`: `GET /metrics` with its own counters
/// (webhook attempts by outcome, their latency). Not part of the API (no router, no endpoint table):
/// it takes no token, so keep `HOST` private (the default is 127.0.0.1) or leave the port unset.
struct WorkerMetricsResponder: HTTPResponder {
    let metrics: AppMetrics

    func respond(to request: Request, context: BasicRequestContext) async throws -> Response {
        guard request.method == .get, request.uri.path == "/metrics" else { return Response(status: .notFound) }
        return Response(
            status: .ok,
            headers: [.contentType: "text/plain; version=0.0.4"],
            body: .init(byteBuffer: ByteBuffer(string: metrics.render()))
        )
    }
}
