/// At most one event per `interval` seconds per key, counting the ones in between: what keeps
/// a flood of bad payloads or dropped messages from becoming a flood of log lines (SPEC 4),
/// while the next line still says how many it stands for. Shared by every rate-limited log.
public final class RateLimit<Key: Hashable & Sendable>: Sendable {
    private struct Slot {
        var last = -Double.infinity
        var suppressed = 0
    }

    private let slots = Locked<[Key: Slot]>([:])
    private let interval: Double

    /// One event per `interval` seconds per key.
    public init(interval: Double = 1) {
        self.interval = interval
    }

    /// Nil: stay quiet (counted). Otherwise the event is due, and the number is how many were
    /// kept quiet since the last one. `now` is a monotonic time in seconds.
    public func admit(_ key: Key, now: Double) -> Int? {
        slots.withLock { slots in
            var slot = slots[key] ?? Slot()
            defer { slots[key] = slot }
            guard now - slot.last >= interval else {
                slot.suppressed += 1
                return nil
            }
            let count = slot.suppressed
            slot.last = now
            slot.suppressed = 0
            return count
        }
    }

    /// Forgets `key`: its next event is due at once, with nothing counted as kept quiet
    /// (a condition that ended, whose next spell is news).
    public func reset(_ key: Key) {
        _ = slots.withLock { $0.removeValue(forKey: key) }
    }
}
