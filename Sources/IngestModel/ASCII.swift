/// The bytes the JSON scanner and the payload decoder look for, by name. They compare raw
/// UTF-8 bytes (no `Character` per byte: see `JSONScanner`), and `ASCII.quote` reads better
/// than `0x22`. Public for the spool's COPY text escaping (Durability).
public enum ASCII {
    public static let tab: UInt8 = 0x09
    public static let lineFeed: UInt8 = 0x0A
    public static let carriageReturn: UInt8 = 0x0D
    public static let space: UInt8 = 0x20
    public static let quote: UInt8 = 0x22
    public static let plus: UInt8 = 0x2B
    public static let comma: UInt8 = 0x2C
    public static let minus: UInt8 = 0x2D
    public static let dot: UInt8 = 0x2E
    public static let slash: UInt8 = 0x2F
    public static let zero: UInt8 = 0x30
    public static let nine: UInt8 = 0x39
    public static let colon: UInt8 = 0x3A
    public static let upperI: UInt8 = 0x49
    public static let upperN: UInt8 = 0x4E
    public static let openBracket: UInt8 = 0x5B
    public static let backslash: UInt8 = 0x5C
    public static let closeBracket: UInt8 = 0x5D
    public static let lowerB: UInt8 = 0x62
    public static let lowerF: UInt8 = 0x66
    public static let lowerN: UInt8 = 0x6E
    public static let lowerR: UInt8 = 0x72
    public static let lowerT: UInt8 = 0x74
    public static let lowerU: UInt8 = 0x75
    public static let openBrace: UInt8 = 0x7B
    public static let closeBrace: UInt8 = 0x7D
}
