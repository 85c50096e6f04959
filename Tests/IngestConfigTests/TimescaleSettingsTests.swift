import Foundation
@testable import IngestConfig
import Testing

/// The `timescale.*` keys (SPEC 3, 5a): lengths in canonical form, `off`, roll-up lists that
/// may be empty, and the cross-key rule that retention outlasts the roll-ups' refresh window.
@Suite("Configuration: timescale.* keys")
struct TimescaleSettingsTests {
    let loader = ConfigurationLoaderTests()

    @Test func defaultsMatchTheSpec() throws {
        let t = try loader.load().timescale
        #expect(t == .defaults)
        #expect(t.chunkInterval.sql == "1 day" && t.compressAfter?.sql == "7 days" && t.retainFor == nil)
        #expect(t.rollups.map(\.suffix) == ["1m", "1h"])
        #expect(t.refreshReach == nil, "without retention a refresh reaches all of history")
        let json = try loader.load().nestedJSON.pretty()
        #expect(json.contains("\"retain_for\" : \"off\"") || json.contains("\"retain_for\": \"off\""), "\(json)")
    }

    @Test(arguments: [
        ("1 day", "1 day", "1d"), ("7 days", "7 days", "7d"), ("1 week", "7 days", "7d"), ("15 minutes", "15 minutes", "15m"),
        ("1h", "1 hour", "1h"), ("60 min", "1 hour", "1h"), ("90 s", "90 seconds", "90s"),
        (" 2 Weeks ", "14 days", "14d"), ("36 hours", "36 hours", "36h"), ("36500 days", "36500 days", "36500d"),
    ])
    func lengthsAreReadInCanonicalForm(text: String, sql: String, suffix: String) throws {
        let interval = try #require(LifecycleInterval(text))
        #expect(interval.sql == sql && interval.suffix == suffix)
    }

    @Test(arguments: ["", "day", "0 days", "-1 day", "1 month", "1 year", "1.5 hours", "1 fortnight", "9999999999 s", "1 day; DROP", "36501 days", "5215 weeks"])
    func whatIsNotAFixedLengthIsRefused(text: String) {
        #expect(LifecycleInterval(text) == nil)
    }

    @Test func offTurnsAPolicyOffAndEmptyListsMeanNoRollups() throws {
        let c = try loader.load(set: [("timescale.compress_after", "off"), ("timescale.retain_for", "90 days"),
                                      ("timescale.rollups", "[]")])
        #expect(c.timescale.compressAfter == nil && c.timescale.retainFor?.sql == "90 days" && c.timescale.rollups.isEmpty)
        let env = try loader.load(env: ["INGEST_TIMESCALE_ROLLUPS": "1 hour, 1 minute, 1 day"])
        #expect(env.timescale.rollups.map(\.suffix) == ["1m", "1h", "1d"], "shortest first")
        let yaml = try loader.load(try loader.file("timescale:\n  rollups: []\n  chunk_interval: 6 hours\n"))
        #expect(yaml.timescale.rollups.isEmpty && yaml.timescale.chunkInterval.sql == "6 hours")
        let listed = try loader.load(try loader.file("timescale:\n  rollups: [\"5 minutes\", \"1 day\"]\n"))
        #expect(listed.timescale.rollups.map(\.sql) == ["5 minutes", "1 day"])
    }

    @Test func badValuesAreProblemsNamingTheKey() throws {
        let bad = loader.problems(set: [("timescale.chunk_interval", "off"), ("timescale.compress_after", "soon"),
                                        ("timescale.rollups", "1 minute,60 seconds")])
        #expect(Set(bad.map(\.key)) == ["timescale.chunk_interval", "timescale.compress_after", "timescale.rollups"], "\(bad)")
        #expect(bad.first { $0.key == "timescale.rollups" }?.reason.contains("given twice") == true)
        let short = loader.problems(set: [("timescale.chunk_interval", "30 seconds")])
        #expect(short.map(\.key) == ["timescale.chunk_interval"])
    }

    /// Retention drops whole chunks; a roll-up refresh over a dropped range would empty the
    /// roll-up there, so the refresh stops a chunk short of the retention, and the retention
    /// must leave room for a refresh window of two buckets after the newest one.
    @Test func retentionMustOutlastTheRollupsRefreshWindow() throws {
        let tooShort = loader.problems(set: [("timescale.retain_for", "2 days"), ("timescale.rollups", "1 hour,1 day")])
        #expect(tooShort.map(\.key) == ["timescale.retain_for"], "\(tooShort)")
        #expect(tooShort.first?.reason.contains("4 days") == true, "1 day chunk + 3 × 1 day: \(tooShort)")
        let fine = try loader.load(set: [("timescale.retain_for", "30 days")])
        #expect(fine.timescale.refreshReach?.sql == "29 days")
        #expect(try loader.load(set: [("timescale.retain_for", "2 days"), ("timescale.rollups", "[]")]).timescale.retainFor?.sql == "2 days")
    }
}

/// `config/ingest.yaml` is the annotated list of every key (README): it loads without a
/// problem and names each key of the table, so a new key cannot be left out of it.
@Suite struct ShippedConfigurationFileTests {
    @Test func theShippedFileLoadsAndListsEveryKey() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("config/ingest.yaml").path
        let loaded = try ConfigurationLoaderTests().load(path)
        #expect(loaded.timescale == .defaults)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var section = ""
        var listed: Set<String> = []
        for line in text.split(separator: "\n") {
            let indented = line.hasPrefix(" ")
            let body = line.drop { $0 == " " || $0 == "#" }.drop { $0 == " " }
            guard let colon = body.firstIndex(of: ":"), !body.isEmpty else { continue }
            let name = String(body[..<colon])
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else { continue }
            if !indented { section = name }
            listed.insert(indented ? "\(section).\(name)" : name)
        }
        for key in ConfigurationKey.all {
            // mqtt.tls.* sit one level deeper; `a / b` rows of the table are separate keys here.
            let path = key.path.replacingOccurrences(of: "mqtt.tls.", with: "mqtt.")
            #expect(listed.contains(path), "config/ingest.yaml does not list \(key.path)")
        }
    }
}
