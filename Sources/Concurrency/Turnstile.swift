/// Lets tasks that run in parallel do one step in the order of their tickets 0, 1, 2...: a
/// task awaits `turn(_:)` with its ticket, does the step, and calls `done(_:)`; a task with
/// nothing to do in order calls `done(_:)` alone, without waiting. Every ticket must be done
/// exactly once, or the later ones wait for ever.
///
/// The workers use it to decode Sparkplug B messages in the order they left the queue while
/// decoding everything else in parallel. Waiting suspends the task (no thread is parked), and
/// it cannot deadlock as long as tickets are handed out in order and each holder reaches
/// `done`: the lowest ticket not yet done never waits.
public final class Turnstile: Sendable {
    private struct State {
        /// The lowest ticket not yet done.
        var next: UInt64 = 0
        /// Tickets above `next` already done.
        var doneAhead: Set<UInt64> = []
        /// Tasks waiting for their turn, by ticket.
        var waiting: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Locked(State())

    /// Ticket 0 goes first.
    public init() {}

    /// Returns once every ticket below `ticket` is done.
    public func turn(_ ticket: UInt64) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.next == ticket { return true }
                s.waiting[ticket] = continuation
                return false
            }
            if now { continuation.resume() }
        }
    }

    /// Marks `ticket` done and lets the next waiting ticket go.
    public func done(_ ticket: UInt64) {
        let wake = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if ticket == s.next {
                s.next += 1
                while s.doneAhead.remove(s.next) != nil { s.next += 1 }
                return s.waiting.removeValue(forKey: s.next)
            }
            if ticket > s.next { s.doneAhead.insert(ticket) }
            return nil
        }
        wake?.resume()
    }

    /// The lowest ticket not yet done (tests).
    public var next: UInt64 { state.withLock { $0.next } }
}
