import IngestModel

/// A minimal JSON lexer over raw bytes: strings, numbers and skipping. The payload decoder
/// walks objects with it.
///
/// Why not Foundation's JSONSerialization or Codable: they build an object graph (or a
/// dictionary of `Any`) per message, which dominated the decode profile; this scanner reads
/// the bytes in place and allocates only the metric names it keeps.
struct JSONScanner {
    /// Why a payload is not JSON we read: `code` for code, `detail` (with the byte offset)
    /// for the reject row and the warning line (SPEC 4's `invalid_json`).
    struct Malformed: Error {
        enum Code: Equatable {
            case syntax, string, escape, number, depth, truncated
        }

        let code: Code
        let detail: String

        init(_ code: Code, _ detail: String) {
            self.code = code
            self.detail = detail
        }
    }

    /// A string token; `start..<end` are the bytes between the quotes, still escaped when
    /// `hasEscapes`.
    struct StringToken {
        let start: Int
        let end: Int
        let hasEscapes: Bool
    }

    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    static let maxDepth = 64

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    var atEnd: Bool { index >= bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case ASCII.space, ASCII.tab, ASCII.lineFeed, ASCII.carriageReturn: index += 1
            default: return
            }
        }
    }

    mutating func expect(_ byte: UInt8) throws(Malformed) {
        skipWhitespace()
        guard index < bytes.count, bytes[index] == byte else {
            throw Malformed(.syntax, "expected '\(Character(Unicode.Scalar(byte)))' at byte \(index)")
        }
        index += 1
    }

    /// Reads a string token; `index` must be on the opening quote.
    mutating func scanString() throws(Malformed) -> StringToken {
        index += 1
        let start = index
        var escaped = false
        while index < bytes.count {
            let c = bytes[index]
            if c == ASCII.quote {
                index += 1
                return StringToken(start: start, end: index - 1, hasEscapes: escaped)
            }
            if c == ASCII.backslash {  // skip the escaped byte; \u digits are checked on decode
                escaped = true
                index += 2
                continue
            }
            if c < ASCII.space { throw Malformed(.string, "control character in string at byte \(index)") }
            index += 1
        }
        throw Malformed(.string, "unterminated string")
    }

    func raw(_ token: StringToken) -> UnsafeBufferPointer<UInt8> {
        UnsafeBufferPointer(rebasing: bytes[token.start..<token.end])
    }

    /// The token's text with escapes resolved.
    func string(_ token: StringToken) throws(Malformed) -> String {
        let raw = raw(token)
        guard token.hasEscapes else { return String(decoding: raw, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = 0
        func hex4(_ at: Int) throws(Malformed) -> UInt32 {
            guard at + 4 <= raw.count else { throw Malformed(.escape, "short \\u escape") }
            var v: UInt32 = 0
            for k in 0..<4 {
                let c = raw[at + k]
                let d: UInt8
                switch c {
                case ASCII.zero...ASCII.nine: d = c - ASCII.zero
                case 65...70: d = c - 55  // A-F
                case 97...102: d = c - 87  // a-f
                default: throw Malformed(.escape, "bad \\u escape")
                }
                v = v << 4 | UInt32(d)
            }
            return v
        }
        while i < raw.count {
            let c = raw[i]
            guard c == ASCII.backslash else { out.append(c); i += 1; continue }
            guard i + 1 < raw.count else { throw Malformed(.escape, "dangling escape") }
            let e = raw[i + 1]
            i += 2
            switch e {
            case ASCII.quote, ASCII.backslash, ASCII.slash: out.append(e)
            case ASCII.lowerB: out.append(0x08)  // backspace
            case ASCII.lowerF: out.append(0x0C)  // form feed
            case ASCII.lowerN: out.append(ASCII.lineFeed)
            case ASCII.lowerR: out.append(ASCII.carriageReturn)
            case ASCII.lowerT: out.append(ASCII.tab)
            case ASCII.lowerU:
                var scalar = try hex4(i)
                i += 4
                if (0xD800..<0xDC00).contains(scalar), i + 6 <= raw.count, raw[i] == ASCII.backslash, raw[i + 1] == ASCII.lowerU {
                    let low = try hex4(i + 2)
                    if (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    }
                }
                let us = Unicode.Scalar(scalar) ?? "\u{FFFD}"
                out.append(contentsOf: Array(String(Character(us)).utf8))
            default: throw Malformed(.escape, "bad escape")
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    /// True if the byte can start a number token (including NaN / Infinity, which are not JSON
    /// but are reported as `non_finite` rather than `invalid_json`).
    static func startsNumber(_ c: UInt8) -> Bool {
        (c >= ASCII.zero && c <= ASCII.nine) || c == ASCII.minus || c == ASCII.upperN || c == ASCII.upperI
    }

    /// Reads a JSON number. Exact fast path (Clinger) when it has at most 15 significant digits
    /// and a small exponent: one integer-to-double conversion and one multiply or divide, both
    /// correctly rounded. Anything else goes through strtod via `Double(String)`.
    mutating func scanNumber() throws(Malformed) -> Double {
        let start = index
        var negative = false
        if peek == ASCII.minus { negative = true; index += 1 }
        if peek == ASCII.upperN, matchWord("NaN") { return .nan }
        if peek == ASCII.upperI, matchWord("Infinity") { return negative ? -.infinity : .infinity }
        var mantissa: UInt64 = 0
        var significant = 0
        var exponent = 0
        var intDigits = 0
        let intStart = index
        while let c = peek, c >= ASCII.zero, c <= ASCII.nine {
            if significant < 19 {
                if mantissa != 0 || c != ASCII.zero { significant += 1 }
                mantissa = mantissa &* 10 &+ UInt64(c - ASCII.zero)
            } else {
                exponent += 1
                significant += 1
            }
            intDigits += 1
            index += 1
        }
        guard intDigits > 0 else { throw Malformed(.number, "bad number at byte \(start)") }
        if intDigits > 1 && bytes[intStart] == ASCII.zero { throw Malformed(.number, "leading zero at byte \(start)") }
        if peek == ASCII.dot {
            index += 1
            var fracDigits = 0
            while let c = peek, c >= ASCII.zero, c <= ASCII.nine {
                if significant < 19 {
                    if mantissa != 0 || c != ASCII.zero { significant += 1 }
                    mantissa = mantissa &* 10 &+ UInt64(c - ASCII.zero)
                    exponent -= 1
                } else {
                    significant += 1
                }
                fracDigits += 1
                index += 1
            }
            guard fracDigits > 0 else { throw Malformed(.number, "bad fraction at byte \(start)") }
        }
        if peek == 101 || peek == 69 {  // e E
            index += 1
            var expNegative = false
            if peek == ASCII.plus || peek == ASCII.minus { expNegative = peek == ASCII.minus; index += 1 }
            var e = 0
            var expDigits = 0
            while let c = peek, c >= ASCII.zero, c <= ASCII.nine {
                if e < 100_000 { e = e * 10 + Int(c - ASCII.zero) }
                expDigits += 1
                index += 1
            }
            guard expDigits > 0 else { throw Malformed(.number, "bad exponent at byte \(start)") }
            exponent += expNegative ? -e : e
        }
        if significant <= 15 && exponent >= -22 && exponent <= 22 {
            var value = Double(mantissa)
            if exponent < 0 { value /= Self.powersOfTen[-exponent] } else { value *= Self.powersOfTen[exponent] }
            return negative ? -value : value
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw Malformed(.number, "bad number at byte \(start)") }
        return value
    }

    private mutating func matchWord(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return false }
        let w = word.utf8Start
        for k in 0..<count where bytes[index + k] != w[k] { return false }
        index += count
        return true
    }

    /// Consumes `true`, `false` or `null`; nil when none is there.
    mutating func scanLiteral() -> Bool?? {
        if matchWord("true") { return .some(true) }
        if matchWord("false") { return .some(false) }
        if matchWord("null") { return .some(nil) }
        return nil
    }

    /// Skips any value (used for arrays and for everything inside them).
    mutating func skipValue(depth: Int = 0) throws(Malformed) {
        guard depth < Self.maxDepth else { throw Malformed(.depth, "nesting deeper than \(Self.maxDepth)") }
        skipWhitespace()
        guard let c = peek else { throw Malformed(.truncated, "unexpected end") }
        switch c {
        case ASCII.quote: _ = try scanString()
        case ASCII.openBrace, ASCII.openBracket:
            let close: UInt8 = c == ASCII.openBrace ? ASCII.closeBrace : ASCII.closeBracket
            index += 1
            skipWhitespace()
            if peek == close { index += 1; return }
            while true {
                if c == ASCII.openBrace {
                    skipWhitespace()
                    guard peek == ASCII.quote else { throw Malformed(.syntax, "expected key at byte \(index)") }
                    _ = try scanString()
                    try expect(ASCII.colon)
                }
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek == ASCII.comma { index += 1; continue }
                if peek == close { index += 1; return }
                throw Malformed(.syntax, "expected ',' at byte \(index)")
            }
        default:
            if Self.startsNumber(c) { _ = try scanNumber(); return }
            if scanLiteral() != nil { return }
            throw Malformed(.syntax, "unexpected byte at \(index)")
        }
    }
}
