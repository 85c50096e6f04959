import Hummingbird
import Logging
import ServiceLifecycle

/// The HTTP server as a ServiceLifecycle service (Hummingbird's Application is one).
public enum HTTPServer {
    /// Connections served at once. Beyond it the server stops accepting and new clients
    /// wait in the kernel's listen backlog, which costs the process no descriptor: a
    /// connection flood cannot take the descriptors the spool, the journal and libpq need.
    /// Probes and a scraper use a handful; idle ones are closed after 5 s.
    public static let maxConnections = 64

    /// - Parameter onListening: called with the bound port once the server is up.
    public static func make(host: String, port: Int, endpoints: HTTPEndpoints, logger: Logger,
                            onListening: @escaping @Sendable (Int) async -> Void) -> any Service {
        var quiet = logger
        quiet.logLevel = .error  // Hummingbird's own info lines are not our events
        let application = Application(
            responder: endpoints,
            // Idle connections (a half-open or slow client) are closed after 5 s; each
            // connection is one event-loop channel, so a stuck client never blocks a probe.
            server: .http1(configuration: .init(idleTimeout: .seconds(5))),
            configuration: .init(address: .hostname(host, port: port), serverName: "iot-ingest",
                                 availableConnectionsDelegate: .maximum(maxConnections, logger: quiet)),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? port) },
            logger: quiet)
        return KeyNamingService(inner: application, host: host, port: port)
    }

    /// Why the HTTP server stopped, naming the keys an operator has to change.
    public struct Failure: Error, CustomStringConvertible {
        /// The cause, prefixed with `http.host` and `http.port` and their values.
        public let description: String
    }

    /// Runs the server; a failure (the port taken, an address not on this host) is rethrown
    /// naming `http.host` / `http.port`, so the `fatal` line says what to fix.
    struct KeyNamingService<Inner: Service>: Service {
        let inner: Inner
        let host: String
        let port: Int

        func run() async throws {
            do {
                try await inner.run()
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw Failure(description: "http.host \(host) / http.port \(port): cannot serve: \(error)")
            }
        }
    }
}
