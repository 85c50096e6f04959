@testable import IngestModel
import Testing

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

    /// Expected values computed independently (Python's `decimal`, half-up rounding): the
    /// unit boundaries 1e11 and 1e14, year 9999, rounding below the microsecond, exponents,
    /// zero, negatives and numbers a Double cannot hold.
    static let epochCases: [(String, Int64?)] = [
        ("99999999999999", 99999999999999000),
        ("100000000000", 100000000000000),
        ("99999999999", 99999999999000000),
        ("1700000000.123456", 1700000000123456),
        ("1700000000.1234567", 1700000000123457),
        ("1700000000123.4565", 1700000000123457),
        ("1.7e9", 1700000000000000),
        ("1700000000123456", 1700000000123456),
        ("253402300799999999", 253402300799999999),
        ("253402300800000000", nil),
        ("0", 0),
        ("-0", 0),
        ("-1", nil),
        ("1e400", nil),
        ("0.5", 500000),
        ("0.0000005", 1),
        ("0.0000004", 0),
        ("1E11", 100000000000000),
        ("99999999999.9999995", 100000000000000000),
        ("100000000000000", 100000000000000),
        ("1e13", 10000000000000000),
        ("2.5e-7", 0),
        ("-0.0", 0),
        ("1e-400", 0),
        ("99999999999999.9995", 100000000000000000),
    ]

    @Test func epochNumbersConvertExactlyWithIntegerArithmetic() {
        for (text, expected) in Self.epochCases {
            var t = text
            #expect(t.withUTF8 { Timestamp.fromEpochText($0) } == expected, "\(text)")
        }
    }

    /// A plain integer takes a shortcut; with ".0" appended it takes the general path.
    @Test func plainIntegersGiveWhatTheGeneralPathGives() {
        var generator = SystemRandomNumberGenerator()
        var texts = ["1", "99999999999", "100000000000", "99999999999999", "100000000000000",
                     "999999999999999999", "000000000000000001", "012345678901"]
        for digits in 1...18 {
            for _ in 0..<50 {
                texts.append(String((0..<digits).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) }))
            }
        }
        for text in texts {
            var plain = text
            var general = text + ".0"
            let expected = general.withUTF8 { Timestamp.fromEpochText($0) }
            #expect(plain.withUTF8 { Timestamp.fromEpochText($0) } == expected, "\(text)")
        }
    }

    @Test func aFiveThousandDigitNumberIsRejectedNotTrapped() {
        var t = String(repeating: "9", count: 5000)
        #expect(t.withUTF8 { Timestamp.fromEpochText($0) } == nil)
    }

    @Test func copyTextFormat() {
        #expect(Timestamp.copyText(1_700_000_000_000_001) == "2023-11-14 22:13:20.000001+00")
    }
}
