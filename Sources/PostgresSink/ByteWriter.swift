/// Big-endian fields stored one after another into memory already sized for them. Every
/// store is bounds-checked (one compare): a sizing mistake traps instead of writing past the end.
struct ByteWriter {
    private let base: UnsafeMutableRawPointer
    private let end: Int
    private(set) var offset = 0

    init(_ memory: UnsafeMutableRawBufferPointer) {
        base = memory.baseAddress!
        end = memory.count
    }

    @inline(__always) private mutating func claim(_ n: Int) -> Int {
        precondition(n <= end - offset, "COPY buffer overrun")
        defer { offset += n }
        return offset
    }

    @inline(__always) mutating func put16(_ v: UInt16) {
        base.storeBytes(of: v.bigEndian, toByteOffset: claim(2), as: UInt16.self)
    }

    @inline(__always) mutating func put32(_ v: UInt32) {
        base.storeBytes(of: v.bigEndian, toByteOffset: claim(4), as: UInt32.self)
    }

    @inline(__always) mutating func put64(_ v: UInt64) {
        base.storeBytes(of: v.bigEndian, toByteOffset: claim(8), as: UInt64.self)
    }

    mutating func put(raw bytes: UnsafeRawBufferPointer) {
        let at = claim(bytes.count)
        guard let from = bytes.baseAddress, !bytes.isEmpty else { return }
        (base + at).copyMemory(from: from, byteCount: bytes.count)
    }

    /// A length-prefixed field.
    mutating func put(bytes: UnsafeRawBufferPointer) {
        put32(UInt32(bytes.count))
        put(raw: bytes)
    }

    /// A length-prefixed UTF-8 field.
    mutating func put(text: String) {
        let done: Void? = text.utf8.withContiguousStorageIfAvailable { put(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil { Array(text.utf8).withUnsafeBytes { put(bytes: $0) } }
    }
}
