#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import Observability

/// `iot-ingest healthcheck [--url URL]`: GET the URL, exit 0 on HTTP 200, else 1. The Docker
/// HEALTHCHECK uses it because the runtime image has no curl. Without `--url` it checks
/// `/health` on the port the daemon's own configuration gives (`http.port` from the same
/// file, environment and flags), so a changed port does not fail the container's check. A raw socket and a two-second
/// timeout: small, and no HTTP client library in the binary for one request.
struct HealthcheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "healthcheck", abstract: "GET /health; exit 0 on 200, else 1.")

    @Option(help: "URL to check (default: /health on 127.0.0.1 at the configured http.port).")
    var url: String?

    @OptionGroup var options: ConfigurationOptions

    @Option(help: "Seconds to wait for the answer.")
    var timeout = 2.0

    func run() throws {
        let url = try self.url ?? "http://127.0.0.1:\(options.load().http.port)/health"
        guard let target = Target(url) else {
            Console.error("healthcheck: unsupported URL \(url) (http://host:port/path)")
            throw ExitCode(2)
        }
        guard let status = target.getStatus(timeout: timeout), status == 200 else {
            throw ExitCode(1)
        }
    }

    struct Target {
        var host: String
        var port: String
        var path: String

        init?(_ url: String) {
            guard url.hasPrefix("http://") else { return nil }
            let rest = url.dropFirst("http://".count)
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            let authority = rest[..<slash]
            path = slash == rest.endIndex ? "/" : String(rest[slash...])
            if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                port = String(authority[authority.index(after: colon)...])
            } else {
                host = String(authority)
                port = "80"
            }
            host = host.trimmingPrefix("[").split(separator: "]").first.map(String.init) ?? host
        }

        func getStatus(timeout: Double) -> Int? {
            var hints = addrinfo()
            hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            var list: UnsafeMutablePointer<addrinfo>?
            guard getaddrinfo(host, port, &hints, &list) == 0, let first = list else { return nil }
            defer { freeaddrinfo(list) }
            let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
            guard fd >= 0 else { return nil }
            defer { close(fd) }
            var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else { return nil }
            let request = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
            guard request.withCString({ send(fd, $0, strlen($0), 0) }) > 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 64)
            var received = 0
            while received < 12 {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + received, 64 - received, 0) }
                if n <= 0 { break }
                received += n
            }
            // "HTTP/1.1 200 ..."
            let line = String(decoding: buffer[..<received], as: UTF8.self)
            let parts = line.split(separator: " ")
            guard parts.count >= 2, parts[0].hasPrefix("HTTP/") else { return nil }
            return Int(parts[1])
        }
    }
}
