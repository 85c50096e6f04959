#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Concurrency
import IngestModel
import Synchronization

/// Batches the database could not take, kept on disk until it can (SPEC 8).
///
/// One file per batch and table in COPY text format, named `<unix_ms 13 digits>-<seq 6
/// digits>.copy` (text readings: `...-text.copy`, rejects: `...-rejects.copy`), so name order
/// is write order. Each file is written to a
/// `.tmp-` name, fsynced, linked to its final name (link, unlike rename, never overwrites),
/// and the directory fsynced: after `write` returns, the rows survive a power cut. All calls
/// block on disk I/O: call them from a thread the daemon owns.
public final class Spool: BatchSpool {
    /// A spool file waiting for replay; names sort by creation time, so replay goes oldest first.
    public struct File: Sendable, Equatable, Comparable {
        /// The file's name in the spool directory, also its key in `ingest_spool_applied`.
        public let name: String
        /// `directory/name`.
        public let path: String
        /// Size on disk when listed (or written), for `Summary`.
        public let bytes: Int
        /// Which table its rows go to, from the name (files of earlier versions, with no
        /// `-text` kind, keep their meaning).
        public var kind: SpoolFileKind {
            name.hasSuffix(Spool.rejectsSuffix) ? .rejects : name.hasSuffix(Spool.textSuffix) ? .texts
                : name.hasSuffix(Spool.catalogSuffix) ? .definitions : .readings
        }
        /// Name order, which is write order: replay goes oldest first.
        public static func < (a: File, b: File) -> Bool { a.name < b.name }
    }

    /// Files and bytes waiting, as of the last listing plus this process's writes and
    /// removals since: what /ready and /metrics report, without touching the disk (they run
    /// on the HTTP event loop). Every `files()` call (each replay pass) refreshes it.
    public struct Summary: Sendable, Equatable {
        /// Data files waiting (`.copy`, rejects included; sidecars are not counted).
        public var files = 0
        /// Their total size in bytes.
        public var bytes = 0
    }

    /// `spool.dir`.
    public let directory: String
    /// Starts at a random point: replicas sharing a database rarely name two files alike
    /// (and replay tells same-named files apart by checksum when they do).
    private let sequence = Atomic<Int>(Int.random(in: 0..<1_000_000))
    private let cached = Locked(Summary())

    /// Touches no disk: `prepare(directory:)` creates and checks the directory, `lock(directory:)` claims it.
    public init(directory: String) {
        self.directory = directory
    }

    /// Writes the batch's readings, text readings and rejects (one file each, if any);
    /// returns the rows written. With a `journal` id, the batch's journal entries are
    /// recorded in a `<base>.journal` sidecar written after the data files, so the entries
    /// count as done only once their rows are safe on disk.
    ///
    /// All or nothing: if a later file fails (the disk fills between two of them), the files
    /// already written for this batch are removed before the error is thrown, so a caller
    /// that keeps the batch and writes it to the database later never finds a copy of it
    /// replayed from here as well.
    @discardableResult
    public func write(_ batch: Batch, journal: String? = nil) throws(FileError) -> Int {
        let base = freshBase()
        var files: [(name: String, text: String, counted: Bool)] = []
        if !batch.readings.isEmpty {
            var text = ""
            text.reserveCapacity(batch.readings.count * 64)
            for r in batch.readings { text += CopyText.line(r) }
            files.append((base + ".copy", text, true))
        }
        if !batch.texts.isEmpty {
            var text = ""
            for r in batch.texts { text += CopyText.line(r) }
            files.append((base + Self.textSuffix, text, true))
        }
        if !batch.definitions.isEmpty {
            var text = ""
            for d in batch.definitions { text += CopyText.line(d) }
            files.append((base + Self.catalogSuffix, text, true))
        }
        if !batch.rejects.isEmpty {
            var text = ""
            for r in batch.rejects { text += CopyText.line(r) }
            files.append((base + Self.rejectsSuffix, text, true))
        }
        if let journal, !batch.entries.isEmpty {
            var text = "journal \(journal)\n"
            for r in SeqRanges(covering: batch.entries).ranges { text += "\(r.lowerBound) \(r.upperBound)\n" }
            files.append((base + Self.sidecarSuffix, text, false))
        }
        var written: [(file: File, counted: Bool)] = []
        for file in files {
            do {
                try writeFile(file.text, name: file.name, counted: file.counted)
                written.append((File(name: file.name, path: directory + "/" + file.name, bytes: file.text.utf8.count),
                                file.counted))
            } catch {
                for done in written where unlink(done.file.path) == 0 && done.counted { forget(done.file) }
                if !written.isEmpty { syncDirectory() }
                throw error
            }
        }
        return batch.rowCount
    }

    static let sidecarSuffix = ".journal"
    static let textSuffix = "-text.copy"
    static let catalogSuffix = "-catalog.copy"
    static let rejectsSuffix = "-rejects.copy"
    /// Every data file a batch's base name may have.
    static let dataSuffixes = [".copy", textSuffix, rejectsSuffix, catalogSuffix]

    /// A journal sidecar: the entries whose rows are in the spool files of the same base name.
    public struct Sidecar: Sendable {
        /// The sidecar's file name, for `removeSidecar`.
        public let name: String
        /// The id of the journal the entries belong to.
        public let journal: String
        /// The done entries' sequence numbers.
        public let ranges: [ClosedRange<UInt64>]
        /// Whether a data file of its batch is still waiting (not yet replayed).
        public let waiting: Bool
    }

    /// The journal sidecars in the spool, for start-up recovery (their entries are done) and
    /// for the replay (which records them in the database once their files are applied).
    public func sidecars() -> [Sidecar] {
        let names = entries()
        let present = Set(names)
        return names.filter { $0.hasSuffix(Self.sidecarSuffix) && !$0.hasPrefix(".") }.sorted().compactMap { name in
            guard let bytes = try? contents(of: File(name: name, path: directory + "/" + name, bytes: 0)) else { return nil }
            let lines = String(decoding: bytes, as: UTF8.self).split(separator: "\n")
            guard let head = lines.first, head.hasPrefix("journal ") else { return nil }
            let ranges = lines.dropFirst().compactMap { line -> ClosedRange<UInt64>? in
                let parts = line.split(separator: " ")
                guard parts.count == 2, let lo = UInt64(parts[0]), let hi = UInt64(parts[1]), lo <= hi else { return nil }
                return lo...hi
            }
            let base = String(name.dropLast(Self.sidecarSuffix.count))
            return Sidecar(name: name, journal: String(head.dropFirst(8)), ranges: ranges,
                           waiting: Self.dataSuffixes.contains { present.contains(base + $0) })
        }
    }

    /// The entries of `journal` the sidecars hold: their rows are safe in spool files.
    public func doneEntries(journal: String) -> [ClosedRange<UInt64>] {
        sidecars().filter { $0.journal == journal }.flatMap(\.ranges)
    }

    /// Deletes a journal sidecar once its done-ranges are recorded in the database.
    public func removeSidecar(_ sidecar: Sidecar) {
        unlink(directory + "/" + sidecar.name)
        syncDirectory()
    }

    /// The lock on `spool.dir/.lock`, held while a process owns the directory: the daemon
    /// for its whole run, `replay-spool` while it replays. Without it a `replay-spool` beside
    /// a running daemon would delete the daemon's half-written `.tmp-` files, and two
    /// daemons could share one spool.
    public static func lock(directory: String) throws(FileError) -> DirectoryLock {
        try DirectoryLock(directory: directory, file: ".lock")
    }

    /// Creates the directory (and its parents) if needed and proves it takes a spool file
    /// the way `write` makes one: create, write, fsync, link, rename, unlink, directory fsync.
    /// `access()` alone says yes to a filesystem without hard links, a full disk or one
    /// remounted read-only, and the first batch would fail instead of the start (SPEC 3).
    public static func prepare(directory: String) throws(FileError) {
        var partial = directory.hasPrefix("/") ? "" : "."
        for component in directory.split(separator: "/") {
            partial += "/" + component
            if mkdir(partial, 0o750) != 0 && errno != EEXIST { throw FileError("create", partial) }
        }
        let spool = Spool(directory: directory)
        let name = ".probe-\(getpid())"
        try spool.writeFile("iot-ingest start-up check\n", name: name, counted: false)
        let path = directory + "/" + name
        guard rename(path, path + "-renamed") == 0 else {
            let failure = FileError("rename", path)
            unlink(path)
            throw failure
        }
        unlink(path + "-renamed")
        spool.syncDirectory()
    }

    /// A `<unix_ms>-<seq>` base name no file of this spool has yet.
    private func freshBase() -> String {
        let ms = Timestamp.now() / 1000
        while true {
            let seq = sequence.wrappingAdd(1, ordering: .relaxed).oldValue % 1_000_000
            let base = pad(Int(ms), 13) + "-" + pad(seq, 6)
            let taken = (Self.dataSuffixes + [Self.sidecarSuffix]).contains { suffix in
                access(directory + "/" + base + suffix, F_OK) == 0
            }
            if !taken { return base }
        }
    }

    /// Writes `name` via a `.tmp-` file: fsync, link (which, unlike rename, never
    /// overwrites), directory fsync.
    private func writeFile(_ text: String, name: String, counted: Bool = true) throws(FileError) {
        let tmp = directory + "/.tmp-" + name
        let final = directory + "/" + name
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw FileError("create", tmp) }
        var text = text
        var ok = text.withUTF8 { Directory.writeAll(fd, UnsafeRawBufferPointer($0)) }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok else {
            let failure = FileError("write", tmp)
            unlink(tmp)
            throw failure
        }
        if link(tmp, final) != 0 {
            let failure = FileError("link", final)
            unlink(tmp)
            throw failure
        }
        unlink(tmp)
        syncDirectory()
        guard counted else { return }
        let bytes = text.utf8.count
        cached.withLock { s in
            s.files += 1
            s.bytes += bytes
        }
    }

    /// Removes `.tmp-*` files left by a crash mid-write (start-up). Returns how many.
    @discardableResult
    public func removeTemporaries() -> Int {
        var removed = 0
        for name in entries() where name.hasPrefix(".tmp-") {
            if unlink(directory + "/" + name) == 0 { removed += 1 }
        }
        if removed > 0 { syncDirectory() }
        return removed
    }

    /// The cached count of files and bytes waiting (no I/O).
    public var summary: Summary { cached.withLock { $0 } }

    /// Spool files waiting, in name (= write) order.
    public func files() -> [File] {
        let found = entries().filter { $0.hasSuffix(".copy") && !$0.hasPrefix(".") }.sorted().compactMap { name -> File? in
            let path = directory + "/" + name
            var st = stat()
            guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            return File(name: name, path: path, bytes: Int(st.st_size))
        }
        cached.withLock { $0 = Summary(files: found.count, bytes: found.reduce(0) { $0 + $1.bytes }) }
        return found
    }

    /// Deletes a file whose rows committed (its name is in `ingest_spool_applied`).
    public func remove(_ file: File) {
        if unlink(file.path) == 0 { forget(file) }
        syncDirectory()
    }

    private func forget(_ file: File) {
        cached.withLock { s in
            s.files = max(0, s.files - 1)
            s.bytes = max(0, s.bytes - file.bytes)
        }
    }

    /// Moves a file the database will not take to `corrupt/`, never deleting it.
    public func quarantine(_ file: File) throws(FileError) {
        try Quarantine(parent: directory).move(file.name)
        forget(file)
    }

    /// Keeps the lines of `file` the database refused as `corrupt/<name>`, durable before
    /// the rest of the file commits and the file is deleted.
    public func keepRefused(_ lines: [UInt8], of file: File) throws(FileError) {
        try Quarantine(parent: directory).keep(lines, as: file.name)
    }

    /// Reads a file whole.
    public func contents(of file: File) throws(FileError) -> [UInt8] {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileError("open", file.path) }
        defer { close(fd) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, 65536) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw FileError("read", file.path) }
            if n == 0 { return out }
            out.append(contentsOf: buffer[0..<n])
        }
    }

    private func entries() -> [String] { Directory.names(directory) }

    private func syncDirectory() { Directory.sync(directory) }

    private func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
