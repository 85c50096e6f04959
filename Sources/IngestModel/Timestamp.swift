#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Time arithmetic on microseconds since the Unix epoch, the unit every row carries.
///
/// Hand-written rather than Foundation's ISO8601 formatters: this runs once per message on the
/// hot path, and a byte scanner that allocates nothing is several times faster.
public enum Timestamp {
    /// 10000-01-01T00:00:00Z: the first instant that is "beyond year 9999".
    public static let endOfYear9999: Int64 = 253_402_300_800 * 1_000_000

    /// Microseconds since the Unix epoch, now.
    public static func now() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1_000
    }

    /// Seconds on a monotonic clock, for durations.
    public static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// An epoch number from a payload, from its JSON text: seconds if < 1e11, milliseconds if
    /// < 1e14, else microseconds (SPEC 4). Exact: integer arithmetic on its decimal
    /// digits, never a binary float (SPEC 4: `99999999999999` ms is `...39.999000`, which a
    /// Double multiplication turns into `...39.999008`). Rounds half away from zero below
    /// the microsecond. Nil when negative, not a plain number (NaN, Infinity) or beyond year
    /// 9999.
    public static func fromEpochText(_ text: UnsafeBufferPointer<UInt8>) -> Int64? {
        let n = text.count
        // The common shape, a plain integer of at most 18 digits (epoch milliseconds from
        // most devices): its value, scaled, without the digit buffer below.
        if n > 0 && n <= 18 {
            var v: Int64 = 0
            var significant = 0
            var plain = true
            for c in text {
                guard c &- 0x30 < 10 else { plain = false; break }
                v = v &* 10 &+ Int64(c &- 0x30)
                if v != 0 { significant += 1 }
            }
            if plain {
                var micros = v
                for _ in 0..<microsecondDigits(integerDigits: significant) { micros *= 10 }
                return micros < endOfYear9999 ? micros : nil
            }
        }
        var i = 0
        var negative = false
        if i < n, text[i] == 0x2D { negative = true; i += 1 }
        // Significant digits (leading zeros dropped) and the power of ten of the last one.
        // Only the first 19 can matter (at most 18 make the microseconds, the next one
        // rounds), so they live in an inline buffer: no allocation per timestamp.
        var digits = SignificantDigits()
        var exponent = 0
        var sawDigit = false
        while i < n, text[i] >= 0x30, text[i] <= 0x39 {
            sawDigit = true
            if !digits.isEmpty || text[i] != 0x30 { digits.append(text[i] - 0x30) }
            i += 1
        }
        if i < n, text[i] == 0x2E {
            i += 1
            while i < n, text[i] >= 0x30, text[i] <= 0x39 {
                sawDigit = true
                if !digits.isEmpty || text[i] != 0x30 { digits.append(text[i] - 0x30) }
                exponent -= 1
                i += 1
            }
        }
        guard sawDigit else { return nil }
        if i < n, text[i] == 0x65 || text[i] == 0x45 {
            i += 1
            var expNegative = false
            if i < n, text[i] == 0x2B || text[i] == 0x2D { expNegative = text[i] == 0x2D; i += 1 }
            var e = 0
            var expDigits = 0
            while i < n, text[i] >= 0x30, text[i] <= 0x39 {
                if e < 100_000 { e = e * 10 + Int(text[i] - 0x30) }
                expDigits += 1
                i += 1
            }
            guard expDigits > 0 else { return nil }
            exponent += expNegative ? -e : e
        }
        guard i == n else { return nil }
        if digits.isEmpty { return 0 }  // 0, -0, 0.000
        guard !negative else { return nil }
        let integerDigits = digits.count + exponent
        let scale = microsecondDigits(integerDigits: integerDigits)
        // The microseconds are the first `point` digits of `digits` followed by zeros.
        let point = integerDigits + scale
        guard point <= 18 else { return nil }  // > 1e18 µs is far beyond year 9999
        var micros: Int64 = 0
        for k in 0..<max(point, 0) { micros = micros * 10 + Int64(k < digits.count ? digits[k] : 0) }
        if point >= 0, point < digits.count, digits[point] >= 5 { micros += 1 }
        guard micros < endOfYear9999 else { return nil }
        return micros
    }

    /// How many decimal places an epoch number with this many integer digits is shifted by
    /// to make microseconds: < 1e11 is seconds, < 1e14 milliseconds, else microseconds (SPEC 4).
    private static func microsecondDigits(integerDigits: Int) -> Int {
        integerDigits <= 11 ? 6 : integerDigits <= 14 ? 3 : 0
    }

    /// The first 19 significant digits of a number, and how many there were in all.
    private struct SignificantDigits {
        private var stored = InlineArray<19, UInt8>(repeating: 0)
        private(set) var count = 0
        var isEmpty: Bool { count == 0 }

        mutating func append(_ digit: UInt8) {
            if count < stored.count { stored[count] = digit }
            count += 1
        }

        /// Digit `k` (k < 19; callers never ask past `point` <= 18).
        subscript(k: Int) -> UInt8 { stored[k] }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (year: Int, month: Int, day: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// Parses an RFC 3339 date-time (`2026-11-21T12:34:56.789Z`, `...+01:00`; `t`, `z` and a
    /// space separator accepted). Nil when it is not one.
    public static func parseRFC3339(_ s: UnsafeBufferPointer<UInt8>) -> Int64? {
        var i = 0
        let n = s.count
        func digits(_ count: Int) -> Int? {
            guard i + count <= n else { return nil }
            var v = 0
            for k in 0..<count {
                let c = s[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += count
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < n, s[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2)
        else { return nil }
        guard i < n, s[i] == 84 || s[i] == 116 || s[i] == 32 else { return nil }  // T t space
        i += 1
        guard let hour = digits(2), expect(58), let minute = digits(2), expect(58), let second = digits(2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        var micros = 0
        if i < n, s[i] == 46 {  // fraction: keep 6 digits, ignore the rest
            i += 1
            var count = 0
            while i < n, s[i] >= 48, s[i] <= 57 {
                if count < 6 { micros = micros * 10 + Int(s[i] - 48) }
                count += 1
                i += 1
            }
            guard count > 0 else { return nil }
            for _ in count..<max(count, 6) { micros *= 10 }
        }
        guard i < n else { return nil }
        var offsetSeconds = 0
        switch s[i] {
        case 90, 122:  // Z z
            i += 1
        case 43, 45:  // + -
            let sign = s[i] == 45 ? -1 : 1
            i += 1
            guard let oh = digits(2), expect(58), let om = digits(2), oh <= 23, om <= 59 else { return nil }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        default:
            return nil
        }
        guard i == n else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return Int64(seconds) * 1_000_000 + Int64(micros)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// `2026-11-21T12:34:56.789Z`, the log line format (milliseconds).
    public static func iso8601Millis(_ micros: Int64) -> String {
        format(micros, fractionDigits: 3, separator: "T", zone: "Z")
    }

    /// `2026-11-21 12:34:56.789012+00`, what PostgreSQL's COPY text format reads back exactly.
    public static func copyText(_ micros: Int64) -> String {
        format(micros, fractionDigits: 6, separator: " ", zone: "+00")
    }

    static func format(_ micros: Int64, fractionDigits: Int, separator: String, zone: String) -> String {
        let (secs, frac) = micros.quotientAndRemainder(dividingBy: 1_000_000)
        let s = frac < 0 ? secs - 1 : secs
        let f = frac < 0 ? frac + 1_000_000 : frac
        let (d, r) = s.quotientAndRemainder(dividingBy: 86_400)
        let days = r < 0 ? d - 1 : d
        let sod = r < 0 ? r + 86_400 : r
        let date = civilFromDays(Int(days))
        func pad(_ v: Int, _ w: Int) -> String {
            let str = String(v)
            return str.count >= w ? str : String(repeating: "0", count: w - str.count) + str
        }
        var out = pad(date.year, 4) + "-" + pad(date.month, 2) + "-" + pad(date.day, 2) + separator
        out += pad(Int(sod / 3600), 2) + ":" + pad(Int(sod % 3600 / 60), 2) + ":" + pad(Int(sod % 60), 2)
        let fraction = fractionDigits == 3 ? Int(f / 1000) : Int(f)
        out += "." + pad(fraction, fractionDigits) + zone
        return out
    }
}
