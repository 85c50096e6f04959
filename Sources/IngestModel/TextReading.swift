/// One row of the text table (`<database.table>_text`, SPEC 5 v4): a string leaf of a payload,
/// stored as it came (an empty string is a value).
///
/// Its own type and its own array in `Batch`, not a case of `Reading`'s value: numeric rows,
/// which most payloads are made of only, stay as small and as cheap to copy as before, and
/// each table gets its own COPY and its own bisection.
public struct TextReading: Sendable {
    /// Microseconds since the Unix epoch.
    public var time: Int64
    /// As `Reading.deviceID`.
    public var deviceID: String
    /// As `Reading.metric` (arrays give index segments: `accel.0`, `cells.0.v`).
    public var metric: String
    /// The string, escapes resolved; never holds U+0000 (the decoder rejects that).
    public var value: String
    /// The message it came from, for `ingest_rejects` if the database refuses this row.
    public var source: Message

    /// `time` in microseconds since the Unix epoch.
    public init(time: Int64, deviceID: String, metric: String, value: String, source: Message) {
        self.time = time
        self.deviceID = deviceID
        self.metric = metric
        self.value = value
        self.source = source
    }

    /// The text table that goes with the readings table `table`: the one naming rule.
    public static func table(for table: String) -> String { table + "_text" }
}

/// Why a leaf of a valid payload became no row (`fields_ignored_total{kind}`, SPEC 4 and 10):
/// counted, so nothing a device sends disappears unaccounted.
public enum IgnoredKind: String, Sendable, CaseIterable {
    /// A `null`.
    case null
    /// An empty object or array.
    case empty
    /// A string while `payload.store_strings` is false.
    case string
    /// A field beside `metric`/`value`: metadata of that one reading.
    case besideValue = "beside_value"
    /// A Sparkplug metric marked `is_transient`: not meant to be stored (SPEC 4b).
    case transient
    /// A Sparkplug NDEATH whose `bdSeq` is not the last NBIRTH's: an old session's will.
    case staleDeath = "stale_death"
    /// Sparkplug values the tables cannot hold, by Tahu datatype.
    case sparkplugDataSet = "sparkplug_dataset"
    case sparkplugTemplate = "sparkplug_template"
    case sparkplugBytes = "sparkplug_bytes"
    case sparkplugFile = "sparkplug_file"
    /// PropertySet and PropertySetList.
    case sparkplugPropertySet = "sparkplug_propertyset"
    /// Every array datatype (Int8Array ... DateTimeArray).
    case sparkplugArray = "sparkplug_array"
    /// A datatype this build does not know (Unknown, or one added after Tahu 3.0).
    case sparkplugUnknown = "sparkplug_unknown"
    /// A whole Sparkplug message that is not telemetry: a host's STATE, an NCMD or DCMD (ours included).
    case sparkplugControl = "sparkplug_control"
}

/// Ignored leaves by kind, tallied per decode and added to the stats once per worker take.
public struct IgnoredFields: Sendable, Equatable {
    /// Counts in `IgnoredKind.allCases` order.
    public private(set) var counts: [Int] = []

    /// Nothing ignored.
    public init() {}

    /// Adds `n` leaves of `kind`.
    public mutating func add(_ kind: IgnoredKind, _ n: Int = 1) {
        guard n > 0 else { return }
        if counts.isEmpty { counts = Array(repeating: 0, count: IgnoredKind.allCases.count) }
        counts[Self.index(kind)] += n
    }

    /// Adds another tally.
    public mutating func add(_ other: IgnoredFields) {
        guard !other.counts.isEmpty else { return }
        if counts.isEmpty {
            counts = other.counts
        } else {
            for i in counts.indices { counts[i] += other.counts[i] }
        }
    }

    /// Leaves of `kind` counted.
    public subscript(kind: IgnoredKind) -> Int { counts.isEmpty ? 0 : counts[Self.index(kind)] }

    /// True when nothing was counted (the common case: no array allocated).
    public var isEmpty: Bool { counts.isEmpty || counts.allSatisfy { $0 == 0 } }

    private static func index(_ kind: IgnoredKind) -> Int {
        switch kind {
        case .null: 0
        case .empty: 1
        case .string: 2
        case .besideValue: 3
        case .transient: 4
        case .staleDeath: 5
        case .sparkplugDataSet: 6
        case .sparkplugTemplate: 7
        case .sparkplugBytes: 8
        case .sparkplugFile: 9
        case .sparkplugPropertySet: 10
        case .sparkplugArray: 11
        case .sparkplugUnknown: 12
        case .sparkplugControl: 13
        }
    }
}
