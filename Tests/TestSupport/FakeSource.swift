import Concurrency
import Foundation
import IngestModel
import Testing

/// A source that delivers what the test gives it, on a thread of its own (as libmosquitto's
/// network thread does); its `stop` can be made to hang.
public final class FakeSource: MessageSource {
    public let inlet = Locked<(any MessageInlet)?>(nil)
    public let stopped = Locked(false)
    public let stopHangs: Bool

    public init(stopHangs: Bool = false) {
        self.stopHangs = stopHangs
    }

    public func start(delivering inlet: any MessageInlet) throws { self.inlet.withLock { $0 = inlet } }

    public func stop() {
        if stopHangs { sleep(30) }
        stopped.withLock { $0 = true }
    }

    public func send(_ messages: [Message]) async throws {
        let inlet = try #require(self.inlet.withLock { $0 })
        try await DedicatedThread.run { for m in messages { inlet.deliver(m) } }
    }
}
