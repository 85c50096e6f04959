import IngestModel
import PayloadFormats

/// The daemon's effective configuration (SPEC 3), typed and validated. Built only by
/// `ConfigurationLoader`, so every instance has passed validation.
public struct IngestConfiguration: Sendable, Equatable {
    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        public var insecure: Bool
    }

    public struct MQTT: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var clientID: String
        public var topics: [String]
        public var qos: Int
        public var cleanSession: Bool
        public var sharedGroup: String?
        public var keepaliveSeconds: Int
        public var username: String?
        /// From `mqtt.password`, or read from `mqtt.password_file` at load time.
        public var password: String?
        public var tls: TLS
        public var reconnectMinSeconds: Int
        public var reconnectMaxSeconds: Int

        /// What we subscribe to: `$share/<group>/<topic>` when a shared group is set.
        public var subscriptions: [String] {
            guard let group = sharedGroup else { return topics }
            return topics.map { "$share/\(group)/\($0)" }
        }
    }

    public struct Payload: Sendable, Equatable {
        public var topicTemplate: TopicTemplate
        public var maxBytes: Int
    }

    public struct Database: Sendable, Equatable {
        public var url: String
        public var poolSize: Int
        public var table: String
        public var createSchema: Bool
        public var dedupe: Bool
    }

    public struct Queue: Sendable, Equatable {
        /// `queue.full_policy`: what the MQTT thread does when the queue is full.
        public enum FullPolicy: String, Sendable, CaseIterable {
            /// Wait for room: back-pressure reaches the broker.
            case block
            /// Refuse the new message at once; it is counted as dropped.
            case dropNewest = "drop_newest"
        }

        public var capacity: Int
        public var fullPolicy: FullPolicy
    }

    public struct BatchSettings: Sendable, Equatable {
        public var maxRows: Int
        public var flushIntervalMs: Int
        public var maxRetries: Int
    }

    public struct Journal: Sendable, Equatable {
        public var enabled: Bool
        /// `journal.dir`, defaulting to `<spool.dir>/journal`.
        public var directory: String
        public var maxBytes: Int
        public var fsyncIntervalMs: Int
    }

    public struct Shutdown: Sendable, Equatable {
        public var drainTimeoutSeconds: Double
        public var timeoutSeconds: Double
    }

    public struct HTTP: Sendable, Equatable {
        public var host: String
        /// 0 disables the server.
        public var port: Int
        /// From `http.admin_token`, or read from `http.admin_token_file` at load time; nil
        /// (the default) leaves `POST /admin/reload` answering 404.
        public var adminToken: String? = nil
    }

    public struct Log: Sendable, Equatable {
        public enum Format: String, Sendable { case json, text }
        public var level: String
        public var format: Format
        /// `log.fields`: static fields on every line, so the lines of several replicas can be
        /// told apart in one log store (SPEC 3). Needs a restart to change.
        public var fields: [String: String] = [:]

        /// The fields the line writer puts first on every line itself (SPEC 11).
        public static let lineFields: Set<String> = ["ts", "level", "event", "service"]
        /// Names `log.fields` cannot take: the line's own, and `instance` (SPEC 3).
        public static let reservedFields: Set<String> = lineFields.union(["instance"])
    }

    public var mqtt: MQTT
    public var payload: Payload
    public var database: Database
    public var queue: Queue
    public var workers: Int
    public var batch: BatchSettings
    public var shutdown: Shutdown
    public var spoolDirectory: String
    public var journal: Journal
    public var http: HTTP
    public var log: Log
    /// Where the file came from, if any (for reload and for `config_loaded`).
    public var filePath: String?
    /// The flat effective values, secrets masked: what `check-config` prints and
    /// `config_loaded` logs, and what reload diffs.
    public var redacted: [String: JSONValue]
    /// What the loader adjusted rather than refused (logged as `config_warning` at start-up).
    public var warnings: [String] = []
}
