@testable import Durability
import Testing

@Suite("CRC-32C: the crc32 instruction and the table agree")
struct CRC32CTests {
    @Test func checkValue() {
        // The standard check value of CRC-32C ("123456789").
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32C.updateWithTable(0, $0) } == 0xE306_9283)
    }

    @Test func everyLengthAndAlignmentMatchesTheTable() {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<600).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes.withUnsafeBytes { all in
            for start in 0..<9 {
                for length in 0..<(all.count - start) {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    #expect(CRC32C.update(0, slice) == CRC32C.updateWithTable(0, slice), "start \(start) length \(length)")
                }
            }
            // Continuing over two pieces is checksumming the whole.
            let whole = CRC32C.update(0, all)
            let first = CRC32C.update(0, UnsafeRawBufferPointer(rebasing: all[0..<123]))
            #expect(CRC32C.update(first, UnsafeRawBufferPointer(rebasing: all[123...])) == whole)
        }
    }
}
