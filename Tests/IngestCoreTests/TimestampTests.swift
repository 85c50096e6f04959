import Testing
@testable import IngestCore

@Suite struct TimestampTests {
    func parse(_ s: String) -> Int64? {
        var s = s
        return s.withUTF8 { Timestamp.parseRFC3339($0) }
    }

    @Test func rfc3339RoundTripsThroughTheLogFormat() {
        for micros: Int64 in [0, 1_700_000_000_123_000, 253_402_300_799_999_000, -86_400_000_000] {
            #expect(parse(Timestamp.iso8601Millis(micros)) == micros)
        }
    }

    @Test func rejectsMalformedDates() {
        for bad in ["2023-13-01T00:00:00Z", "2023-01-01T24:00:00Z", "2023-01-01", "2023-01-01T00:00:00",
                    "2023-01-01T00:00:00.Z", "2023-1-01T00:00:00Z", "2024-02-30T00:00:00Z"] {
            #expect(parse(bad) == nil, "\(bad)")
        }
        #expect(parse("2024-02-29T00:00:00Z") != nil)
    }

    @Test func epochNumberUnits() {
        #expect(Timestamp.fromEpochNumber(99_999_999_999) == 99_999_999_999_000_000)
        #expect(Timestamp.fromEpochNumber(100_000_000_000) == 100_000_000_000_000)
        #expect(Timestamp.fromEpochNumber(100_000_000_000_000) == 100_000_000_000_000)
        #expect(Timestamp.fromEpochNumber(-1) == nil)
        #expect(Timestamp.fromEpochNumber(.infinity) == nil)
    }

    @Test func copyTextFormat() {
        #expect(Timestamp.copyText(1_700_000_000_000_001) == "2023-11-14 22:13:20.000001+00")
    }
}
