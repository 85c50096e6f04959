import Synchronization

/// The process exit code decided by the shutdown sequence.
final class ExitCodeBox: Sendable {
    private let code = Mutex<Int32>(0)
    func set(_ c: Int32) { code.withLock { $0 = c } }
    var value: Int32 { code.withLock { $0 } }
}
