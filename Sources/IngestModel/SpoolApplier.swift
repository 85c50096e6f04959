/// Where spool files go back in (SPEC 8): the database, through PostgresSink. The replay
/// loop that walks the spool lives beside the spool (Durability) and talks to the database
/// only through this, so neither module imports the other and the loop's bookkeeping is
/// tested with a fake.
public protocol SpoolApplier: Sendable {
    /// A connection for one replay pass. Blocking. Throws `.unavailable` when the store
    /// cannot be reached (the pass is deferred to the next round).
    func session() throws(SpoolApplyError) -> any SpoolSession
}

/// One replay pass's connection, used from one thread and closed by the caller.
public protocol SpoolSession: AnyObject {
    /// Applies one file exactly once, in one transaction: a file whose name and checksum
    /// were applied before only needs deleting (`fresh` false). Rows the store refuses for
    /// their data are handed to `keepRefused` (which must make them durable) before the rest
    /// commits. Blocking.
    func apply(_ file: SpoolFileContents,
               keepRefused: ([UInt8]) throws -> Void) throws(SpoolApplyError) -> SpoolFileApplied
    /// Records journal entries done, in a transaction of their own (a spooled batch's
    /// sidecar, once all its files are in). Blocking.
    func recordDone(_ ranges: [ClosedRange<UInt64>], journal: String) throws(SpoolApplyError)
    /// Releases the connection.
    func close()
}

/// A spool file as the applier needs it: the bytes (COPY text) and what identifies them.
public struct SpoolFileContents: Sendable {
    /// The file's name: with `checksum`, the key of its applied-record.
    public var name: String
    /// CRC-32C of `data`: a file of the same name with other content is another file.
    public var checksum: UInt32
    /// Which table its rows go to.
    public var kind: SpoolFileKind
    /// The rows, one COPY text line each.
    public var data: [UInt8]

    /// A file read whole.
    public init(name: String, checksum: UInt32, kind: SpoolFileKind, data: [UInt8]) {
        self.name = name
        self.checksum = checksum
        self.kind = kind
        self.data = data
    }
}

/// Which table a spool file's rows go to.
public enum SpoolFileKind: Sendable, Equatable {
    /// The readings table (`<base>.copy`).
    case readings
    /// The text table (`<base>-text.copy`, v4).
    case texts
    /// `ingest_rejects` (`<base>-rejects.copy`).
    case rejects
    /// `sparkplug_metrics`, the Sparkplug birth catalog (`<base>-catalog.copy`, v4): upserted.
    case definitions
}

/// What applying one spool file did.
public struct SpoolFileApplied: Sendable, Equatable {
    /// False when the file had been applied before and only needs deleting.
    public var fresh: Bool
    /// Rows committed.
    public var rows: Int
    /// Rows refused for their data (handed to `keepRefused`).
    public var refused: Int
    /// The first refusal's message, for the `spool_file_corrupt` line.
    public var error: String?

    /// What the caller reports; the defaults describe a file applied before.
    public init(fresh: Bool = false, rows: Int = 0, refused: Int = 0, error: String? = nil) {
        self.fresh = fresh
        self.rows = rows
        self.refused = refused
        self.error = error
    }
}

/// Why a spool file could not be applied now.
public struct SpoolApplyError: Error, CustomStringConvertible {
    /// What the replay loop does about it.
    public enum Code: Sendable, Equatable {
        /// The store is away or failed for a reason that may pass: stop this pass, keep the file.
        case unavailable
        /// The store refused the file itself (not a row of it): move it to `corrupt/`.
        case fileRefused
    }

    /// What the replay loop does about it.
    public var code: Code
    /// The store's message.
    public var message: String

    /// An error of kind `code`.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    /// The store's message, as the replay loop logs it.
    public var description: String { message }
}
