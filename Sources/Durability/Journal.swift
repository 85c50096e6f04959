#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Concurrency
import IngestModel
import Logging
import Synchronization

/// The crash journal (SPEC 8a): every message is appended here before libmosquitto's
/// callback returns, and stays until its rows are committed or spooled, so a killed process
/// loses nothing; the next start replays what was not done.
///
/// Segments are fixed-size `MAP_SHARED` files (`JournalSegment`). One thread appends (the
/// source's); writer lanes and the spool mark entries done; a segment whose entries are all
/// done, and that is no longer appended to, is deleted. The files never exceed `maxBytes`: an
/// append that needs a new segment past that waits for one to be freed (back-pressure, like a
/// full queue). A disk that refuses a new segment (full, failing) is back-pressure too: the
/// append waits and retries every half second, `/ready` names `journal.dir` and the error
/// (`writeFailure`), and the journal resumes by itself when a segment can be made again.
/// A `flock` on `journal.dir/lock` keeps a second process out.
public final class Journal: MessageJournal {
    /// The `journal.*` keys of SPEC 3.
    public struct Settings: Sendable {
        /// `journal.dir`: the segments and the lock file live here.
        public var directory: String
        /// `journal.max_bytes`: disk the segments may take together; appends wait beyond it.
        public var maxBytes: Int
        /// 0: msync after every append (slow).
        public var fsyncIntervalMs: Int

        /// The values as configured; `Journal.init` checks the directory, not these.
        public init(directory: String, maxBytes: Int, fsyncIntervalMs: Int) {
            self.directory = directory
            self.maxBytes = maxBytes
            self.fsyncIntervalMs = fsyncIntervalMs
        }
    }

    /// Why the journal cannot be opened: `run` exits 2 naming `journal.dir` (SPEC 8a, 12).
    public struct OpenError: Error, CustomStringConvertible {
        /// What went wrong, for callers that act on it.
        public enum Code: Sendable, Equatable {
            /// The directory or a file in it cannot be made or written (`file` says which, and errno).
            case unusable
            /// Another process holds the journal's lock.
            case lockedByAnother
        }

        /// What went wrong.
        public let code: Code
        /// The failed file operation, with its errno (nil for `lockedByAnother`).
        public let file: FileError?
        /// The directory.
        public let directory: String

        /// The line `run` prints before exiting 2.
        public var description: String {
            switch code {
            case .lockedByAnother: "\(directory) is locked by another running iot-ingest (one journal per process)"
            case .unusable: file?.description ?? "\(directory) is unusable"
            }
        }
    }

    /// One segment and how many of its entries are appended and done.
    private struct Slot {
        let segment: JournalSegment
        var appended = 0
        var done = 0
        var sealed = false
        var isRecyclable: Bool { sealed && done >= appended }
    }

    private struct State {
        var slots: [Slot] = []
        var nextSeq: UInt64 = 1
        var closed = false
        /// Shutdown began: appends no longer wait for room (`stopWaiting`).
        var impatient = false
    }

    /// This journal's identity (a random id kept in `journal.dir/id`): the done-records in
    /// the database are per journal, so replicas sharing a database never mix them up.
    public let id: String
    /// What the journal was opened with.
    public let settings: Settings
    let segmentSize: Int
    private let state: Locked<State>
    private let room = ConditionLock()
    /// The flock on `journal.dir/lock`: one journal per process (SPEC 8a).
    private let lock: DirectoryLock
    private let logger: Logger
    private let syncer = Locked<PeriodicThread?>(nil)
    /// What an earlier run left, read a chunk at a time: the segments in order, where the
    /// next read starts in the first, and those that are only kept for this (quarantined:
    /// their file moved to `corrupt/`, their mapping still good for the entries before the
    /// damage), to unmap once read.
    private struct Recovery {
        var segments: [(segment: JournalSegment, quarantined: Bool)] = []
        var offset = JournalSegment.dataStart
    }
    private let recovery = Locked(Recovery())
    /// Appends that had to wait for a segment to be freed, or for the disk to take one.
    public let blockedAppends = Atomic<Int>(0)
    /// Segments the disk refused to create (`journal_write_failures_total`).
    public let failedCreations = Atomic<Int>(0)
    /// Flushes the disk refused (`journal_sync_failures_total`): an I/O error under the journal.
    public let failedSyncs = Atomic<Int>(0)
    /// Why the disk refuses new segments, and since when (monotonic seconds); nil while it takes them.
    private let refusal = Locked<(error: String, since: Double)?>(nil)
    /// At most one `journal_write_blocked` / `journal_sync_failed` line per 10 s.
    private let failureLog = RateLimit<String>(interval: 10)

    /// Opens (creating if needed) and locks the directory, and reads what an earlier run left.
    public init(settings: Settings, logger: Logger) throws(OpenError) {
        self.settings = settings
        self.logger = logger
        segmentSize = min(64 << 20, max(1 << 20, settings.maxBytes / 8))
        let dir = settings.directory
        if mkdir(dir, 0o750) != 0 && errno != EEXIST {
            throw OpenError(code: .unusable, file: FileError("create", dir), directory: dir)
        }
        do {
            lock = try DirectoryLock(directory: dir, file: "lock")
        } catch where DirectoryLock.isHeldElsewhere(error) {
            throw OpenError(code: .lockedByAnother, file: nil, directory: dir)
        } catch {
            throw OpenError(code: .unusable, file: error, directory: dir)
        }
        id = try Self.identity(in: dir)  // on a throw, the lock is released with it
        var s = State()
        let (slots, recovering, nextSeq) = Self.load(dir, logger: logger)
        s.slots = slots
        s.nextSeq = nextSeq
        state = Locked(s)
        recovery.withLock { $0.segments = recovering }
    }

    /// Gives up the directory as a killed process would: nothing is closed or synced, and
    /// the lock goes now rather than when the last reference happens to, so a test that
    /// plays a restart can open the directory again at once. Nothing may be appended after
    /// it. The daemon never calls it: its lock goes with the process.
    func abandon() {
        lock.release()
    }

    /// The next entries an earlier run left, in sequence order, as messages carrying their
    /// sequence numbers: about `maxBytes` of payload (at least one entry), read from the
    /// mapping now, so a replay never holds the whole journal in memory. Empty once all
    /// were handed out (each once). Reads mapped pages (may wait for the disk): call it on a
    /// thread the daemon owns.
    public func takeRecovered(maxBytes: Int) -> [Message] {
        recovery.withLock { r in
            while let (segment, quarantined) = r.segments.first {
                let (entries, next) = segment.read(from: r.offset, maxBytes: maxBytes)
                if let next {
                    r.offset = next
                } else {
                    r.segments.removeFirst()
                    r.offset = JournalSegment.dataStart
                    if quarantined { segment.unmap() }
                }
                if !entries.isEmpty { return entries.map(\.message) }
            }
            return []
        }
    }

    /// The smallest sequence number still in a segment: done-records below it are no
    /// longer needed.
    public var oldestSeq: UInt64 {
        state.withLock { $0.slots.first?.segment.firstSeq ?? $0.nextSeq }
    }

    /// Bytes of segment files on disk.
    public var bytes: Int { state.withLock { $0.slots.reduce(0) { $0 + $1.segment.size } } }

    /// Why appends are waiting on the disk (it refused a new segment: full, read-only, an
    /// I/O error), nil while it takes them: `/ready` turns 503 with it.
    public var writeFailure: String? { refusal.withLock { $0?.error } }

    /// Starts the periodic msync thread (unless every append syncs).
    public func startSyncing() {
        guard settings.fsyncIntervalMs > 0 else { return }
        let interval = Double(settings.fsyncIntervalMs) / 1000
        syncer.withLock { $0 = PeriodicThread(every: interval) { _ in self.syncAll() } }
    }

    /// Appends one message and returns its sequence number, or nil once the journal is
    /// closed (forced shutdown) or its disk refused a new segment (logged). Called by the one
    /// source thread; blocks while the journal is full.
    public func append(_ message: Message) -> UInt64? {
        var topic = message.topic
        return topic.withUTF8 { t in
            message.payload.withUnsafeBytes { p in
                append(topic: UnsafeRawBufferPointer(t), payload: p, receivedAt: message.receivedAt,
                       size: message.size)
            }
        }
    }

    /// The same, from raw bytes: one copy, into the mapping. `size` is the payload's
    /// published size when `payload` holds only its start (an oversized message).
    public func append(topic: UnsafeRawBufferPointer, payload: UnsafeRawBufferPointer, receivedAt: Int64,
                       size: Int? = nil) -> UInt64? {
        let cutFrom = size.flatMap { $0 > payload.count ? $0 : nil }
        let need = JournalEntry.size(topic: topic.count, payload: payload.count, cut: cutFrom != nil)
        guard let (segment, seq) = reserve(need) else { return nil }
        segment.append(seq: seq, receivedAt: receivedAt, topic: topic, payload: payload, cutFrom: cutFrom)
        if settings.fsyncIntervalMs == 0 { syncChecked(segment) }
        return seq
    }

    /// Marks entries done (their rows are committed, spooled or deliberately dropped), and
    /// deletes the segments that leaves with nothing to do.
    public func markDone(_ seqs: [UInt64]) {
        guard !seqs.isEmpty else { return }
        let freed = state.withLock { s -> [JournalSegment] in
            for seq in seqs {
                // Entries of a segment moved to corrupt/ belong to no slot.
                guard let i = Self.slotIndex(of: seq, in: s.slots),
                      seq < s.slots[i].segment.firstSeq + UInt64(s.slots[i].appended) else { continue }
                s.slots[i].done += 1
            }
            return Self.removeRecyclable(&s)
        }
        release(freed)
    }

    /// From now on an append that would wait for room returns nil at once (shutdown: the
    /// source's thread must not stay parked on a full disk while the sequence stops it).
    public func stopWaiting() {
        state.withLock { $0.impatient = true }
        room.withLock { room.broadcast() }
    }

    /// Seals the segment being appended to (shutdown), so it too can be freed once done.
    /// Safe to call twice and from two threads at once: the orderly close of the pool and
    /// the forced spool of a second signal can both get here.
    public func close() {
        let freed = state.withLock { s -> [JournalSegment] in
            s.closed = true
            for i in s.slots.indices { s.slots[i].sealed = true }
            return Self.removeRecyclable(&s)
        }
        release(freed)
        room.withLock { room.broadcast() }
        syncer.withLock { syncer in
            defer { syncer = nil }
            return syncer
        }?.stop()
        syncAll()
    }

    // MARK: - Internals

    private enum Reservation {
        case reserved(JournalSegment, UInt64)
        case create(firstSeq: UInt64, size: Int)
        case full
        case closed
    }

    private func reserve(_ need: Int) -> (JournalSegment, UInt64)? {
        var counted = false
        /// Waits for room (the broker holds the rest meanwhile); the append counts as blocked once.
        func waitForRoom(seconds: Double) {
            if !counted {
                counted = true
                blockedAppends.add(1, ordering: .relaxed)
            }
            room.withLock { _ = room.wait(seconds: seconds) }
        }
        while true {
            var freed: [JournalSegment] = []
            let next = state.withLock { s -> Reservation in
                if s.closed { return .closed }
                if let last = s.slots.indices.last, !s.slots[last].sealed {
                    if s.slots[last].segment.fits(need) {
                        let seq = s.nextSeq
                        s.nextSeq += 1
                        s.slots[last].appended += 1
                        return .reserved(s.slots[last].segment, seq)
                    }
                    s.slots[last].sealed = true
                }
                freed = Self.removeRecyclable(&s)
                let size = max(segmentSize, need + JournalSegment.dataStart)
                let used = s.slots.reduce(0) { $0 + $1.segment.size }
                if used == 0 || used + size <= settings.maxBytes { return .create(firstSeq: s.nextSeq, size: size) }
                return s.impatient ? .closed : .full  // shutdown: no more waiting for room
            }
            release(freed)
            switch next {
            case .reserved(let segment, let seq):
                return (segment, seq)
            case .closed:
                return nil
            case .create(let firstSeq, let size):
                // Only this thread appends, so `nextSeq` is still `firstSeq` when it lands.
                do {
                    let segment = try JournalSegment.create(directory: settings.directory, firstSeq: firstSeq, size: size)
                    state.withLock { $0.slots.append(Slot(segment: segment)) }
                    resumed()
                } catch {
                    // Back-pressure, never a skipped entry: the callback waits here (the broker
                    // holds the rest) until the disk takes a segment or the journal closes.
                    refused(error)
                    if state.withLock({ $0.impatient }) { return nil }
                    waitForRoom(seconds: 0.5)
                }
            case .full:
                waitForRoom(seconds: 0.1)  // for markDone to free a segment
            }
        }
    }

    /// The disk refused a new segment: counted, remembered for `/ready`, logged when the
    /// wait begins and then at most every 10 s, with how many refusals the line stands for.
    private func refused(_ error: FileError) {
        failedCreations.add(1, ordering: .relaxed)
        let now = Timestamp.monotonicSeconds()
        let since = refusal.withLock { r -> Double in
            let since = r?.since ?? now
            r = (error.description, since)
            return since
        }
        // `resumed()` resets the limit, so a spell's first refusal is always logged.
        guard let quiet = failureLog.admit("write", now: now) else { return }
        logger.error("journal_write_blocked", metadata: [
            "journal_dir": .string(settings.directory), "error": .string(error.description),
            "errno": .stringConvertible(error.code), "blocked_s": .stringConvertible(Int(now - since)),
            "refusals_since_last_line": .stringConvertible(quiet + 1),
        ])
    }

    /// A segment was made: if the disk had refused one, say the journal takes appends again.
    private func resumed() {
        guard let (_, since) = refusal.withLock({ r in defer { r = nil }; return r }) else { return }
        failureLog.reset("write")
        let seconds = Timestamp.monotonicSeconds() - since
        logger.notice("journal_write_resumed", metadata: [
            "journal_dir": .string(settings.directory),
            "blocked_s": .stringConvertible((seconds * 10).rounded() / 10),
        ])
    }

    private func release(_ freed: [JournalSegment]) {
        guard !freed.isEmpty else { return }
        for segment in freed {
            segment.unmap()
            unlink(segment.path)
        }
        room.withLock { room.broadcast() }
    }

    private func syncAll() {
        for slot in state.withLock({ $0.slots }) { syncChecked(slot.segment) }
    }

    /// msync, counting and logging (at most every 10 s) an I/O error: the pages stay dirty in
    /// the page cache, so a crash of this process still loses nothing; a power cut could.
    private func syncChecked(_ segment: JournalSegment) {
        let code = segment.sync()
        guard code != 0 else { return }
        failedSyncs.add(1, ordering: .relaxed)
        guard let quiet = failureLog.admit("sync", now: Timestamp.monotonicSeconds()) else { return }
        logger.error("journal_sync_failed", metadata: [
            "error": .string(FileError("sync", segment.path, code: code).description),
            "failures_since_last_line": .stringConvertible(quiet + 1),
        ])
    }

    /// Removes the sealed, all-done segments, except the newest: its name carries the
    /// sequence on to the next run (which must never reuse a number the database has
    /// recorded done).
    private static func removeRecyclable(_ s: inout State) -> [JournalSegment] {
        guard let newest = s.slots.last?.segment.firstSeq else { return [] }
        var freed: [JournalSegment] = []
        s.slots.removeAll { slot in
            guard slot.isRecyclable, slot.segment.firstSeq != newest else { return false }
            freed.append(slot.segment)
            return true
        }
        return freed
    }

    private static func slotIndex(of seq: UInt64, in slots: [Slot]) -> Int? {
        var low = 0, high = slots.count - 1, found: Int?
        while low <= high {
            let mid = (low + high) / 2
            if slots[mid].segment.firstSeq <= seq {
                found = mid
                low = mid + 1
            } else {
                high = mid - 1
            }
        }
        return found
    }

    /// Reads the segments an earlier run left: whole entries are recovered; a damaged tail of
    /// the newest segment is a torn last append and ignored; damage anywhere else moves the
    /// segment to `corrupt/` (its whole entries before the damage are still recovered).
    private static func load(_ dir: String, logger: Logger)
        -> ([Slot], [(segment: JournalSegment, quarantined: Bool)], UInt64) {
        let names = Directory.names(dir).filter { $0.hasSuffix(".seg") }.sorted()
        var slots: [Slot] = []
        var recovering: [(segment: JournalSegment, quarantined: Bool)] = []
        var nextSeq: UInt64 = 1
        for (index, name) in names.enumerated() {
            let path = dir + "/" + name
            guard let first = UInt64(name.dropLast(4)) else { continue }
            // Past the name even when the segment is empty (killed between creating it and the
            // first append): the next segment must not take the same name.
            nextSeq = max(nextSeq, first + 1)
            let segment: JournalSegment
            do {
                segment = try JournalSegment.existing(path: path, firstSeq: first)
            } catch {
                quarantine(dir, name, reason: error.description, logger: logger)
                continue
            }
            let scan = segment.scan()
            if let last = scan.lastSeq { nextSeq = max(nextSeq, last + 1) }
            if let damage = scan.damage {
                if index == names.count - 1 && !damage.hasPrefix("not a journal") {
                    logger.warning("journal_torn_entry_ignored", metadata: ["segment": .string(name), "detail": .string(damage)])
                } else {
                    // Moved aside, but still mapped: its entries before the damage are replayed.
                    quarantine(dir, name, reason: damage, logger: logger)
                    if scan.count > 0 { recovering.append((segment, true)) } else { segment.unmap() }
                    continue
                }
            }
            if scan.count > 0 { recovering.append((segment, false)) }
            var slot = Slot(segment: segment)
            slot.appended = scan.count
            slot.sealed = true
            slots.append(slot)
        }
        return (slots, recovering, nextSeq)
    }

    private static func quarantine(_ dir: String, _ name: String, reason: String, logger: Logger) {
        var fields: Logger.Metadata = ["segment": .string(name), "detail": .string(reason), "moved_to": "corrupt/"]
        do {
            try Quarantine(parent: dir).move(name)
        } catch {
            fields["moved_to"] = "nowhere"
            fields["error"] = .string(error.description)
        }
        logger.error("journal_segment_corrupt", metadata: fields)
    }

    /// `text` without the spaces and newlines at its ends (what an editor may leave in `id`).
    static func trimmed(_ text: String) -> String {
        let blank: (Character) -> Bool = { $0 == " " || $0 == "\n" }
        guard let first = text.firstIndex(where: { !blank($0) }), let last = text.lastIndex(where: { !blank($0) })
        else { return "" }
        return String(text[first...last])
    }

    private static func identity(in dir: String) throws(OpenError) -> String {
        let path = dir + "/id"
        if let existing = readSmallFile(path).map(Self.trimmed), !existing.isEmpty {
            return existing
        }
        var rng = SystemRandomNumberGenerator()
        let id = (0..<4).map { _ in String(rng.next() as UInt32, radix: 16) }.joined(separator: "-")
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw OpenError(code: .unusable, file: FileError("write", path), directory: dir) }
        defer { Glibc.close(fd) }
        let text = id + "\n"
        let written = text.utf8CString.withUnsafeBufferPointer { write(fd, $0.baseAddress, text.utf8.count) }
        // A short or failed write (a full disk at first start) must not leave an empty id:
        // the next start would take another, and miss the done-records of this one.
        let failure: FileError? = written < 0 ? FileError("write", path)
            : written < text.utf8.count ? FileError("write", path, code: ENOSPC)
            : fsync(fd) != 0 ? FileError("sync", path) : nil
        if let failure {
            unlink(path)
            throw OpenError(code: .unusable, file: failure, directory: dir)
        }
        return id
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { Glibc.close(fd) }
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 256) }
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }
}
