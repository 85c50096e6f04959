/// Influx line protocol, one line at a time, as InfluxDB documents it (SPEC 4c):
/// `measurement[,tag=value...] field=value[,field=value...] [timestamp]`.
///
/// Escapes: in the measurement a backslash makes a comma or space literal; in tag keys, tag
/// values and field keys also an equals sign; in a string field a backslash makes a double
/// quote or a backslash literal. A backslash before any other character is itself, as in
/// InfluxDB. Lines end at `\n` (a `\r` before it is dropped) except inside a quoted string;
/// blank lines and lines starting with `#` are skipped.
///
/// Written here rather than taken from a library: none exists in Swift, and the parser
/// must run over the message's bytes without a `String` per token on the worker's path.
struct InfluxLineParser {
    /// A field's value, typed by its syntax: `1.5` float, `1i` integer, `1u` unsigned,
    /// `"x"` string, `t`/`false`/... boolean.
    enum FieldValue: Equatable {
        case float(Double)
        case integer(Int64)
        case unsigned(UInt64)
        case boolean(Bool)
        case string(String)
    }

    /// One parsed line.
    struct Line: Equatable {
        var measurement: String
        var tags: [(key: String, value: String)]
        var fields: [(key: String, value: FieldValue)]
        /// In the payload's precision; nil when the line has none.
        var timestamp: Int64?

        static func == (a: Line, b: Line) -> Bool {
            a.measurement == b.measurement && a.timestamp == b.timestamp
                && a.tags.elementsEqual(b.tags, by: { $0 == $1 }) && a.fields.elementsEqual(b.fields, by: { $0 == $1 })
        }
    }

    /// Why a line does not parse: its number (1-based, counting every line of the payload)
    /// and what is wrong, for `invalid_line_protocol`'s detail.
    struct Failure: Error, Equatable, CustomStringConvertible {
        let line: Int
        let reason: String
        var description: String { "line \(line): \(reason)" }
    }

    let bytes: UnsafeBufferPointer<UInt8>
    private var i = 0
    /// The number of the line `i` is on.
    private(set) var lineNumber = 1
    /// The number of the line `next()` returned last (a string field may span lines).
    private(set) var lastLine = 0

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    private static let comma = UInt8(ascii: ","), space = UInt8(ascii: " "), equals = UInt8(ascii: "=")
    private static let newline = UInt8(ascii: "\n"), carriage = UInt8(ascii: "\r"), quote = UInt8(ascii: "\"")
    private static let backslash = UInt8(ascii: "\\"), hash = UInt8(ascii: "#")
    /// What ends a measurement or a tag value, what ends a key, and what a backslash makes
    /// literal in keys: built once, not per token.
    private static let endOfName: [UInt8] = [comma, space], endOfKey: [UInt8] = [comma, space, equals]
    private static let keyEscapes: [UInt8] = [comma, equals, space]

    private var atEnd: Bool { i >= bytes.count }
    private var peek: UInt8? { i < bytes.count ? bytes[i] : nil }

    /// The next line, nil at the end of the payload; throws on the first line that does not
    /// parse (the caller rejects the whole message).
    mutating func next() throws(Failure) -> Line? {
        while !atEnd {
            // Blank lines, lines of spaces, comments.
            var j = i
            while j < bytes.count, bytes[j] == Self.space || bytes[j] == Self.carriage || bytes[j] == UInt8(ascii: "\t") { j += 1 }
            if j == bytes.count { i = j; return nil }
            if bytes[j] == Self.newline { i = j + 1; lineNumber += 1; continue }
            if bytes[j] == Self.hash {
                while j < bytes.count, bytes[j] != Self.newline { j += 1 }
                i = j
                continue
            }
            i = j
            lastLine = lineNumber
            return try line()
        }
        return nil
    }

    private func fail(_ reason: String) -> Failure { Failure(line: lineNumber, reason: reason) }

    /// At most 64 bytes of a token or name for a reject's detail and the log (a hostile
    /// payload's key may be as long as the payload).
    static func excerpt(_ bytes: some Collection<UInt8>) -> String {
        bytes.count <= 64 ? String(decoding: bytes, as: UTF8.self) : String(decoding: bytes.prefix(64), as: UTF8.self) + "…"
    }

    static func excerpt(_ text: String) -> String { excerpt(Array(text.utf8)) }

    private mutating func line() throws(Failure) -> Line {
        let measurement = try key(endingAt: Self.endOfName, escapable: Self.endOfName, what: "measurement")
        var tags: [(key: String, value: String)] = []
        while peek == Self.comma {
            i += 1
            let tag = try pairKey("tag key")
            let value = try key(endingAt: Self.endOfName, escapable: Self.keyEscapes, what: "tag value")
            tags.append((tag, value))
        }
        guard peek == Self.space else { throw fail("no fields after \(tags.isEmpty ? "the measurement" : "the tags")") }
        skipSpaces()
        var fields: [(key: String, value: FieldValue)] = []
        repeat {
            if !fields.isEmpty { i += 1 }  // ','
            let field = try pairKey("field key")
            fields.append((field, try fieldValue(of: field)))
        } while peek == Self.comma
        var timestamp: Int64?
        if peek == Self.space {
            skipSpaces()
            if let c = peek, c != Self.newline, c != Self.carriage { timestamp = try self.timestamp() }
        }
        if peek == Self.carriage { i += 1 }
        if let c = peek {
            guard c == Self.newline else { throw fail("unexpected '\(Character(Unicode.Scalar(c)))' after the fields") }
            i += 1
            lineNumber += 1
        }
        return Line(measurement: measurement, tags: tags, fields: fields, timestamp: timestamp)
    }

    private mutating func skipSpaces() {
        while peek == Self.space { i += 1 }
    }

    /// A tag or field key and its `=`, which is read.
    private mutating func pairKey(_ what: String) throws(Failure) -> String {
        let name = try key(endingAt: Self.endOfKey, escapable: Self.keyEscapes, what: what)
        guard peek == Self.equals else { throw fail("\(what) \(Self.excerpt(name)) has no '='") }
        i += 1
        return name
    }

    /// A measurement, tag key, tag value or field key: up to an unescaped terminator or the
    /// end of the line, which is left unread (the caller says what should have come). Empty
    /// is an error.
    private mutating func key(endingAt terminators: [UInt8], escapable: [UInt8], what: String) throws(Failure) -> String {
        var out: [UInt8] = []
        while let c = peek {
            if c == Self.newline || (c == Self.carriage && i + 1 < bytes.count && bytes[i + 1] == Self.newline) { break }
            if c == Self.backslash, i + 1 < bytes.count, escapable.contains(bytes[i + 1]) {
                out.append(bytes[i + 1])
                i += 2
                continue
            }
            if terminators.contains(c) { break }
            out.append(c)
            i += 1
        }
        guard !out.isEmpty else { throw fail("empty \(what)") }
        return String(decoding: out, as: UTF8.self)
    }

    private mutating func fieldValue(of field: String) throws(Failure) -> FieldValue {
        guard let first = peek, first != Self.comma, first != Self.space, first != Self.newline else {
            throw fail("field \(Self.excerpt(field)) has no value")
        }
        if first == Self.quote { return .string(try quoted(field)) }
        let start = i
        while let c = peek, c != Self.comma, c != Self.space, c != Self.newline, c != Self.carriage { i += 1 }
        let token = UnsafeBufferPointer(rebasing: bytes[start..<i])
        guard let value = Self.scalar(token) else {
            throw fail("field \(Self.excerpt(field)) has the value '\(Self.excerpt(token))', which is no float, "
                       + "integer (i), unsigned (u), boolean or quoted string")
        }
        return value
    }

    /// A double-quoted string field; `\"` and `\\` are escapes, newlines are part of it.
    private mutating func quoted(_ field: String) throws(Failure) -> String {
        i += 1
        var out: [UInt8] = []
        while let c = peek {
            if c == Self.quote {
                i += 1
                return String(decoding: out, as: UTF8.self)
            }
            if c == Self.backslash, i + 1 < bytes.count, bytes[i + 1] == Self.quote || bytes[i + 1] == Self.backslash {
                out.append(bytes[i + 1])
                i += 2
                continue
            }
            if c == Self.newline { lineNumber += 1 }
            out.append(c)
            i += 1
        }
        throw fail("string field \(Self.excerpt(field)) has no closing quote")
    }

    private mutating func timestamp() throws(Failure) -> Int64 {
        let start = i
        while let c = peek, c != Self.newline, c != Self.carriage, c != Self.space { i += 1 }
        let token = UnsafeBufferPointer(rebasing: bytes[start..<i])
        skipSpaces()
        guard let value = Self.integer(token) else {
            throw fail("timestamp '\(Self.excerpt(token))' is not an integer")
        }
        return value
    }

    /// A field value that is not a string.
    static func scalar(_ token: UnsafeBufferPointer<UInt8>) -> FieldValue? {
        guard let last = token.last else { return nil }
        switch token.count {
        case 1 where last == UInt8(ascii: "t") || last == UInt8(ascii: "T"): return .boolean(true)
        case 1 where last == UInt8(ascii: "f") || last == UInt8(ascii: "F"): return .boolean(false)
        default: break
        }
        if let word = boolean(token) { return .boolean(word) }
        if last == UInt8(ascii: "i") {
            return integer(UnsafeBufferPointer(rebasing: token.dropLast())).map(FieldValue.integer)
        }
        if last == UInt8(ascii: "u") {
            return unsigned(UnsafeBufferPointer(rebasing: token.dropLast())).map(FieldValue.unsigned)
        }
        return float(token).map(FieldValue.float)
    }

    /// `true`, `True`, `TRUE`, `false`, `False`, `FALSE` (one letter is handled by the caller).
    /// Compared as bytes: no `String` for every numeric field.
    static func boolean(_ token: UnsafeBufferPointer<UInt8>) -> Bool? {
        guard token.count == 4 || token.count == 5 else { return nil }
        for (word, value) in words where token.elementsEqual(word) { return value }
        return nil
    }

    private static let words: [([UInt8], Bool)] = ["true", "True", "TRUE", "false", "False", "FALSE"]
        .map { (Array($0.utf8), $0.first!.lowercased() == "t") }

    /// `-?[0-9]+` within Int64.
    static func integer(_ token: UnsafeBufferPointer<UInt8>) -> Int64? {
        var j = 0
        let negative = token.first == UInt8(ascii: "-")
        if negative { j = 1 }
        guard j < token.count else { return nil }
        var magnitude: UInt64 = 0
        while j < token.count {
            let d = token[j] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            magnitude = sum
            j += 1
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    /// `[0-9]+` within UInt64.
    static func unsigned(_ token: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard !token.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in token {
            let d = byte &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            value = sum
        }
        return value
    }

    /// `[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?`, finite: no `NaN` or `inf`,
    /// which InfluxDB refuses too.
    static func float(_ token: UnsafeBufferPointer<UInt8>) -> Double? {
        var j = 0
        func digits() -> Int {
            let from = j
            while j < token.count, token[j] &- UInt8(ascii: "0") < 10 { j += 1 }
            return j - from
        }
        if j < token.count, token[j] == UInt8(ascii: "-") || token[j] == UInt8(ascii: "+") { j += 1 }
        var mantissa = digits()
        if j < token.count, token[j] == UInt8(ascii: ".") {
            j += 1
            mantissa += digits()
        }
        guard mantissa > 0 else { return nil }
        if j < token.count, token[j] == UInt8(ascii: "e") || token[j] == UInt8(ascii: "E") {
            j += 1
            if j < token.count, token[j] == UInt8(ascii: "-") || token[j] == UInt8(ascii: "+") { j += 1 }
            guard digits() > 0 else { return nil }
        }
        guard j == token.count, let value = Double(String(decoding: token, as: UTF8.self)), value.isFinite else { return nil }
        return value
    }
}
