#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Concurrency
import Synchronization

/// One journal file, mapped `MAP_SHARED`: an append is a copy into the mapping (no system
/// call), and what is copied is in the page cache, so it outlives a SIGKILL or an OOM kill of
/// the process. `sync()` (msync) makes it survive a power cut too, then drops the synced
/// pages from this process's mapping: they stay in the page cache for the kernel to write
/// and evict, but no longer count as the daemon's resident memory (a full 64 MB segment
/// would otherwise add 64 MB to RSS between recycles).
///
/// Named `<first seq, 20 digits>.seg`; starts with an 8-byte magic and 8 reserved bytes.
final class JournalSegment: @unchecked Sendable {
    // @unchecked: `base`, `size`, `path`, `firstSeq` never change after init. The bytes below
    // `committed` are written once, by the one appending thread, before it publishes the new
    // `committed` (release); other threads (sync, recovery) read or msync only below the
    // `committed` they load (acquire). `unmap()` runs once nobody appends (sealed, all done);
    // it and `sync()` hold `mapped`, so the sync thread never msyncs or madvises an address
    // that was unmapped (and perhaps reused) meanwhile.
    let path: String
    let firstSeq: UInt64
    let size: Int
    private let base: UnsafeMutableRawPointer
    private let committed: Atomic<Int>
    /// True until `unmap`; `synced` is the byte offset flushed so far.
    private let mapped = Locked<(isMapped: Bool, synced: Int)>((true, 0))

    static let magic: [UInt8] = Array("IOTJRNL1".utf8)
    static let dataStart = 16

    static func name(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".seg"
    }

    /// Creates a new, zero-filled segment file of `size` bytes, its blocks reserved, and maps it.
    ///
    /// The blocks are reserved with `posix_fallocate` before the mapping exists: a sparse
    /// file (`ftruncate`) would take its blocks only when a store into the mapping first
    /// touches a page, and on a full disk that store raises SIGBUS, which no Swift code can
    /// catch. Reserved, a full disk is an ENOSPC here, which the journal turns into
    /// back-pressure. (glibc emulates the call by writing a byte per block where the
    /// filesystem has no `fallocate`; copy-on-write filesystems are the exception, README.)
    static func create(directory: String, firstSeq: UInt64, size: Int) throws(FileError) -> JournalSegment {
        let path = directory + "/" + name(firstSeq: firstSeq)
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw FileError("create", path) }
        defer { close(fd) }
        let reserved = posix_fallocate(fd, 0, off_t(size))  // returns the error; errno is untouched
        guard reserved == 0 else {
            unlink(path)
            throw FileError("reserve", path, code: reserved)
        }
        let segment: JournalSegment
        do {
            segment = try JournalSegment(path: path, fd: fd, firstSeq: firstSeq, size: size, committed: dataStart)
        } catch {
            unlink(path)  // else the next try of the same name meets EEXIST for ever
            throw error
        }
        magic.withUnsafeBytes { segment.base.copyMemory(from: $0.baseAddress!, byteCount: 8) }
        _ = msync(segment.base, dataStart, MS_SYNC)
        return segment
    }

    /// Maps an existing segment (recovery). Its committed end is found by `scan`.
    static func existing(path: String, firstSeq: UInt64) throws(FileError) -> JournalSegment {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open", path) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size >= off_t(dataStart) else {
            throw FileError("load", path, reason: "shorter than a segment header")
        }
        return try JournalSegment(path: path, fd: fd, firstSeq: firstSeq, size: Int(st.st_size), committed: dataStart)
    }

    private init(path: String, fd: Int32, firstSeq: UInt64, size: Int, committed: Int) throws(FileError) {
        guard let mapped = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), mapped != MAP_FAILED else {
            throw FileError("map", path)
        }
        self.path = path
        self.firstSeq = firstSeq
        self.size = size
        base = mapped
        self.committed = Atomic(committed)
    }

    var committedBytes: Int { committed.load(ordering: .acquiring) }

    func fits(_ bytes: Int) -> Bool { committedBytes + bytes <= size }

    /// Appends one entry. Called by the single appending thread only, after `fits`.
    func append(seq: UInt64, receivedAt: Int64, topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer,
                cutFrom: Int? = nil) {
        let at = committed.load(ordering: .relaxed)
        let body = JournalEntry.fixedBodySize + topic.count + (cutFrom == nil ? 0 : 8) + payload.count
        let start = base + at
        var p = start + JournalEntry.headerSize
        p.storeBytes(of: seq.littleEndian, as: UInt64.self)
        (p + 8).storeBytes(of: receivedAt.littleEndian, as: Int64.self)
        let topicField = UInt32(topic.count) | (cutFrom == nil ? 0 : JournalEntry.cutFlag)
        (p + 16).storeBytes(of: topicField.littleEndian, as: UInt32.self)
        p += JournalEntry.fixedBodySize
        if let t = topic.baseAddress { p.copyMemory(from: t, byteCount: topic.count) }
        p += topic.count
        if let cutFrom {
            p.storeBytes(of: UInt64(cutFrom).littleEndian, toByteOffset: 0, as: UInt64.self)
            p += 8
        }
        if let b = payload.baseAddress { p.copyMemory(from: b, byteCount: payload.count) }
        let crc = CRC32C.update(0, UnsafeRawBufferPointer(start: start + JournalEntry.headerSize, count: body))
        (start + 4).storeBytes(of: crc.littleEndian, as: UInt32.self)
        // The length last: until it is there, a reader sees the end of the segment here.
        start.storeBytes(of: UInt32(body).littleEndian, as: UInt32.self)
        committed.store(at + JournalEntry.size(topic: topic.count, payload: payload.count, cut: cutFrom != nil),
                        ordering: .releasing)
    }

    /// Flushes what was appended since the last call to disk (msync), then releases the
    /// whole pages below the flushed end, which are never written again. Any thread.
    ///
    /// Returns the errno of a failed msync (an I/O error writing the pages back), else 0.
    /// The pages are then kept, dirty, in the page cache and this process's mapping (a
    /// SIGKILL still loses nothing; a power cut could), and the next call tries them again.
    @discardableResult
    func sync() -> Int32 {
        mapped.withLock { m -> Int32 in
            let end = committedBytes
            guard m.isMapped, end > m.synced else { return 0 }
            let aligned = m.synced & ~(Self.page - 1)
            guard msync(base + aligned, end - aligned, MS_SYNC) == 0 else { return errno }
            let whole = end & ~(Self.page - 1)
            if whole > aligned { _ = madvise(base + aligned, whole - aligned, Int32(MADV_DONTNEED)) }
            m.synced = end
            return 0
        }
    }

    private static let page = Int(sysconf(Int32(_SC_PAGESIZE)))
    /// How much of a segment recovery reads before it lets the pages go (4 MiB).
    private static let releaseStride = 4 << 20

    /// What recovery found in a segment: how many whole entries, and whether it ended cleanly.
    /// The entries stay in the mapping; `read` copies them out a chunk at a time.
    struct Scan {
        var count = 0
        /// The last whole entry's sequence number, nil when there is none.
        var lastSeq: UInt64?
        /// Nil when the data ended with a zero length (clean); else why it stopped.
        var damage: String?
    }

    /// One entry found by `parse`: where its parts are in the mapping.
    private struct Located {
        var seq: UInt64
        var receivedAt: Int64
        var topic: UnsafeRawBufferPointer
        var payload: UnsafeRawBufferPointer
        var size: Int?
        /// The offset of the entry after it.
        var next: Int
    }

    private enum Parsed {
        case entry(Located)
        case end
        case damage(String)
    }

    /// The entry at byte `at`, its length and checksum verified.
    private func parse(at: Int) -> Parsed {
        guard at + JournalEntry.headerSize <= size else { return .end }
        let length = Int(UInt32(littleEndian: (base + at).loadUnaligned(as: UInt32.self)))
        if length == 0 { return .end }
        let body = base + at + JournalEntry.headerSize
        guard length >= JournalEntry.fixedBodySize, at + JournalEntry.headerSize + length <= size else {
            return .damage("entry at byte \(at) runs past the end")
        }
        let crc = UInt32(littleEndian: (base + at + 4).loadUnaligned(as: UInt32.self))
        guard CRC32C.update(0, UnsafeRawBufferPointer(start: body, count: length)) == crc else {
            return .damage("checksum mismatch at byte \(at)")
        }
        let topicField = UInt32(littleEndian: (body + 16).loadUnaligned(as: UInt32.self))
        let topicLength = Int(topicField & ~JournalEntry.cutFlag)
        let sizeBytes = topicField & JournalEntry.cutFlag != 0 ? 8 : 0
        guard topicLength + sizeBytes <= length - JournalEntry.fixedBodySize else {
            return .damage("bad topic length at byte \(at)")
        }
        var payloadStart = body + JournalEntry.fixedBodySize + topicLength
        var published: Int?
        if sizeBytes != 0 {
            published = Int(truncatingIfNeeded: UInt64(littleEndian: payloadStart.loadUnaligned(as: UInt64.self)))
            payloadStart += 8
        }
        return .entry(Located(
            seq: UInt64(littleEndian: body.loadUnaligned(as: UInt64.self)),
            receivedAt: Int64(littleEndian: (body + 8).loadUnaligned(as: Int64.self)),
            topic: UnsafeRawBufferPointer(start: body + JournalEntry.fixedBodySize, count: topicLength),
            payload: UnsafeRawBufferPointer(start: payloadStart,
                                            count: length - JournalEntry.fixedBodySize - topicLength - sizeBytes),
            size: published, next: at + ((JournalEntry.headerSize + length + 7) & ~7)))
    }

    /// Checks every entry from the start without copying any; sets the committed end after
    /// the last whole one, and lets the pages go (they are read again, a chunk at a time,
    /// by `read`).
    func scan() -> Scan {
        var result = Scan()
        guard Array(UnsafeRawBufferPointer(start: base, count: 8)) == Self.magic else {
            result.damage = "not a journal segment (bad magic)"
            return result
        }
        var at = Self.dataStart
        var released = 0  // pages below this were let go
        scanning: while true {
            switch parse(at: at) {
            case .end: break scanning
            case .damage(let why):
                result.damage = why
                break scanning
            case .entry(let entry):
                result.count += 1
                result.lastSeq = entry.seq
                // Let the pages checked so far go as it moves on (a 64 MiB segment would
                // otherwise count whole in the resident memory until the end of the scan).
                let done = entry.next & ~(Self.page - 1)
                if done - released >= Self.releaseStride {
                    _ = madvise(base + released, done - released, Int32(MADV_DONTNEED))
                    released = done
                }
                at = entry.next
            }
        }
        committed.store(at, ordering: .releasing)
        mapped.withLock { $0.synced = at }
        _ = madvise(base, size, Int32(MADV_DONTNEED))
        return result
    }

    /// Copies out the entries from byte `from` (an entry's start) up to the committed end,
    /// stopping once `maxBytes` of payload are out (at least one entry); returns them and the
    /// offset to go on from, nil when the segment is done. The pages read are let go again,
    /// so a replay holds at most a chunk of the journal in memory.
    func read(from: Int, maxBytes: Int) -> (entries: [JournalEntry], next: Int?) {
        // Under `mapped`, like sync: never a read of a mapping that is gone. `parse` checks
        // each checksum again: the scan let these pages go, and what comes back from the page
        // cache or the disk is not taken on trust (CRC32C in hardware: ~0.1 s per GB).
        mapped.withLock { m in
            guard m.isMapped else { return ([], nil) }
            let end = committedBytes
            var at = from, bytes = 0
            var entries: [JournalEntry] = []
            while at < end, entries.isEmpty || bytes < maxBytes, case .entry(let e) = parse(at: at) {
                entries.append(JournalEntry(seq: e.seq, receivedAt: e.receivedAt, topic: Array(e.topic),
                                            payload: Array(e.payload), size: e.size))
                bytes += e.payload.count
                at = e.next
            }
            let first = from & ~(Self.page - 1), last = at & ~(Self.page - 1)
            if last > first { _ = madvise(base + first, last - first, Int32(MADV_DONTNEED)) }
            return (entries, at < end && !entries.isEmpty ? at : nil)  // damage since the scan: stop
        }
    }

    func unmap() {
        mapped.withLock { m in
            guard m.isMapped else { return }
            m.isMapped = false
            munmap(base, size)
        }
    }
}
