import IngestModel
import Testing

/// MQTT topic filters as routes use them (SPEC 4a): matching per MQTT 3.1.1 §4.7, and the
/// overlap test that refuses two routes able to claim one topic.
@Suite struct TopicFilterTests {
    func filter(_ text: String) -> TopicFilter { TopicFilter(text)! }

    @Test(arguments: [
        ("devices/+/telemetry", "devices/d1/telemetry", true), ("devices/+/telemetry", "devices/d1/x", false),
        ("devices/+/telemetry", "devices/telemetry", false), ("spBv1.0/#", "spBv1.0/g/NDATA/n", true),
        ("spBv1.0/#", "spBv1.0", true), ("#", "a/b/c", true), ("#", "$SYS/x", false), ("+/x", "$SYS/x", false),
        ("$SYS/#", "$SYS/x", true), ("a/b", "a/b", true), ("a/b", "a/b/", false), ("a/+", "a/", true),
        ("+", "a", true), ("+", "a/b", false), ("+/#", "a", true), ("$SYS/#", "$SYS", true),
    ])
    func matching(filter text: String, topic: String, matches: Bool) {
        #expect(filter(text).matches(topic) == matches)
    }

    @Test(arguments: [
        ("devices/+/telemetry", "devices/d1/+", true), ("devices/+/telemetry", "agents/+/metrics", false),
        ("a/#", "a", true), ("a/#", "a/b/c", true), ("a/+", "a/b/c", false), ("#", "x/y", true),
        ("a/b", "a/c", false), ("+/+", "a/b", true), ("+/+", "a", false), ("#", "$SYS/x", false),
        ("$SYS/+", "$SYS/x", true), ("a/+", "a", false), ("a/b/#", "a", false), ("a//b", "a/+/b", true),
    ])
    func overlapping(_ a: String, _ b: String, overlap: Bool) {
        #expect(filter(a).overlaps(filter(b)) == overlap)
        #expect(filter(b).overlaps(filter(a)) == overlap, "symmetric")
    }

    @Test func invalidFiltersAreRefused() {
        for text in ["", "a/#/b", "a#", "a/b+", "+a"] { #expect(TopicFilter(text) == nil, "\(text)") }
    }
}
