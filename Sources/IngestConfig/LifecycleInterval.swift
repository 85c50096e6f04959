internal import Foundation

/// A fixed length of time from a `timescale.*` key (SPEC 5a): `1 day`, `7 days`, `15 minutes`,
/// `1h`. Only units of fixed length (seconds to weeks) are accepted: the loader compares
/// intervals (a retention must outlast the roll-ups' refresh window), which a month of 28 to
/// 31 days would make a guess; `365 days` says what it means.
///
/// The value is kept in canonical form, so `60 minutes` and `1 hour` are one roll-up, and the
/// text handed to SQL is built here from digits and a unit word, never from the input.
public struct LifecycleInterval: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The length in seconds, at least 1.
    public let seconds: Int

    /// The units, largest first: the canonical form uses the largest that divides exactly,
    /// except weeks, which are read but written as days (`7 days`, as SPEC 3 writes the
    /// default, and `readings_7d`).
    private static let units: [(seconds: Int, word: String, letter: Character, spellings: Set<String>)] = [
        (86_400, "day", "d", ["d", "day", "days"]),
        (3_600, "hour", "h", ["h", "hr", "hrs", "hour", "hours"]),
        (60, "minute", "m", ["m", "min", "mins", "minute", "minutes"]),
        (1, "second", "s", ["s", "sec", "secs", "second", "seconds"]),
    ]

    /// A length of `seconds` (at least 1).
    public init(seconds: Int) {
        precondition(seconds >= 1, "an interval is at least one second")
        self.seconds = seconds
    }

    /// The longest accepted: 100 years of days. PostgreSQL's intervals and TimescaleDB's
    /// chunk intervals (microseconds in 64 bits) hold far more, but a longer value is a typo
    /// that the database would refuse only at start-up.
    public static let longest = 36_500 * 86_400

    /// Parses `<count> <unit>` (space optional); nil when it is not one, is zero, or is
    /// longer than `longest`.
    public init?(_ text: String) {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let digits = trimmed.prefix(while: { $0.isASCII && $0.isNumber })
        let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces)
        let weeks: Set<String> = ["w", "wk", "wks", "week", "weeks"]
        guard digits.count <= 9, let count = Int(digits), count > 0,
              let length = weeks.contains(unit) ? 604_800 : Self.units.first(where: { $0.spellings.contains(unit) })?.seconds
        else { return nil }
        guard count <= Self.longest / length else { return nil }
        self.seconds = count * length
    }

    private var canonical: (count: Int, word: String, letter: Character) {
        let unit = Self.units.first { seconds % $0.seconds == 0 }!
        return (seconds / unit.seconds, unit.word, unit.letter)
    }

    /// PostgreSQL interval text: `1 minute`, `7 days`. Safe to put in SQL: digits and a word.
    public var sql: String {
        let c = canonical
        return "\(c.count) \(c.word)\(c.count == 1 ? "" : "s")"
    }

    /// The roll-up name suffix (SPEC 5a: `readings_1m`, `readings_1h`, `readings_1d`).
    public var suffix: String {
        let c = canonical
        return "\(c.count)\(c.letter)"
    }

    /// The canonical text, as `check-config` and the logs show it.
    public var description: String { sql }

    /// Shorter first.
    public static func < (a: Self, b: Self) -> Bool { a.seconds < b.seconds }
}
