import IngestModel
import Synchronization

/// Several routes behind one `PayloadFormat` (SPEC 4a): a message takes the first route
/// whose filters match its topic, and that route's format decodes it; no match is
/// `topic_mismatch`. The route is normally found by the source, once per topic, and carried
/// in `Message.route`; a message replayed from the journal arrives unrouted and is routed
/// here, through a cache of its own (bounded, under a lock: the replay path, not the live one).
public final class PayloadRouter: PayloadFormat {
    /// One route: the filters that select its messages and the format that reads them.
    public struct Route: Sendable {
        /// Subscription filters (without a shared-group prefix: topics never carry one).
        public let filters: [TopicFilter]
        /// The route's format, configured with its own template and options.
        public let format: any PayloadFormat

        /// Memberwise.
        public init(filters: [TopicFilter], format: any PayloadFormat) {
            self.filters = filters
            self.format = format
        }
    }

    /// In configuration order: the first that matches wins.
    public let routes: [Route]
    /// The largest `maxBytes` of any route: what the source copies at most; each format
    /// still applies its own limit.
    public let maxBytes: Int
    /// `route(for:)` for topics that arrive unrouted.
    private let cache = Mutex<[String: Int32]>([:])
    private static let cacheLimit = 4096

    /// Whether any route's format is ordered (Sparkplug B).
    public let ordered: Bool

    /// At least one route.
    public init(routes: [Route]) {
        precondition(!routes.isEmpty, "a router needs a route")
        self.routes = routes
        maxBytes = routes.map(\.format.maxBytes).max()!
        ordered = routes.contains { $0.format.ordered }
    }

    /// Whether the message's route has an ordered format.
    public func isOrdered(_ message: Message) -> Bool {
        guard ordered else { return false }
        let index = routeIndex(of: message)
        return index < routes.count && routes[Int(index)].format.ordered
    }

    /// Tells every route's format.
    public func replaying(_ on: Bool) {
        for route in routes { route.format.replaying(on) }
    }

    /// The index of the first route matching `topic`, or `routes.count` when none does.
    public func route(for topic: String) -> Int32 {
        Int32(routes.firstIndex { $0.filters.contains { $0.matches(topic) } } ?? routes.count)
    }

    /// Decodes with the message's route's format.
    public func decode(_ message: Message, into rows: inout Batch, ignored: inout IgnoredFields) -> Reject? {
        let index = routeIndex(of: message)
        guard index < routes.count else {
            return Reject(message, reason: .topicMismatch, detail: "no route's topics match the topic")
        }
        return routes[Int(index)].format.decode(message, into: &rows, ignored: &ignored)
    }

    /// The message's route: the one the source found, or (unrouted, a journal replay) the
    /// cached `route(for:)` of its topic.
    private func routeIndex(of message: Message) -> Int32 {
        guard message.route < 0 else { return message.route }
        return cache.withLock { cached in
            if let known = cached[message.topic] { return known }
            if cached.count >= Self.cacheLimit { cached.removeAll(keepingCapacity: true) }
            let found = route(for: message.topic)
            cached[message.topic] = found
            return found
        }
    }
}
