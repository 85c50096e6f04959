import Foundation
@testable import IngestConfig
import PayloadFormats
import Testing

/// `routes` (SPEC 4a): parsed from YAML, env and `--set`, validated route by route, one JSON
/// route when absent (every earlier configuration unchanged), overlaps refused naming both.
@Suite("Configuration: routes")
struct RouteSettingsTests {
    let loader = ConfigurationLoaderTests()

    @Test func withoutRoutesTheOldKeysMakeOneJSONRoute() throws {
        let c = try loader.load(set: [("mqtt.topics", "a/+,b/+"), ("payload.topic_template", "a/{device_id}")])
        #expect(c.routes == [.init(topics: ["a/+", "b/+"], format: .json, topicTemplate: try TopicTemplate("a/{device_id}"))])
        #expect(c.subscriptions == ["a/+", "b/+"])
        #expect(c.warnings.isEmpty)
        #expect(c.redacted["routes"] == .array([.object([("topics", .array([.string("a/+"), .string("b/+")])),
                                                         ("format", .string("json")),
                                                         ("topic_template", .string("a/{device_id}"))])]),
                "check-config prints the effective routes")
    }

    @Test func routesFromTheFile() throws {
        let path = try loader.file("""
            mqtt:
              shared_group: ingest
            routes:
              - topics: ["devices/+/telemetry"]
                format: json
              - topics: ["agents/+/metrics"]
                format: influx_line
                topic_template: "agents/{device_id}/metrics"
                device_tag: host
              - topics: "sensors/+/+"
                topic_template: "sensors/{device_id}/{metric}"
              - topics: ["gw/#"]
                format: influx_line
                device_tag: host
            """)
        let c = try loader.load(path)
        #expect(c.routes.map(\.format) == [.json, .influxLine, .json, .influxLine])
        #expect(c.routes[0].topicTemplate?.description == "devices/{device_id}/telemetry", "payload.topic_template by default")
        #expect(c.routes[1].deviceTag == "host" && c.routes[2].topics == ["sensors/+/+"] && c.routes[3].topicTemplate == nil)
        #expect(c.subscriptions == ["$share/ingest/devices/+/telemetry", "$share/ingest/agents/+/metrics",
                                    "$share/ingest/sensors/+/+", "$share/ingest/gw/#"])
        #expect(try loader.load(try loader.file("routes:\n")).routes.count == 1, "an empty routes: is none")
    }

    @Test func routesFromTheEnvironmentInFlowStyle() throws {
        let c = try loader.load(env: ["INGEST_ROUTES": "[{topics: [lp/#], format: influx_line, device_tag: host}]"])
        #expect(c.routes == [.init(topics: ["lp/#"], format: .influxLine, topicTemplate: nil, deviceTag: "host")])
    }

    @Test func overlappingRoutesAreRefusedNamingBoth() {
        let problems = loader.problems(set: [("routes", #"[{topics: [a/+/x], topic_template: "a/{device_id}/x"}, "#
                                                + #"{topics: [b/+], topic_template: "b/{device_id}"}, "#
                                                + "{topics: [a/b/+], format: influx_line, device_tag: host}]")])
        #expect(problems.map(\.key) == ["routes"])
        #expect(problems.first?.reason == "route 1's 'a/+/x' and route 3's 'a/b/+' can match the same topic", "\(problems)")
    }

    @Test(arguments: [
        ("[{topics: [a/#], format: xml}]", "route 1: format must be one of json, sparkplug_b, influx_line"),
        (#"[{topics: [spBv1.0/#], format: sparkplug_b, topic_template: "a/{device_id}"}]"#,
         "route 1: a sparkplug_b route takes no topic_template"),
        ("[{topics: [a/#], colour: red}]", "route 1: unknown key 'colour'"),
        ("[{format: json}]", "route 1 needs topics"),
        ("[{topics: [a/#/b]}]", "route 1: 'a/#/b' is not a valid MQTT topic filter"),
        ("[{topics: [a/#], device_tag: host}]", "route 1: device_tag is for influx_line routes"),
        ("[{topics: [a/#], topic_template: \"a/{x}\"}]", "route 1: topic_template:"),
        ("{topics: [a/#]}", "expected a list of routes"),
        ("[{topics: [$share/g/a/#]}]", "route 1: '$share/g/a/#': set mqtt.shared_group instead"),
        ("[{topics: [a/#], format: [json]}]", "route 1: format must be a single value"),
        ("[{topics: [a/#, [b/#]]}]", "route 1: topics must be filters"),
        ("[{topics: [a/#], format: influx_line}]", "route 1: an influx_line route needs a device_tag"),
        (#"[{topics: [a/+, a/#], topic_template: "a/{device_id}"}]"#, "route 1's 'a/+' and 'a/#' can match the same topic"),
        ("[{topics: [sensors/+/data]}]", "route 1's 'sensors/+/data' never matches its topic template"),
    ])
    func aBadRouteIsAProblemNamingIt(value: String, reason: String) {
        let problems = loader.problems(set: [("routes", value)])
        #expect(problems.map(\.key) == ["routes"], "\(problems)")
        #expect(problems.first?.reason.hasPrefix(reason) == true, "\(problems)")
    }

    @Test func mqttTopicsBesideRoutesIsAWarning() throws {
        let c = try loader.load(set: [("mqtt.topics", "x/+"), ("routes", "[{topics: [devices/+/telemetry]}]")])
        #expect(c.subscriptions == ["devices/+/telemetry"])
        #expect(c.warnings == ["mqtt.topics is not used: routes name the topics"])
    }

    /// SPEC 4b's keys: defaults, values, and a host id that would break the STATE topic.
    @Test func sparkplugRoutesAndTheirKeys() throws {
        let c = try loader.load(set: [("routes", "[{topics: [spBv1.0/plant/#], format: sparkplug_b}]")])
        #expect(c.routes == [.init(topics: ["spBv1.0/plant/#"], format: .sparkplugB, topicTemplate: nil)])
        #expect(c.sparkplug == .init(requestRebirth: true, rebirthIntervalSeconds: 30, hostID: nil))
        #expect(c.sparkplug.stateTopic == nil)
        let set = try loader.load(set: [("sparkplug.request_rebirth", "false"), ("sparkplug.rebirth_interval_s", "2.5"),
                                        ("sparkplug.host_id", "scada-1")])
        #expect(set.sparkplug == .init(requestRebirth: false, rebirthIntervalSeconds: 2.5, hostID: "scada-1"))
        #expect(set.sparkplug.stateTopic == "spBv1.0/STATE/scada-1")
        for bad in ["a/b", "a+", "#"] {
            #expect(loader.problems(set: [("sparkplug.host_id", bad)]).map(\.key) == ["sparkplug.host_id"], "\(bad)")
        }
        #expect(loader.problems(set: [("sparkplug.rebirth_interval_s", "0")]).map(\.key) == ["sparkplug.rebirth_interval_s"])
    }
}
