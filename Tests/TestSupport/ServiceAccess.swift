import Testing

/// A readers-writer lock over the shared broker and database: tests that only use them run
/// side by side (`.sharedServices`), tests that stop them or lean on timing run alone
/// (`.exclusiveServices`). Swift Testing runs suites of different targets in parallel, so
/// `.serialized` alone cannot keep a PostgreSQL restart away from another suite's queries.
actor ServiceAccess {
    static let shared = ServiceAccess()

    private var readers = 0
    private var writer = false
    private var waiting: [(exclusive: Bool, continuation: CheckedContinuation<Void, Never>)] = []

    func acquire(exclusive: Bool) async {
        if canEnter(exclusive) && waiting.isEmpty {
            enter(exclusive)
            return
        }
        await withCheckedContinuation { waiting.append((exclusive, $0)) }
    }

    func release(exclusive: Bool) {
        if exclusive { writer = false } else { readers -= 1 }
        while let next = waiting.first, canEnter(next.exclusive) {
            waiting.removeFirst()
            enter(next.exclusive)
            next.continuation.resume()
        }
    }

    private func canEnter(_ exclusive: Bool) -> Bool { exclusive ? !writer && readers == 0 : !writer }

    private func enter(_ exclusive: Bool) {
        if exclusive { writer = true } else { readers += 1 }
    }
}

public struct ServiceAccessTrait: SuiteTrait, TestTrait, TestScoping {
    let exclusive: Bool

    public var isRecursive: Bool { true }

    public func provideScope(for test: Test, testCase: Test.Case?,
                             performing function: @Sendable () async throws -> Void) async throws {
        guard testCase != nil else { return try await function() }
        await ServiceAccess.shared.acquire(exclusive: exclusive)
        do {
            try await function()
        } catch {
            await ServiceAccess.shared.release(exclusive: exclusive)
            throw error
        }
        await ServiceAccess.shared.release(exclusive: exclusive)
    }
}

extension Trait where Self == ServiceAccessTrait {
    /// Uses the broker and database without disturbing them.
    public static var sharedServices: Self { ServiceAccessTrait(exclusive: false) }
    /// Stops or restarts them, or needs the machine to itself for timing.
    public static var exclusiveServices: Self { ServiceAccessTrait(exclusive: true) }
}
