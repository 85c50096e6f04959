import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP server as a ServiceLifecycle service (Hummingbird's Application is one).
public enum HTTPServer {
    /// - Parameter onListening: called with the bound port once the server is up.
    public static func make(host: String, port: Int, endpoints: HTTPEndpoints, logger: Logger,
                            onListening: @escaping @Sendable (Int) async -> Void) -> any Service {
        var quiet = logger
        quiet.logLevel = .error  // Hummingbird's own info lines are not our events
        return Application(
            responder: endpoints,
            // Idle connections (a half-open or slow client) are closed after 5 s; each
            // connection is one event-loop channel, so a stuck client never blocks a probe.
            server: .http1(configuration: .init(idleTimeout: .seconds(5))),
            configuration: .init(address: .hostname(host, port: port), serverName: "iot-ingest"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: quiet)
    }
}
