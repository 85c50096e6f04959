/// The bytes the JSON scanner and the payload decoder look for, by name. They compare raw
/// UTF-8 bytes (no `Character` per byte: see `JSONScanner`), and `ASCII.quote` reads better
/// than `0x22`. Public for the spool's COPY text escaping (Durability).
public enum ASCII {
    /// `\t`: JSON whitespace; escaped in COPY text.
    public static let tab: UInt8 = 0x09
    /// `\n`: JSON whitespace and the `\n` escape; escaped in COPY text, where it ends a row.
    public static let lineFeed: UInt8 = 0x0A
    /// `\r`: JSON whitespace and the `\r` escape; escaped in COPY text.
    public static let carriageReturn: UInt8 = 0x0D
    /// JSON whitespace; bytes below it are control characters, refused raw inside a string.
    public static let space: UInt8 = 0x20
    /// `"`: opens and closes a JSON string or key.
    public static let quote: UInt8 = 0x22
    /// `+`: an exponent's sign.
    public static let plus: UInt8 = 0x2B
    /// `,`: between members and elements.
    public static let comma: UInt8 = 0x2C
    /// `-`: a number's or an exponent's sign.
    public static let minus: UInt8 = 0x2D
    /// `.`: starts a number's fraction.
    public static let dot: UInt8 = 0x2E
    /// `/`: the `\/` escape.
    public static let slash: UInt8 = 0x2F
    /// `0`: the lowest digit; digits are `zero...nine`, and a leading zero is refused.
    public static let zero: UInt8 = 0x30
    /// `9`: the highest digit.
    public static let nine: UInt8 = 0x39
    /// `:`: between a key and its value.
    public static let colon: UInt8 = 0x3A
    /// `I`: starts `Infinity`, read as a number so it is rejected as `non_finite`, not `invalid_json`.
    public static let upperI: UInt8 = 0x49
    /// `N`: starts `NaN`, read as a number for the same reason as `upperI`.
    public static let upperN: UInt8 = 0x4E
    /// `[`: opens an array.
    public static let openBracket: UInt8 = 0x5B
    /// `\`: starts an escape in JSON strings and in COPY text.
    public static let backslash: UInt8 = 0x5C
    /// `]`: closes an array.
    public static let closeBracket: UInt8 = 0x5D
    /// `b`: the `\b` escape.
    public static let lowerB: UInt8 = 0x62
    /// `f`: the `\f` escape, and the start of `false`.
    public static let lowerF: UInt8 = 0x66
    /// `n`: the `\n` escape, and the start of `null`.
    public static let lowerN: UInt8 = 0x6E
    /// `r`: the `\r` escape.
    public static let lowerR: UInt8 = 0x72
    /// `t`: the `\t` escape, and the start of `true`.
    public static let lowerT: UInt8 = 0x74
    /// `u`: the `\uXXXX` escape.
    public static let lowerU: UInt8 = 0x75
    /// `{`: opens an object.
    public static let openBrace: UInt8 = 0x7B
    /// `}`: closes an object.
    public static let closeBrace: UInt8 = 0x7D
}
