import CCRC32C

/// CRC-32C (Castagnoli), the checksum of a journal entry: it tells a torn or damaged entry
/// from a whole one. With the CPU's crc32 instruction where there is one (x86-64 with SSE
/// 4.2: the journal checksums every message on the MQTT callback's thread, and the table
/// cost ~7 instructions a byte), else table-driven, one byte per step. Our own because the
/// toolchain has no checksum in its standard library; both give the same value.
public enum CRC32C {
    static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    static let hardware = iot_crc32c_hardware_available() != 0

    /// Continues `crc` (start with 0) over `bytes`.
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
        if hardware { return ~iot_crc32c_hardware(~crc, base, bytes.count) }
        return updateWithTable(crc, bytes)
    }

    /// The portable path (and the reference the tests hold the instruction to).
    static func updateWithTable(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var c = ~crc
        table.withUnsafeBufferPointer { t in
            for byte in bytes { c = t[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
        }
        return ~c
    }

    /// The checksum of a whole buffer: `update(0, bytes)`.
    public static func checksum(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { update(0, $0) }
    }
}
