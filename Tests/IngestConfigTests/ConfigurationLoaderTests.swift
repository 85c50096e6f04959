import Foundation
@testable import IngestConfig
import Testing

@Suite("Configuration: precedence, validation, redaction")
struct ConfigurationLoaderTests {
    func file(_ yaml: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString).yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func load(_ path: String? = nil, env: [String: String] = [:], set: [(String, String)] = []) throws -> IngestConfiguration {
        var inputs = ConfigurationLoader.Inputs(configPath: path, environment: env,
                                                overrides: set.map { (key: $0.0, value: $0.1) })
        inputs.defaultFilePath = "/nonexistent/ingest.yaml"
        return try ConfigurationLoader.load(inputs)
    }

    func problems(_ path: String? = nil, env: [String: String] = [:], set: [(String, String)] = []) -> [ConfigurationProblem] {
        do {
            _ = try load(path, env: env, set: set)
            return []
        } catch {
            return (error as? ConfigurationError)?.problems ?? []
        }
    }

    @Test func defaultsMatchTheSpec() throws {
        let c = try load()
        #expect(c.mqtt.host == "localhost" && c.mqtt.port == 1883 && c.mqtt.qos == 1 && !c.mqtt.cleanSession)
        #expect(c.mqtt.topics == ["devices/+/telemetry"])
        #expect(c.mqtt.clientID.hasPrefix("iot-ingest-"))
        #expect(c.queue.capacity == 50000 && c.queue.fullPolicy == .block && c.workers == 2)
        #expect(c.batch.maxRows == 500 && c.batch.flushIntervalMs == 1000 && c.batch.maxRetries == 5)
        #expect(c.shutdown.drainTimeoutSeconds == 10 && c.shutdown.timeoutSeconds == 25)
        #expect(c.database.url == "postgresql://postgres@localhost:5432/iot" && c.database.poolSize == 2)
        #expect(c.http.port == 8080 && c.log.level == "info" && c.log.format == .json)
    }

    @Test func flagsBeatEnvironmentBeatFileBeatDefaults() throws {
        let path = try file("mqtt:\n  host: from-file\n  port: 1000\n  qos: 2\nworkers: 3\n")
        let env = ["INGEST_MQTT_PORT": "2000", "INGEST_MQTT_QOS": "0"]
        let c = try load(path, env: env, set: [("mqtt.qos", "1")])
        #expect(c.mqtt.host == "from-file")
        #expect(c.mqtt.port == 2000)
        #expect(c.mqtt.qos == 1)
        #expect(c.workers == 3)
        #expect(c.mqtt.keepaliveSeconds == 30)
    }

    @Test func fileFromEnvironmentAndListsFromCommas() throws {
        let path = try file("mqtt:\n  topics: [a/+/t, b/#]\n")
        #expect(try load(env: ["INGEST_CONFIG": path]).mqtt.topics == ["a/+/t", "b/#"])
        #expect(try load(env: ["INGEST_MQTT_TOPICS": "x/+, y/#"]).mqtt.topics == ["x/+", "y/#"])
    }

    @Test func everyProblemIsReportedWithItsKey() throws {
        let path = try file("mqtt:\n  port: 70000\n  qos: 3\n  bogus: 1\nqueue:\n  capacity: 0\n")
        let found = problems(path, set: [("database.table", "drop table"), ("log.level", "loud"), ("nope", "1")])
        let keys = Set(found.map(\.key))
        #expect(keys == ["mqtt.port", "mqtt.qos", "mqtt.bogus", "queue.capacity", "database.table", "log.level", "nope"])
        #expect(found.first { $0.key == "mqtt.port" }?.reason.contains("between 1 and 65535") == true)
    }

    @Test func badYAMLAndUnreadableFileAreProblems() throws {
        #expect(problems(try file("mqtt: [unclosed\n")).map(\.key) == ["config"])
        #expect(problems("/nonexistent/file.yaml").map(\.key) == ["config"])
        #expect(problems(try file("- a\n- b\n")).map(\.key) == ["config"])
    }

    @Test func crossKeyChecks() {
        #expect(problems(set: [("mqtt.reconnect_min_s", "10"), ("mqtt.reconnect_max_s", "5")]).map(\.key)
                == ["mqtt.reconnect_max_s"])
        #expect(problems(set: [("shutdown.drain_timeout_s", "30")]).map(\.key) == ["shutdown.drain_timeout_s"])
        #expect(problems(set: [("payload.topic_template", "a/{dev}/b")]).map(\.key) == ["payload.topic_template"])
        #expect(problems(set: [("mqtt.topics", "a/#/b")]).map(\.key) == ["mqtt.topics"])
    }

    /// SPEC 3: shortening only the deadline must give a running daemon, its drain capped.
    @Test func aShortDeadlineAloneCapsTheDefaultDrainWithAWarning() throws {
        let c = try load(set: [("shutdown.timeout_s", "2")])
        #expect(c.shutdown.timeoutSeconds == 2)
        #expect(c.shutdown.drainTimeoutSeconds == 1)
        #expect(c.warnings.count == 1 && c.warnings[0].contains("shutdown.drain_timeout_s"))
        #expect(c.redacted["shutdown.drain_timeout_s"] == .int(1), "check-config shows the effective value")
        #expect(try load().warnings.isEmpty)
        // Both set, inconsistent: the operator asked for it, so it is an error naming the key.
        #expect(problems(set: [("shutdown.timeout_s", "2"), ("shutdown.drain_timeout_s", "5")]).map(\.key)
                == ["shutdown.drain_timeout_s"])
    }

    @Test func secretsAreMaskedEverywhere() throws {
        let c = try load(set: [("database.url", "postgresql://ingest:s3cret@db:5432/iot?sslmode=require"),
                               ("mqtt.password", "hunter2")])
        let printed = c.nestedJSON.pretty()
        #expect(!printed.contains("s3cret") && !printed.contains("hunter2"))
        #expect(printed.contains("postgresql://ingest:***@db:5432/iot"))
        #expect(c.mqtt.password == "hunter2", "the real value is still used")
        let p = problems(set: [("database.url", "host=db password='p w' port=x"), ("mqtt.port", "x")])
        #expect(!p.description.contains("p w"))
    }

    @Test func passwordFileIsReadAndMissingFileIsAProblem() throws {
        let path = try file("from-file\n")
        #expect(try load(set: [("mqtt.password_file", path)]).mqtt.password == "from-file")
        #expect(problems(set: [("mqtt.password_file", "/nonexistent")]).map(\.key) == ["mqtt.password_file"])
    }

    @Test func sharedGroupPrefixesSubscriptions() throws {
        let c = try load(set: [("mqtt.shared_group", "ingest"), ("mqtt.topics", "a/+,b/+")])
        #expect(c.subscriptions == ["$share/ingest/a/+", "$share/ingest/b/+"])
    }

    @Test func aChangedSecretIsSeenByReloadThoughItIsMasked() throws {
        let a = try load(set: [("database.url", "postgresql://u:one@db/iot"), ("mqtt.username", "u"),
                              ("mqtt.password", "one")])
        let b = try load(set: [("database.url", "postgresql://u:two@db/iot"), ("mqtt.username", "u"),
                              ("mqtt.password", "two")])
        #expect(a.redacted["database.url"] == b.redacted["database.url"], "masked alike")
        #expect(Set(b.changedKeys(comparedTo: a)) == ["database.url", "mqtt.password"])
        #expect(a.changedKeys(comparedTo: a).isEmpty)
        let secretKeys = ConfigurationKey.all.filter { $0.secret != .no }.map(\.path)
        #expect(Set(secretKeys) == Set(a.secretValues.keys), "every secret key is compared by value")
    }

    /// SPEC 3 (v4): `log.fields` as a YAML mapping, or `name=value,...` from the environment and
    /// `--set`; the names every line has already are refused, naming the key.
    @Test func logFieldsFromEveryShapeAndReservedNamesRefused() throws {
        let yaml = try file("log:\n  fields:\n    site: plant-3\n    env: prod\n")
        #expect(try load(yaml).log.fields == ["env": "prod", "site": "plant-3"])
        #expect(try load(yaml, env: ["INGEST_LOG_FIELDS": "zone=a, rack = 7"]).log.fields == ["rack": "7", "zone": "a"])
        #expect(try load(set: [("log.fields", "{}")]).log.fields.isEmpty)
        #expect(try load().log.fields.isEmpty)
        let printed = try load(yaml).nestedJSON.rendered
        #expect(printed.contains(#""fields":{"env":"prod","site":"plant-3"}"#), "\(printed)")
        #expect(problems(set: [("log.fields", "instance=x")]).map(\.key) == ["log.fields"])
        #expect(problems(set: [("log.fields", "novalue")]).map(\.key) == ["log.fields"])
        #expect(problems(try file("log:\n  fields:\n    a:\n      b: c\n")).map(\.key) == ["log.fields"])
        #expect(!IngestConfiguration.isReloadable("log.fields"))
    }

    @Test func adminTokenFromFileIsMaskedAndNeverPrinted() throws {
        let path = try file("s3cret-token-0123456789\n")
        let c = try load(set: [("http.admin_token_file", path)])
        #expect(c.http.adminToken == "s3cret-token-0123456789")
        #expect(try load().http.adminToken == nil)
        let direct = try load(set: [("http.admin_token", "t0ken-xyz-0123456789")])
        #expect(direct.http.adminToken == "t0ken-xyz-0123456789")
        #expect(!direct.nestedJSON.rendered.contains("t0ken-xyz"))
        #expect(problems(set: [("http.admin_token", "a"), ("http.admin_token_file", path)]).map(\.key)
                == ["http.admin_token_file"])
        #expect(problems(set: [("http.admin_token_file", try file("\n"))]).map(\.key) == ["http.admin_token_file"])
        let short = problems(set: [("http.admin_token", "short-s3cret")])
        #expect(short.map(\.key) == ["http.admin_token"])
        #expect(!short.description.contains("short-s3cret"))
    }

    /// A secret must not reach a problem's text: not as a mapping where a value belongs, not
    /// through the line a YAML error quotes.
    @Test func secretsInMalformedInputAreNotEchoed() throws {
        let mapped = problems(try file("mqtt:\n  password: {hunter2: x}\n"))
        #expect(mapped.map(\.key) == ["mqtt.password"])
        #expect(!mapped.description.contains("hunter2"), "\(mapped)")
        let unclosed = problems(try file("mqtt:\n  password: \"hunter2\n  host: x\n"))
        #expect(unclosed.map(\.key) == ["config"])
        #expect(!unclosed.description.contains("hunter2"), "\(unclosed)")
    }

    /// `reloading(from:)` takes exactly the keys the table marks reloadable: each key is
    /// changed alone, and the reloaded configuration must equal the new one for a reloadable
    /// key and the old one for any other. A key marked reloadable that `reloading` does not
    /// copy, or a field it copies that is not marked, fails here.
    @Test func aReloadTakesExactlyTheTablesReloadableKeys() throws {
        let secretFile = try file("other-secret-0123456789\n")
        func other(_ key: ConfigurationKey) -> String? {
            switch key.kind {
            case .string:
                return ["payload.topic_template": "other/{device_id}", "database.table": "other_table",
                        "database.url": "postgresql://u@other/db"][key.path] ?? "other-value"
            case .optionalString:
                if key.path == "mqtt.tls.cert_file" || key.path == "mqtt.tls.key_file" { return nil }  // a pair
                if key.path.hasSuffix("_file") { return secretFile }
                return key.secret == .whole ? "other-secret-0123456789" : "other-value"
            case .int(let range):
                return String(key.defaultValue == String(range.lowerBound) ? range.lowerBound + 1 : range.lowerBound)
            case .positive: return "3"
            case .bool: return key.defaultValue == "true" ? "false" : "true"
            case .list: return "other/+"
            case .map: return "site=other"
            case .choice(let options): return options.first { $0 != key.defaultValue }
            case .interval(let off): return off && key.defaultValue != "off" ? "off" : "3 days"
            case .intervals: return "5 minutes"
            case .routes: return #"[{topics: ["other/+"], format: influx_line, device_tag: host}]"#
            }
        }
        func core(_ c: IngestConfiguration) -> IngestConfiguration {
            var c = c
            c.redacted = [:]
            c.warnings = []
            return c
        }
        let old = try load()
        var checked = 0
        for key in ConfigurationKey.all {
            guard let value = other(key) else { continue }
            let new = try load(set: [(key.path, value)])
            #expect(core(new) != core(old), "\(key.path)=\(value) changed nothing")
            let reloaded = old.reloading(from: new)
            #expect(core(reloaded) == core(key.reloadable ? new : old), "\(key.path)")
            #expect(reloaded.changedKeys(comparedTo: old).allSatisfy(IngestConfiguration.isReloadable), "\(key.path)")
            checked += 1
        }
        #expect(checked == ConfigurationKey.all.count - 2)
    }

    @Test func reloadableKeysAreTheSpecsOnes() {
        #expect(IngestConfiguration.isReloadable("log.level"))
        #expect(IngestConfiguration.isReloadable("batch.max_rows"))
        #expect(IngestConfiguration.isReloadable("queue.full_policy"))
        #expect(IngestConfiguration.isReloadable("shutdown.timeout_s"))
        #expect(!IngestConfiguration.isReloadable("mqtt.host"))
        #expect(!IngestConfiguration.isReloadable("queue.capacity"))
    }
}

@Suite struct RedactionTests {
    @Test(arguments: [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgres://u@h/db?password=pw&sslmode=require", "postgres://u@h/db?password=***&sslmode=require"),
        ("host=h password=pw user=u", "host=h password=*** user=u"),
        ("host=h password='p w\\'x' user=u", "host=h password=*** user=u"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
        ("host=h password = pw user=u", "host=h password = *** user=u"),
        ("host=h\tpassword\t=\t'p w' user=u", "host=h\tpassword\t=\t*** user=u"),
        ("host=h password=p\\ w user=u", "host=h password=*** user=u"),
        ("postgresql://h/db?pass%77ord=pw", "postgresql://h/db?pass%77ord=***"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:s3cr3t@h/db?application_name=s3cr3t", "postgresql://u:***@h/db?application_name=***"),
    ])
    func databaseURL(_ input: String, _ expected: String) {
        #expect(Redaction.databaseURL(input) == expected)
    }
}

extension [ConfigurationProblem] {
    var description: String { map(\.description).joined(separator: "\n") }
}
