import Concurrency
import Foundation

/// A bad link between the daemon and a server, on this machine's loopback: the daemon is
/// pointed at `port`, where `Tests/NetworkFaults/tcp_proxy.py` forwards to the real server,
/// adding latency or lossy stalls; `partition()` makes the link silent with an iptables DROP
/// of every packet to and from `port` (the peer's kernel never answers, unlike a stopped
/// process), `heal()` takes the rules out again. The rules carry a comment naming the port,
/// so `removeLeftovers()` (and scripts/services.sh) remove any a killed test left behind.
public final class NetworkFault: @unchecked Sendable {
    // @unchecked: `proxy` is set up in init and only terminated and waited for after.
    public let port: Int
    private let proxy = Process()
    private let partitioned = Locked(false)
    static let commentPrefix = "iot-ingest-netfault"

    /// The proxy on a free port in front of `upstreamPort`, with `delayMs` of latency each way
    /// and, for `stallShare` of the chunks, an extra `stallMs` hold.
    public init(upstreamPort: Int, delayMs: Int = 0, stallShare: Double = 0, stallMs: Int = 0) async throws {
        await Self.removeLeftovers()  // a test killed mid-partition must not silence this one
        port = HTTPClient.freePort()
        proxy.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        proxy.arguments = [TestServices.packageRoot.appendingPathComponent("Tests/NetworkFaults/tcp_proxy.py").path,
                           "--listen", "\(port)", "--upstream", "127.0.0.1:\(upstreamPort)",
                           "--delay-ms", "\(delayMs)", "--stall-share", "\(stallShare)", "--stall-ms", "\(stallMs)"]
        proxy.standardOutput = FileHandle.nullDevice
        proxy.standardError = FileHandle.nullDevice
        try proxy.run()
        let port = self.port
        do {
            try await waitUntil(10, "the proxy on port \(port)") {
                (try? await DedicatedThread.run { HTTPClient.connect(port: port).map { Glibc.close($0); return true } ?? false }) ?? false
            }
        } catch {
            await close()
            throw error
        }
    }

    /// Silence both ways: packets to and from the proxy's port are dropped by the kernel.
    public func partition() async throws {
        partitioned.withLock { $0 = true }  // first: a half-made partition is healed too
        for rule in rules { try await iptables(["-I"] + rule) }
    }

    /// The link answers again (the rules are deleted by their exact spec), and the proxy
    /// aborts the connections it carried from before: the daemon gave them up during the
    /// partition, their FIN was lost, and the server sessions behind them must not linger.
    public func heal() async {
        guard partitioned.withLock({ p in defer { p = false }; return p }) else { return }
        for rule in rules { try? await iptables(["-D"] + rule) }
        if proxy.isRunning { kill(proxy.processIdentifier, SIGUSR1) }
    }

    /// Heals, stops the proxy and waits (bounded) for it to be gone. Polls `isRunning`:
    /// Foundation's `waitUntilExit` spins a run loop on a thread that is not the main one.
    public func close() async {
        await heal()
        proxy.terminate()
        let proxy = self.proxy
        if (try? await waitUntil(5, "the proxy to stop", { !proxy.isRunning })) == nil {
            kill(proxy.processIdentifier, SIGKILL)
            try? await waitUntil(5, "the proxy to die") { !proxy.isRunning }
        }
    }

    /// Removes every rule a test of this kind left (a test killed mid-partition), by comment.
    public static func removeLeftovers() async {
        guard let saved = try? await ChildProcess.run("/usr/sbin/iptables", ["-S", "INPUT"], timeout: 10) else { return }
        for line in saved.output.split(separator: "\n") where line.contains(commentPrefix) && line.hasPrefix("-A ") {
            let spec = line.dropFirst(3).split(separator: " ").map { String($0).replacingOccurrences(of: "\"", with: "") }
            _ = try? await ChildProcess.run("/usr/sbin/iptables", ["-D"] + spec, timeout: 10)
        }
    }

    private var rules: [[String]] {
        let comment = ["-m", "comment", "--comment", "\(Self.commentPrefix)-\(port)", "-j", "DROP"]
        return [["INPUT", "-i", "lo", "-p", "tcp", "--dport", "\(port)"] + comment,
                ["INPUT", "-i", "lo", "-p", "tcp", "--sport", "\(port)"] + comment]
    }

    private func iptables(_ arguments: [String]) async throws {
        let result = try await ChildProcess.run("/usr/sbin/iptables", arguments, timeout: 10)
        guard result.code == 0 else {
            throw Failure("iptables \(arguments.joined(separator: " ")): \(result.errorOutput)")
        }
    }

    /// Whether iptables can be used here (root, the binary present).
    public static var available: Bool {
        getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/iptables")
    }
}

/// Runs `body` with a bad link in front of `upstreamPort`, and heals it and stops its proxy
/// afterwards, thrown or not.
public func withNetworkFault<T>(upstreamPort: Int, delayMs: Int = 0, stallShare: Double = 0, stallMs: Int = 0,
                                _ body: (NetworkFault) async throws -> T) async throws -> T {
    let fault = try await NetworkFault(upstreamPort: upstreamPort, delayMs: delayMs, stallShare: stallShare,
                                       stallMs: stallMs)
    return try await withCleanup(fault, { await $0.close() }, body)
}
