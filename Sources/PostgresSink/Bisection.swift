/// Finds the rows a store refuses among many, with few attempts: the whole range first; a
/// refused range is split in halves, each tried on its own, until the refused rows stand
/// alone. k bad rows among n cost about 2k·log2(n) attempts, and none when all are good.
/// The writer (a batch's readings) and the spool replay (a file's lines) both use it, each
/// attempt under a savepoint of the transaction that commits the rest.
enum Bisection {
    /// A unit refused on its own, and why (its attempt's message).
    struct Refusal: Equatable {
        var index: Int
        var reason: String
    }

    /// Bisects `0..<count`. `attempt` tries a range and returns nil when it went in, or the
    /// reason it was refused (having undone it). Refusals come back in index order. An
    /// error `attempt` throws (not a refusal: the connection is gone) ends the search.
    static func refusals<E: Error>(count: Int,
                                   attempt: (Range<Int>) throws(E) -> String?) throws(E) -> [Refusal] {
        var refused: [Refusal] = []
        var pending: [Range<Int>] = count > 0 ? [0..<count] : []  // the last is tried first
        while let range = pending.popLast() {
            guard let reason = try attempt(range) else { continue }
            if range.count == 1 {
                refused.append(Refusal(index: range.lowerBound, reason: reason))
            } else {
                let middle = range.lowerBound + range.count / 2
                pending.append(middle..<range.upperBound)
                pending.append(range.lowerBound..<middle)
            }
        }
        // The stack walks the ranges first to last, so `refused` is already in index order.
        return refused
    }
}
