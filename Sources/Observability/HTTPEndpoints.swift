import Hummingbird
import IngestCore
import Logging

/// The probe and scrape endpoints (SPEC 9) as one small Hummingbird responder: four paths,
/// so a switch reads better than a router, and it gives 405 for a known path with another
/// method, which the router would answer 404.
public struct HTTPEndpoints: HTTPResponder {
    public typealias Context = BasicRequestContext

    let source: any HealthSource
    let stats: IngestStats
    let metrics: IngestMetrics
    let version: String

    public init(source: any HealthSource, stats: IngestStats, metrics: IngestMetrics, version: String) {
        self.source = source
        self.stats = stats
        self.metrics = metrics
        self.version = version
    }

    /// Routes /health, /ready and /metrics (SPEC 9, 10); everything answers from cached state,
    /// so a slow database or broker never makes a probe wait.
    public func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        guard ["/health", "/ready", "/health/detailed", "/metrics"].contains(path) else {
            return text(.notFound, "not found\n")
        }
        guard request.method == .get || request.method == .head else {
            var response = text(.methodNotAllowed, "method not allowed\n")
            response.headers[.allow] = "GET, HEAD"
            return response
        }
        let snapshot = source.snapshot()
        let report = HealthReport(snapshot)
        switch path {
        case "/health":
            return json(.ok, .object([
                ("status", .string("healthy")), ("service", .string("iot-ingest")),
                ("checked_at", .string(Timestamp.iso8601Millis(report.checkedAt))),
            ]))
        case "/ready":
            let detailed = request.uri.queryParameters["detailed"].map { $0 == "true" || $0 == "1" } ?? false
            var response = json(report.isReady ? .ok : .serviceUnavailable,
                                report.json(version: version, detailed: detailed))
            if !report.isReady { response.headers[.retryAfter] = "10" }
            return response
        case "/health/detailed":
            return json(.ok, report.json(version: version, detailed: true))
        default:
            let body = metrics.render(stats: stats, report: report, snapshot: snapshot)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: body)))
        }
    }

    private func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: value.rendered + "\n")))
    }

    private func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
