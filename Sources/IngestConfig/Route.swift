import IngestModel
import PayloadFormats

extension IngestConfiguration {
    /// One entry of `routes` (SPEC 4a): topic filters and the payload format that reads the
    /// messages on them. Without `routes`, `mqtt.topics` and `payload.topic_template` make
    /// the one JSON route every earlier configuration had.
    public struct Route: Sendable, Equatable {
        /// The payload formats a route can name.
        public enum Format: String, Sendable, CaseIterable {
            /// SPEC 4.
            case json
            /// SPEC 4b.
            case sparkplugB = "sparkplug_b"
            /// SPEC 4c.
            case influxLine = "influx_line"
        }

        /// Subscription filters (`mqtt.shared_group` is applied to each when subscribing).
        public var topics: [String]
        /// How the payloads are read.
        public var format: Format
        /// Where the device id (and, for JSON, the metric) sit in the topic; JSON routes
        /// default to `payload.topic_template`, line protocol routes may have none.
        public var topicTemplate: TopicTemplate?
        /// Line protocol: the tag whose value is the device id when a line has it.
        public var deviceTag: String?

        /// Memberwise.
        public init(topics: [String], format: Format, topicTemplate: TopicTemplate?, deviceTag: String? = nil) {
            self.topics = topics
            self.format = format
            self.topicTemplate = topicTemplate
            self.deviceTag = deviceTag
        }

        /// `topics` as filters (every one was validated at load).
        public var filters: [TopicFilter] { topics.compactMap(TopicFilter.init) }

        /// What `check-config` prints for it.
        var json: JSONValue {
            var fields: [(String, JSONValue)] = [("topics", .array(topics.map(JSONValue.string))),
                                                 ("format", .string(format.rawValue))]
            if let topicTemplate { fields.append(("topic_template", .string(topicTemplate.description))) }
            if let deviceTag { fields.append(("device_tag", .string(deviceTag))) }
            return .object(fields)
        }
    }

    /// What to subscribe to: every route's filters, with `$share/<group>/` when a shared
    /// group is set.
    public var subscriptions: [String] {
        let topics = routes.flatMap(\.topics)
        guard let group = mqtt.sharedGroup else { return topics }
        return topics.map { "$share/\(group)/\($0)" }
    }
}
