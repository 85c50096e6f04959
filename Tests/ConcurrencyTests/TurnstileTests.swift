import Concurrency
import Testing

@Suite struct TurnstileTests {
    /// Tasks that reach the turnstile in reverse order still take their turns in ticket order.
    @Test func turnsFollowTicketsWhateverOrderTheTasksArriveIn() async {
        let turnstile = Turnstile()
        let order = Locked<[UInt64]>([])
        await withTaskGroup(of: Void.self) { group in
            for ticket in (0..<20).reversed() {
                group.addTask {
                    if ticket % 3 == 1 {
                        turnstile.done(UInt64(ticket))  // nothing to do in order: never waits
                        return
                    }
                    await turnstile.turn(UInt64(ticket))
                    order.withLock { $0.append(UInt64(ticket)) }
                    turnstile.done(UInt64(ticket))
                }
            }
        }
        let expected: [UInt64] = (0..<20).filter { $0 % 3 != 1 }.map { UInt64($0) }
        let seen = order.withLock { $0 }
        #expect(seen == expected)
        #expect(turnstile.next == 20)
    }

    @Test func aTicketWhoseTurnHasComeDoesNotWait() async {
        let turnstile = Turnstile()
        turnstile.done(1)
        turnstile.done(0)
        #expect(turnstile.next == 2)
        await turnstile.turn(2)
        turnstile.done(2)
        #expect(turnstile.next == 3)
    }
}
