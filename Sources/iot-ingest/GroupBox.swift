import Concurrency
import ServiceLifecycle

/// The ServiceGroup, handed to services created before it (the signal service needs to
/// trigger the group it is part of).
final class GroupBox: Sendable {
    private let group = Locked<ServiceGroup?>(nil)

    func set(_ g: ServiceGroup) { group.withLock { $0 = g } }

    func trigger() async {
        await group.withLock { $0 }?.triggerGracefulShutdown()
    }
}
