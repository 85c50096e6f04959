import Concurrency
import Hummingbird
import IngestModel
import Logging

/// The probe and scrape endpoints (SPEC 9) and the token-guarded reload (SPEC 3) as one small
/// Hummingbird responder: five paths, so a switch reads better than a router, and it gives
/// 405 for a known path with another method, which the router would answer 404.
public struct HTTPEndpoints: HTTPResponder {
    /// Hummingbird's basic context: the endpoints keep no per-request state.
    public typealias Context = BasicRequestContext

    let source: any HealthSource
    let stats: IngestStats
    let metrics: IngestMetrics
    let version: String
    /// nil without `http.admin_token`: `/admin/reload` then does not exist (404).
    let admin: AdminReload?

    /// `admin` nil (no `http.admin_token`) leaves `/admin/reload` answering 404.
    public init(source: any HealthSource, stats: IngestStats, metrics: IngestMetrics, version: String,
                admin: AdminReload? = nil) {
        self.source = source
        self.stats = stats
        self.metrics = metrics
        self.version = version
        self.admin = admin
    }

    /// Routes /health, /ready and /metrics (SPEC 9, 10); everything answers from cached state,
    /// so a slow database or broker never makes a probe wait.
    public func respond(to request: Request, context: Context) async throws -> Response {
        let path = request.uri.path
        if path == "/admin/reload", let admin {
            return await reload(request, admin)
        }
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

    /// 401 without the right bearer token; else the reload runs on a thread of its own (it
    /// reads the configuration file) and its outcome is the body: 200 when applied, 422 when
    /// the new configuration was refused whole (the old one stays).
    private func reload(_ request: Request, _ admin: AdminReload) async -> Response {
        guard request.method == .post else {
            var response = text(.methodNotAllowed, "method not allowed\n")
            response.headers[.allow] = "POST"
            return response
        }
        guard admin.authorizes(request.headers[.authorization]) else {
            var response = text(.unauthorized, "unauthorized\n")
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        let outcome = (try? await DedicatedThread.run { admin.reload() })
            ?? ReloadOutcome(errors: ["the reload could not run"])
        return json(outcome.succeeded ? .ok : .unprocessableContent, outcome.json)
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
