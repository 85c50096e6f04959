@testable import PostgresSink
import Testing

/// The search alone, over a fake "does this range go in" predicate: no database.
@Suite struct BisectionTests {
    /// Runs the search over `count` units of which `bad` are refused; returns the refusals
    /// and every range attempted.
    func search(_ count: Int, bad: Set<Int>) -> (refused: [Bisection.Refusal], attempts: [Range<Int>]) {
        var attempts: [Range<Int>] = []
        let refused = Bisection.refusals(count: count) { (range: Range<Int>) -> String? in
            attempts.append(range)
            return range.contains(where: bad.contains) ? "bad \(range)" : nil
        }
        return (refused, attempts)
    }

    @Test func allGoodIsOneAttempt() {
        let (refused, attempts) = search(1_000, bad: [])
        #expect(refused.isEmpty && attempts == [0..<1_000])
    }

    @Test func eachRefusedUnitStandsAloneInOrderWithItsOwnReason() {
        let bad: Set = [0, 17, 18, 999]
        let (refused, attempts) = search(1_000, bad: bad)
        #expect(refused.map(\.index) == [0, 17, 18, 999])
        #expect(refused.map(\.reason) == ["bad 0..<1", "bad 17..<18", "bad 18..<19", "bad 999..<1000"])
        #expect(attempts.count < 4 * 2 * 10 + 1, "about 2k log2(n) attempts, not n")
        let accepted = attempts.filter { !$0.contains(where: bad.contains) }
        #expect(Set(accepted.flatMap { $0 }).count == 1_000 - bad.count, "every good unit went in once")
        #expect(accepted.flatMap { $0 }.count == 1_000 - bad.count)
    }

    @Test func aSingleRefusedUnitIsNotRetriedAndNothingIsNoAttempt() {
        #expect(search(1, bad: [0]).attempts == [0..<1])
        #expect(search(0, bad: []).attempts.isEmpty)
    }

    @Test func anErrorEndsTheSearch() {
        struct Lost: Error {}
        var attempts = 0
        #expect(throws: Lost.self) {
            try Bisection.refusals(count: 8) { (range: Range<Int>) throws(Lost) -> String? in
                attempts += 1
                if attempts == 3 { throw Lost() }
                return "refused"
            }
        }
        #expect(attempts == 3)
    }
}
