import Foundation
import Logging
@testable import Observability
import Testing

@Suite struct LogLineHandlerTests {
    @Test func jsonLineHasTheSpecShapeAndTypedFields() throws {
        let line = LogLineHandler.render(
            level: .info, event: "queue_drained",
            fields: ["drained": .stringConvertible(12), "ok": .stringConvertible(true), "note": "a \"quoted\"\nline"],
            format: .json, now: 1_795_262_400_789_000)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["ts"] as? String == "2026-11-21T12:00:00.789Z")
        #expect(object["level"] as? String == "info")
        #expect(object["event"] as? String == "queue_drained")
        #expect(object["service"] as? String == "iot-ingest")
        #expect(object["drained"] as? Int == 12)
        #expect(object["ok"] as? Bool == true)
        #expect(object["note"] as? String == "a \"quoted\"\nline")
        #expect(line.hasPrefix("{\"ts\":"), "ts, level, event come first for humans reading raw logs")
    }

    /// SPEC 3 (v4): `instance` and `log.fields` on every line; an event's own field wins.
    @Test func staticFieldsAreOnEveryLine() throws {
        let settings = LogSettings(staticFields: ["instance": "ingest-a", "site": "plant-3"])
        let handler = LogLineHandler(settings: settings)
        var fields = handler.staticFieldsMerged(with: ["site": "override", "n": .stringConvertible(1)])
        #expect(fields["instance"] == "ingest-a" && fields["site"] == "override")
        fields = handler.staticFieldsMerged(with: [:])
        let line = LogLineHandler.render(level: .info, event: "subscribed", fields: fields, format: .json, now: 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["instance"] as? String == "ingest-a" && object["site"] as? String == "plant-3")
    }

    @Test func textFormatCarriesTheSameInformation() {
        let line = LogLineHandler.render(level: .warning, event: "db_connection_lost",
                                         fields: ["error": "server closed", "connection": .stringConvertible(1)],
                                         format: .text, now: 0)
        #expect(line == "1970-01-01T00:00:00.000Z warning  db_connection_lost connection=1 error=\"server closed\"")
    }

    /// A topic is the publisher's: in text format it must not end the line and forge another.
    @Test func textFormatQuotesWhatCouldForgeALine() {
        let forged = "a/b\n1970-01-01T00:00:00.000Z critical rows_lost rows=1"
        let line = LogLineHandler.render(level: .warning, event: "message_rejected",
                                         fields: ["topic": .string(forged), "x": "k=v", "ok": "plain/topic"],
                                         format: .text, now: 0)
        #expect(!line.contains("\n"), "\(line)")
        #expect(line.contains(#"topic="a/b\n1970"#), "\(line)")
        #expect(line.contains(#"x="k=v""#), "\(line)")
        #expect(line.contains("ok=plain/topic"), "\(line)")
    }
}
