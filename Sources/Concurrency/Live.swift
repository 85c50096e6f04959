/// A value a SIGHUP reload may replace while the daemon runs. Readers take `current` on
/// each use (the queue policy per full-queue event, the retry limit per failed batch, the
/// shutdown timings when the sequence starts), so a reload reaches them without restarting
/// anything; a reader never sees half of an old value and half of a new one.
public final class Live<Value: Sendable>: Sendable {
    private let value: Locked<Value>

    /// `value` is in force until the first `replace`.
    public init(_ value: Value) {
        self.value = Locked(value)
    }

    /// The value in force now.
    public var current: Value { value.withLock { $0 } }

    /// Puts `newValue` in force for every later read.
    public func replace(_ newValue: Value) {
        value.withLock { $0 = newValue }
    }
}
