/// Runs `bodies` concurrently and returns the result of the first to finish; the others are
/// cancelled and not awaited.
///
/// Not a task group on purpose: a group waits for every child before it returns, and a
/// loser may be stuck in work that only its own timeout or the end of the process stops.
public func firstFinished<T: Sendable>(_ bodies: [@Sendable () async -> T]) async -> T {
    precondition(!bodies.isEmpty)
    let race = Race<T>()
    let result = await withCheckedContinuation { (continuation: CheckedContinuation<T, Never>) in
        race.winner.withLock { $0 = continuation }
        let started = bodies.map { body in
            Task { race.finish(await body()) }
        }
        race.tasks.withLock { $0 = started }
    }
    for task in race.tasks.withLock({ $0 }) { task.cancel() }
    return result
}

/// The shared state of one `firstFinished`: the continuation the first result claims.
private final class Race<T: Sendable>: Sendable {
    let winner = Locked<CheckedContinuation<T, Never>?>(nil)
    let tasks = Locked<[Task<Void, Never>]>([])

    func finish(_ value: T) {
        winner.withLock { slot in
            defer { slot = nil }
            return slot
        }?.resume(returning: value)
    }
}
