import Concurrency
import Testing

@Suite struct RateLimitTests {
    @Test func oncePerIntervalPerKeyCountingTheQuietOnes() {
        let limit = RateLimit<String>(interval: 1)
        #expect(limit.admit("a", now: 10) == 0)
        #expect(limit.admit("a", now: 10.2) == nil)
        #expect(limit.admit("b", now: 10.3) == 0, "keys are independent")
        #expect(limit.admit("a", now: 10.9) == nil)
        #expect(limit.admit("a", now: 11.0) == 2, "two kept quiet since the last")
        #expect(limit.admit("a", now: 11.5) == nil)
    }
}
