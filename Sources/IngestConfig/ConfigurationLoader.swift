internal import Foundation
import IngestModel
import PayloadFormats
internal import Yams

/// Builds an `IngestConfiguration` from SPEC 3's four sources, highest precedence first:
/// command-line flags and `--set`, `INGEST_*` environment variables, the YAML file, defaults.
///
/// Why not swift-configuration: its readers pull one key at a time, so it cannot tell us
/// about unknown keys in the file or in `--set`, nor gather every problem into one report
/// before exiting 2, and `check-config` would still need the key table below to print the
/// effective configuration. With the table, the whole loader is this one file over Yams.
public enum ConfigurationLoader {
    /// Where to look: the command line's config path and overrides, and the environment.
    public struct Inputs: Sendable {
        /// `--config`; when nil, `INGEST_CONFIG`, then `config/ingest.yaml` if it exists.
        public var configPath: String?
        /// Read for `INGEST_CONFIG` and `INGEST_*` keys; tests pass their own.
        public var environment: [String: String]
        /// `--set key=value` and the dedicated flags, already as (key, value), later wins.
        public var overrides: [(key: String, value: String)]
        /// Used when neither `--config` nor `INGEST_CONFIG` names a file; skipped if it does not exist.
        public var defaultFilePath = "config/ingest.yaml"

        /// A nil `environment` means the process's.
        public init(configPath: String? = nil, environment: [String: String]? = nil,
                    overrides: [(key: String, value: String)] = []) {
            self.configPath = configPath
            self.environment = environment ?? ProcessInfo.processInfo.environment
            self.overrides = overrides
        }
    }

    private enum Raw {
        case scalar(String)
        /// The YAML node of a structured key (`routes`), read as is.
        case yaml(Node)
        case list([String])
        case mapping([(String, String)])
        case null
        case invalid(String)
    }

    /// Reads every source and checks every key; throws all problems at once, never a partial
    /// configuration. Also reads the secret files and checks that the TLS files are readable.
    public static func load(_ inputs: Inputs) throws(ConfigurationError) -> IngestConfiguration {
        var problems: [ConfigurationProblem] = []
        var raw: [String: (Raw, String)] = [:]  // path -> value, source

        let filePath = inputs.configPath ?? inputs.environment["INGEST_CONFIG"]
            ?? (FileManager.default.fileExists(atPath: inputs.defaultFilePath) ? inputs.defaultFilePath : nil)
        if let filePath {
            readFile(filePath, into: &raw, problems: &problems)
        }
        for key in ConfigurationKey.all {
            if let value = inputs.environment[key.environmentName] {
                raw[key.path] = (.scalar(value), key.environmentName)
            }
        }
        for (key, value) in inputs.overrides {
            guard ConfigurationKey.byPath[key] != nil else {
                problems.append(.init(key: key, value: nil, reason: "unknown key (from --set)"))
                continue
            }
            raw[key] = (.scalar(value), "command line")
        }

        var values = Values()
        values.explicit = Set(raw.keys)
        for key in ConfigurationKey.all {
            let (value, source) = raw[key.path] ?? (key.defaultValue.map(Raw.scalar) ?? .null, "default")
            do {
                values.typed[key.path] = try parse(value, as: key)
            } catch {
                problems.append(.init(key: key.path, value: display(value, key), reason: "\(error.why) (from \(source))"))
            }
        }
        var configuration: IngestConfiguration?
        do {
            configuration = try build(values, filePath: filePath)
        } catch {
            problems += error.problems
        }
        guard problems.isEmpty, let configuration else { throw ConfigurationError(problems: problems) }
        return configuration
    }

    // MARK: - File

    private static func readFile(_ path: String, into raw: inout [String: (Raw, String)],
                                 problems: inout [ConfigurationProblem]) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            problems.append(.init(key: "config", value: path, reason: "cannot read the configuration file"))
            return
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            // Only the first line: Yams appends the offending line of the file, which may
            // hold a secret (an unclosed quote on a password line).
            let why = String(describing: error).prefix { $0 != "\n" }
            problems.append(.init(key: "config", value: path, reason: "bad YAML: \(why)"))
            return
        }
        guard let root else { return }  // empty file: defaults
        guard let mapping = root.mapping else {
            problems.append(.init(key: "config", value: path, reason: "the file must be a YAML mapping"))
            return
        }
        walk(mapping, prefix: "", source: path, into: &raw, problems: &problems)
    }

    private static func walk(_ mapping: Node.Mapping, prefix: String, source: String,
                             into raw: inout [String: (Raw, String)], problems: inout [ConfigurationProblem]) {
        for (keyNode, value) in mapping {
            guard let name = keyNode.string else { continue }
            let path = prefix + name
            if let key = ConfigurationKey.byPath[path] {
                if case .routes = key.kind { raw[path] = (.yaml(value), source); continue }
                raw[path] = (rawValue(value), source)
            } else if let nested = value.mapping, ConfigurationKey.all.contains(where: { $0.path.hasPrefix(path + ".") }) {
                walk(nested, prefix: path + ".", source: source, into: &raw, problems: &problems)
            } else {
                problems.append(.init(key: path, value: nil, reason: "unknown key (in \(source))"))
            }
        }
    }

    private static func rawValue(_ node: Node) -> Raw {
        switch node {
        case .scalar(let scalar):
            if node.null != nil && scalar.style == .plain { return .null }
            return .scalar(scalar.string)
        case .sequence(let sequence):
            var items: [String] = []
            for item in sequence {
                guard case .scalar(let s) = item else { return .invalid("a list of plain values") }
                items.append(s.string)
            }
            return .list(items)
        case .mapping(let mapping):
            var pairs: [(String, String)] = []
            for (key, value) in mapping {
                guard let name = key.string, case .scalar(let s) = value else { return .invalid("a nested mapping") }
                pairs.append((name, s.string))
            }
            return .mapping(pairs)
        default:
            return .invalid("a value of another shape")
        }
    }

    // MARK: - Values

    private struct Why: Error { let why: String }

    enum Value: Equatable {
        case string(String?)
        case int(Int)
        case double(Double)
        case bool(Bool)
        case list([String])
        case map([String: String])
        case routes([IngestConfiguration.Route])
    }

    private struct Values {
        var typed: [String: Value] = [:]
        /// Keys some source set (the rest hold their defaults).
        var explicit: Set<String> = []
        func string(_ k: String) -> String { if case .string(let s?) = typed[k] { return s }; return "" }
        func optional(_ k: String) -> String? { if case .string(let s) = typed[k] { return s }; return nil }
        func int(_ k: String) -> Int { if case .int(let i) = typed[k] { return i }; return 0 }
        func has(_ keys: String...) -> Bool { keys.allSatisfy { typed[$0] != nil } }
        func double(_ k: String) -> Double { if case .double(let d) = typed[k] { return d }; return 0 }
        func bool(_ k: String) -> Bool { if case .bool(let b) = typed[k] { return b }; return false }
        func list(_ k: String) -> [String] { if case .list(let l) = typed[k] { return l }; return [] }
        func map(_ k: String) -> [String: String] { if case .map(let m) = typed[k] { return m }; return [:] }
        func routes(_ k: String) -> [IngestConfiguration.Route] { if case .routes(let r) = typed[k] { return r }; return [] }
    }

    private static func display(_ raw: Raw, _ key: ConfigurationKey) -> String? {
        switch raw {
        case .scalar(let s): return mask(s, key)
        case .list(let l): return mask(l.joined(separator: ","), key)
        case .mapping(let m): return mask(m.map { "\($0.0)=\($0.1)" }.joined(separator: ","), key)
        case .null, .invalid, .yaml: return nil
        }
    }

    private static func mask(_ s: String, _ key: ConfigurationKey) -> String {
        switch key.secret {
        case .no: return s
        case .whole: return Redaction.mask
        case .urlPassword: return Redaction.databaseURL(s)
        }
    }

    private static func parse(_ raw: Raw, as key: ConfigurationKey) throws(Why) -> Value {
        let text: String
        switch raw {
        case .invalid(let what): throw Why(why: "expected a value, got \(what)")
        case .yaml(let node): return try parseRoutes(node)
        case .null:
            if case .optionalString = key.kind { return .string(nil) }
            if key.path == "mqtt.client_id" { return .string(nil) }
            if case .map = key.kind { return .map([:]) }
            if case .intervals = key.kind { return .list([]) }
            if case .routes = key.kind { return .routes([]) }
            throw Why(why: "must not be empty")
        case .mapping(let pairs):
            guard case .map = key.kind else { throw Why(why: "expected a single value, got a mapping") }
            return try parseMap(pairs)
        case .list(let items):
            if case .intervals = key.kind { return try parseIntervals(items) }
            if case .routes = key.kind { throw Why(why: "expected a list of mappings (topics, format, ...)") }
            guard case .list = key.kind else { throw Why(why: "expected a single value, got a list") }
            return try parseList(items)
        case .scalar(let s):
            text = s.trimmingCharacters(in: .whitespaces)
        }
        switch key.kind {
        case .string:
            guard !text.isEmpty else { throw Why(why: "must not be empty") }
            return .string(text)
        case .optionalString:
            return .string(text.isEmpty ? nil : text)
        case .int(let range):
            guard let i = Int(text) else { throw Why(why: "must be an integer") }
            guard range.contains(i) else { throw Why(why: "must be between \(range.lowerBound) and \(range.upperBound)") }
            return .int(i)
        case .positive:
            guard let d = Double(text), d.isFinite else { throw Why(why: "must be a number") }
            guard d > 0 else { throw Why(why: "must be greater than 0") }
            return .double(d)
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "on", "1": return .bool(true)
            case "false", "no", "off", "0": return .bool(false)
            default: throw Why(why: "must be true or false")
            }
        case .list:
            return try parseList(text.split(separator: ",").map { String($0) })
        case .map:
            // `name=value,name=value` (environment and --set); `{}` or empty: no fields.
            guard !text.isEmpty, text != "{}" else { return .map([:]) }
            var pairs: [(String, String)] = []
            for item in text.split(separator: ",") {
                guard let eq = item.firstIndex(of: "=") else { throw Why(why: "expected name=value pairs separated by commas") }
                pairs.append((String(item[..<eq]), String(item[item.index(after: eq)...])))
            }
            return try parseMap(pairs)
        case .interval(let offAllowed):
            if offAllowed, ["off", "none", "false"].contains(text.lowercased()) { return .string("off") }
            guard let interval = LifecycleInterval(text) else {
                throw Why(why: "must be a length like '7 days' or '1 hour' (units: seconds, minutes, hours, days, weeks)"
                          + (offAllowed ? ", or off" : ""))
            }
            return .string(interval.sql)
        case .routes:
            // env and --set: the list in YAML's flow style.
            guard !text.isEmpty else { return .routes([]) }
            guard let node = try? Yams.compose(yaml: text) else {
                throw Why(why: "expected a YAML list of mappings, e.g. [{topics: [a/#], format: influx_line}]")
            }
            return try parseRoutes(node)
        case .intervals:
            // `[]` or nothing from env / --set: no roll-ups.
            guard text != "[]" else { return .list([]) }
            return try parseIntervals(text.split(separator: ",").map { String($0) })
        case .choice(let options):
            guard options.contains(text.lowercased()) else {
                throw Why(why: "must be one of \(options.joined(separator: ", "))")
            }
            return .string(text.lowercased())
        }
    }

    /// Names are trimmed and unique; the names every log line already has are taken.
    private static func parseMap(_ pairs: [(String, String)]) throws(Why) -> Value {
        var fields: [String: String] = [:]
        let reserved = IngestConfiguration.Log.reservedFields
        for (rawName, value) in pairs {
            let name = rawName.trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { throw Why(why: "a field name must not be empty") }
            guard !reserved.contains(name) else {
                throw Why(why: "'\(name)' is a field every line already has (\(reserved.sorted().joined(separator: ", ")))")
            }
            guard fields[name] == nil else { throw Why(why: "field '\(name)' is given twice") }
            fields[name] = value.trimmingCharacters(in: .whitespaces)
        }
        return .map(fields)
    }

    private static func parseList(_ items: [String]) throws(Why) -> Value {
        let cleaned = items.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !cleaned.isEmpty else { throw Why(why: "must list at least one value") }
        return .list(cleaned)
    }

    /// Roll-up lengths in canonical form; the same length twice (`60 minutes`, `1 hour`)
    /// would name one view twice.
    private static func parseIntervals(_ items: [String]) throws(Why) -> Value {
        var seen: [LifecycleInterval] = []
        for item in items.map({ $0.trimmingCharacters(in: .whitespaces) }) where !item.isEmpty {
            guard let interval = LifecycleInterval(item) else {
                throw Why(why: "'\(item)' is not a length like '1 minute' or '1 hour' (units: seconds, minutes, hours, days, weeks)")
            }
            guard !seen.contains(interval) else { throw Why(why: "\(interval) is given twice") }
            seen.append(interval)
        }
        return .list(seen.sorted().map(\.sql))
    }

    /// `routes`: each a mapping of `topics` (a list or one filter), `format` (default json),
    /// `topic_template` and, for line protocol, `device_tag`; every problem names the route.
    private static func parseRoutes(_ node: Node) throws(Why) -> Value {
        if node.null != nil { return .routes([]) }  // `routes:` left empty: none
        guard let items = node.sequence else { throw Why(why: "expected a list of routes") }
        var routes: [IngestConfiguration.Route] = []
        for (n, item) in items.enumerated() {
            let name = "route \(n + 1)"
            guard let mapping = item.mapping else { throw Why(why: "\(name) is not a mapping") }
            var fields: [String: Node] = [:]
            for (keyNode, value) in mapping {
                guard let key = keyNode.string, ["topics", "format", "topic_template", "device_tag"].contains(key) else {
                    throw Why(why: "\(name): unknown key '\(keyNode.string ?? "?")' (topics, format, topic_template, device_tag)")
                }
                fields[key] = value
            }
            /// A plain value, or the problem naming the field.
            func scalar(_ key: String) throws(Why) -> String? {
                guard let node = fields[key] else { return nil }
                guard case .scalar(let value) = node else { throw Why(why: "\(name): \(key) must be a single value") }
                return value.string
            }
            var topics: [String] = []
            if let list = fields["topics"]?.sequence {
                for element in list {
                    guard case .scalar(let value) = element else { throw Why(why: "\(name): topics must be filters") }
                    topics.append(value.string)
                }
            } else if let one = try scalar("topics") {
                topics = [one]
            }
            guard !topics.isEmpty else { throw Why(why: "\(name) needs topics") }
            for topic in topics {
                guard TopicFilter(topic) != nil else { throw Why(why: "\(name): '\(topic)' is not a valid MQTT topic filter") }
                if topic.hasPrefix("$share/") || topic.hasPrefix("$queue/") {
                    throw Why(why: "\(name): '\(topic)': set mqtt.shared_group instead (topics never carry the prefix)")
                }
            }
            let formatName = try scalar("format") ?? "json"
            guard let format = IngestConfiguration.Route.Format(rawValue: formatName) else {
                throw Why(why: "\(name): format must be one of json, sparkplug_b, influx_line")
            }
            var template: TopicTemplate?
            if let text = try scalar("topic_template") {
                do { template = try TopicTemplate(text) } catch { throw Why(why: "\(name): topic_template: \(error)") }
            }
            if format == .sparkplugB, template != nil {
                throw Why(why: "\(name): a sparkplug_b route takes no topic_template (device ids come from the Sparkplug topic)")
            }
            let deviceTag = try scalar("device_tag")
            if deviceTag != nil, format != .influxLine { throw Why(why: "\(name): device_tag is for influx_line routes") }
            if format == .influxLine, deviceTag == nil, template?.hasDeviceID != true {
                throw Why(why: "\(name): an influx_line route needs a device_tag or a topic_template with {device_id}")
            }
            routes.append(.init(topics: topics, format: format, topicTemplate: template, deviceTag: deviceTag))
        }
        return .routes(routes)
    }

    // MARK: - Cross-key validation and assembly

    private struct Problems: Error { var problems: [ConfigurationProblem] }

    private static func build(_ values: Values, filePath: String?) throws(Problems) -> IngestConfiguration {
        var v = values
        var problems: [ConfigurationProblem] = []
        func fail(_ key: String, _ value: String?, _ why: String) {
            problems.append(.init(key: key, value: value, reason: why))
        }

        let template: TopicTemplate
        do {
            template = try TopicTemplate(v.string("payload.topic_template"))
        } catch {
            if v.has("payload.topic_template") {
                fail("payload.topic_template", v.string("payload.topic_template"), error.description)
            }
            template = try! TopicTemplate("{device_id}")
        }
        let table = v.string("database.table")
        if v.has("database.table"), !isPlainIdentifier(table) {
            fail("database.table", table, "must be a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*)")
        } else if table.utf8.count > 42 {
            // PostgreSQL cuts identifiers at 63 bytes: the longest derived name,
            // `<table>_text_device_time_idx`, must stay whole, or the dedupe index would be
            // taken for it and silently not created.
            fail("database.table", table, "at most 42 characters (it names <table>_text_device_time_idx)")
        }
        let timescale = IngestConfiguration.Timescale(
            chunkInterval: LifecycleInterval(v.string("timescale.chunk_interval")) ?? LifecycleInterval(seconds: 86_400),
            compressAfter: LifecycleInterval(v.string("timescale.compress_after")),
            retainFor: LifecycleInterval(v.string("timescale.retain_for")),
            rollups: v.list("timescale.rollups").compactMap(LifecycleInterval.init))
        if v.has("timescale.chunk_interval"), timescale.chunkInterval.seconds < 60 {
            fail("timescale.chunk_interval", timescale.chunkInterval.sql, "must be at least 1 minute")
        }
        if let retain = timescale.retainFor, let shortest = timescale.shortestRetention, retain < shortest {
            fail("timescale.retain_for", retain.sql, "must be at least \(shortest) (timescale.chunk_interval plus three "
                 + "buckets of the longest roll-up), or roll-up refreshes would reach dropped chunks")
        }
        var warnings: [String] = []
        var routes = v.routes("routes")
        if routes.isEmpty {
            routes = [.init(topics: v.list("mqtt.topics"), format: .json, topicTemplate: template)]
        } else if v.explicit.contains("mqtt.topics") {
            warnings.append("mqtt.topics is not used: routes name the topics")
        }
        for (i, route) in routes.enumerated() where route.format == .json && route.topicTemplate == nil {
            routes[i].topicTemplate = template
        }
        for (i, route) in routes.enumerated() where v.explicit.contains("routes") {
            // The broker delivers a message once per matching subscription: overlapping
            // filters in one route would store it twice.
            let filters = route.filters
            for (x, a) in filters.enumerated() {
                if let b = filters[(x + 1)...].first(where: { a.overlaps($0) }) {
                    fail("routes", nil, "route \(i + 1)'s '\(a)' and '\(b)' can match the same topic (it would arrive twice)")
                }
            }
            // A template no topic of the route can have would reject every message.
            if let template = route.topicTemplate, let shape = TopicFilter(template.filterShape),
               let never = filters.first(where: { !$0.overlaps(shape) }) {
                fail("routes", nil, "route \(i + 1)'s '\(never)' never matches its topic template '\(template)'")
            }
        }
        for (i, a) in routes.enumerated() {
            for (j, b) in routes.enumerated() where j > i {
                if let (x, y) = a.filters.lazy.flatMap({ x in b.filters.lazy.map { (x, $0) } }).first(where: { $0.overlaps($1) }) {
                    fail("routes", nil, "route \(i + 1)'s '\(x)' and route \(j + 1)'s '\(y)' can match the same topic")
                }
            }
        }
        for topic in v.list("mqtt.topics") where TopicFilter(topic) == nil {
            fail("mqtt.topics", topic, "not a valid MQTT topic filter")
        }
        if let host = v.optional("sparkplug.host_id"), host.isEmpty || host.contains(where: { "/+#".contains($0) }) {
            fail("sparkplug.host_id", host, "must be non-empty and not contain '/', '+' or '#'")
        }
        if let group = v.optional("mqtt.shared_group"), group.contains(where: { "/+#".contains($0) }) {
            fail("mqtt.shared_group", group, "must not contain '/', '+' or '#'")
        }
        if v.has("mqtt.reconnect_max_s", "mqtt.reconnect_min_s"), v.int("mqtt.reconnect_max_s") < v.int("mqtt.reconnect_min_s") {
            fail("mqtt.reconnect_max_s", String(v.int("mqtt.reconnect_max_s")), "must be >= mqtt.reconnect_min_s")
        }
        if v.has("shutdown.drain_timeout_s", "shutdown.timeout_s"),
           v.double("shutdown.drain_timeout_s") >= v.double("shutdown.timeout_s") {
            let timeout = v.double("shutdown.timeout_s")
            if v.explicit.contains("shutdown.drain_timeout_s") {
                fail("shutdown.drain_timeout_s", String(v.double("shutdown.drain_timeout_s")),
                     "must be below shutdown.timeout_s (\(timeout))")
            } else {
                // Only the deadline was shortened: keep the daemon running, with the default
                // drain capped to half the deadline (the rest is for the flush).
                v.typed["shutdown.drain_timeout_s"] = .double(timeout / 2)
                warnings.append("shutdown.drain_timeout_s capped to \(timeout / 2) s: the default of "
                                + "10 s is not below shutdown.timeout_s (\(timeout) s)")
            }
        }
        /// A secret given inline or in a file (the file's trailing newline is not part of it).
        func secret(_ key: String, file fileKey: String) -> String? {
            guard let file = v.optional(fileKey) else { return v.optional(key) }
            guard v.optional(key) == nil else {
                fail(fileKey, file, "set either \(key) or \(fileKey), not both")
                return nil
            }
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                fail(fileKey, file, "cannot read the file")
                return nil
            }
            return contents.trimmingCharacters(in: .newlines)
        }
        let password = secret("mqtt.password", file: "mqtt.password_file")
        let adminToken = secret("http.admin_token", file: "http.admin_token_file")
        if let token = adminToken, token.count < 16 {
            // A short token is a guessable one. The key is named, never the value.
            let file = v.optional("http.admin_token_file")
            fail(file == nil ? "http.admin_token" : "http.admin_token_file", file, "the token must be at least 16 characters")
        }
        for key in ["mqtt.tls.ca_file", "mqtt.tls.cert_file", "mqtt.tls.key_file"] {
            if let path = v.optional(key), !FileManager.default.isReadableFile(atPath: path) {
                fail(key, path, "cannot read the file")
            }
        }
        if (v.optional("mqtt.tls.cert_file") == nil) != (v.optional("mqtt.tls.key_file") == nil) {
            fail("mqtt.tls.key_file", v.optional("mqtt.tls.key_file"), "cert_file and key_file go together")
        }
        guard problems.isEmpty else { throw Problems(problems: problems) }

        return IngestConfiguration(
            mqtt: .init(
                host: v.string("mqtt.host"), port: v.int("mqtt.port"),
                clientID: v.optional("mqtt.client_id") ?? "iot-ingest-\(ProcessInfo.processInfo.hostName)",
                topics: v.list("mqtt.topics"), qos: v.int("mqtt.qos"), cleanSession: v.bool("mqtt.clean_session"),
                sharedGroup: v.optional("mqtt.shared_group"), keepaliveSeconds: v.int("mqtt.keepalive_s"),
                username: v.optional("mqtt.username"), password: password,
                tls: .init(caFile: v.optional("mqtt.tls.ca_file"), certFile: v.optional("mqtt.tls.cert_file"),
                           keyFile: v.optional("mqtt.tls.key_file"), insecure: v.bool("mqtt.tls.insecure")),
                reconnectMinSeconds: v.int("mqtt.reconnect_min_s"), reconnectMaxSeconds: v.int("mqtt.reconnect_max_s")),
            payload: .init(topicTemplate: template, maxBytes: v.int("payload.max_bytes"),
                           maxReadings: v.int("payload.max_readings"), storeStrings: v.bool("payload.store_strings"),
                           influxPrecision: .init(rawValue: v.string("payload.influx_precision")) ?? .nanoseconds),
            database: .init(url: v.string("database.url"), poolSize: v.int("database.pool_size"), table: table,
                            createSchema: v.bool("database.create_schema"), dedupe: v.bool("database.dedupe")),
            timescale: timescale,
            sparkplug: .init(requestRebirth: v.bool("sparkplug.request_rebirth"),
                             rebirthIntervalSeconds: v.double("sparkplug.rebirth_interval_s"),
                             hostID: v.optional("sparkplug.host_id")),
            routes: routes,
            queue: .init(capacity: v.int("queue.capacity"),
                         fullPolicy: .init(rawValue: v.string("queue.full_policy")) ?? .block,
                         maxBytes: v.int("queue.max_bytes")),
            workers: v.int("workers"),
            batch: .init(maxRows: v.int("batch.max_rows"), flushIntervalMs: v.int("batch.flush_interval_ms"),
                         maxRetries: v.int("batch.max_retries")),
            shutdown: .init(drainTimeoutSeconds: v.double("shutdown.drain_timeout_s"),
                            timeoutSeconds: v.double("shutdown.timeout_s")),
            spoolDirectory: v.string("spool.dir"),
            journal: .init(enabled: v.bool("journal.enabled"),
                           directory: v.optional("journal.dir") ?? v.string("spool.dir") + "/journal",
                           maxBytes: v.int("journal.max_bytes"), fsyncIntervalMs: v.int("journal.fsync_interval_ms")),
            http: .init(host: v.string("http.host"), port: v.int("http.port"), adminToken: adminToken),
            log: .init(level: v.string("log.level"), format: .init(rawValue: v.string("log.format")) ?? .json,
                       fields: v.map("log.fields")),
            filePath: filePath,
            redacted: redacted(v).merging(["routes": .array(routes.map(\.json))]) { _, effective in effective },
            warnings: warnings)
    }

    private static func redacted(_ v: Values) -> [String: JSONValue] {
        var out: [String: JSONValue] = [:]
        for key in ConfigurationKey.all {
            let json: JSONValue
            switch v.typed[key.path] {
            case .string(let s?)?: json = .string(mask(s, key))
            case .int(let i)?: json = .int(i)
            case .double(let d)?: json = d == d.rounded() && abs(d) < 1e15 ? .int(Int(d)) : .double(d)
            case .bool(let b)?: json = .bool(b)
            case .list(let l)?: json = .array(l.map(JSONValue.string))
            case .map(let m)?: json = .object(m.sorted { $0.key < $1.key }.map { ($0.key, .string($0.value)) })
            default: json = .null
            }
            out[key.path] = json
        }
        if out["journal.dir"] == .null, case .string(let spool)? = out["spool.dir"] {
            out["journal.dir"] = .string(spool + "/journal")
        }
        if out["mqtt.client_id"] == .null {
            out["mqtt.client_id"] = .string("iot-ingest-\(ProcessInfo.processInfo.hostName)")
        }
        return out
    }

    static func isPlainIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic)
        else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }
}

extension IngestConfiguration {
    /// The effective configuration as nested JSON in the YAML's shape, secrets masked
    /// (`check-config`).
    public var nestedJSON: JSONValue {
        func insert(_ path: ArraySlice<Substring>, _ value: JSONValue, into fields: inout [(String, JSONValue)]) {
            let head = String(path.first!)
            if path.count == 1 {
                fields.append((head, value))
                return
            }
            if let i = fields.firstIndex(where: { $0.0 == head }), case .object(var inner) = fields[i].1 {
                insert(path.dropFirst(), value, into: &inner)
                fields[i].1 = .object(inner)
            } else {
                var inner: [(String, JSONValue)] = []
                insert(path.dropFirst(), value, into: &inner)
                fields.append((head, .object(inner)))
            }
        }
        var root: [(String, JSONValue)] = []
        for key in ConfigurationKey.all {
            insert(key.path.split(separator: ".")[...], redacted[key.path] ?? .null, into: &root)
        }
        return .object(root)
    }

    /// Keys whose effective value differs from `other`'s (reload). Secrets are compared by
    /// their real values: masked, a changed password would look unchanged.
    public func changedKeys(comparedTo other: IngestConfiguration) -> [String] {
        ConfigurationKey.all.map(\.path).filter { key in
            if let mine = secretValues[key] { return mine != other.secretValues[key] }
            return redacted[key] != other.redacted[key]
        }
    }

    /// The unmasked value of every secret key (never printed or logged).
    var secretValues: [String: String?] {
        ["database.url": database.url, "mqtt.password": mqtt.password, "http.admin_token": http.adminToken]
    }

    /// Whether `key` takes effect on SIGHUP without a restart.
    public static func isReloadable(_ key: String) -> Bool {
        ConfigurationKey.byPath[key]?.reloadable ?? false
    }

    /// This configuration with the reloadable keys' values taken from `new` and every other
    /// key kept (SPEC 3: they need a restart). The fields here are the reloadable keys of
    /// the table; `IngestConfigTests` change every key of the table one at a time and check
    /// that exactly the reloadable ones come across, so a key marked reloadable without a
    /// line here (or the reverse) fails the suite.
    public func reloading(from new: IngestConfiguration) -> IngestConfiguration {
        var next = self
        next.batch = new.batch
        next.queue.fullPolicy = new.queue.fullPolicy
        next.shutdown = new.shutdown
        next.log.level = new.log.level
        next.log.format = new.log.format
        for key in ConfigurationKey.all where key.reloadable { next.redacted[key.path] = new.redacted[key.path] }
        return next
    }
}
