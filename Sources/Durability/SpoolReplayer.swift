import IngestModel
import Logging

/// Writes spool files back, oldest first (SPEC 8), through a `SpoolApplier` (the database).
///
/// The applier commits each file with its applied-record in one transaction and says
/// whether it was new; the file is deleted only after that. A crash between commit and
/// delete leaves a file the applier recognises (name and CRC-32C) and does not apply again.
/// Lines the store refuses are kept in `corrupt/` under the file's name before the rest
/// commits, so no line is ever deleted unapplied. A batch's journal sidecar becomes done
/// records, then is deleted, once none of its files is left.
public struct SpoolReplayer: Sendable {
    /// What `spool_replayed` logs (SPEC 8).
    public struct Outcome: Sendable, Equatable {
        /// Files applied by this pass (not those applied before and only deleted now).
        public var files = 0
        /// Rows those files committed.
        public var rows = 0
        /// Files with lines the store refused (those lines are in `corrupt/`).
        public var corrupt = 0
        /// Lines refused in all.
        public var refusedRows = 0
        /// Nothing applied yet.
        public init() {}
    }

    /// The spool read and emptied.
    public let spool: Spool
    /// Where the files go.
    public let applier: any SpoolApplier
    /// Where `spool_file_corrupt` and friends go.
    public let logger: Logger

    /// A replayer of `spool` into `applier`.
    public init(spool: Spool, applier: any SpoolApplier, logger: Logger) {
        self.spool = spool
        self.applier = applier
        self.logger = logger
    }

    /// One pass over every file present now, on a session of its own; counts and logs
    /// `spool_replayed` when it applied anything, `spool_replay_deferred` when the store
    /// could not be reached or failed midway (the rest waits for the next pass). Blocking.
    /// Nil when deferred. `shouldStop` is checked between files.
    @discardableResult
    public func pass(stats: IngestStats, shouldStop: () -> Bool = { false }) -> Outcome? {
        do throws(SpoolApplyError) {
            let session = try applier.session()
            defer { session.close() }
            let outcome = try replay(on: session, shouldStop: shouldStop)
            if outcome.files > 0 || outcome.corrupt > 0 {
                stats.spoolReplayedRows.add(outcome.rows, ordering: .relaxed)
                logger.info("spool_replayed", metadata: [
                    "files": .stringConvertible(outcome.files), "rows": .stringConvertible(outcome.rows),
                    "corrupt": .stringConvertible(outcome.corrupt), "waiting": .stringConvertible(spool.files().count),
                ])
            }
            return outcome
        } catch {
            logger.warning("spool_replay_deferred", metadata: ["error": .string(error.description)])
            return nil
        }
    }

    /// Replays every file present now on `session`. Stops at the first failure that may
    /// pass by throwing it. `shouldStop` is checked between files.
    public func replay(on session: any SpoolSession,
                       shouldStop: () -> Bool = { false }) throws(SpoolApplyError) -> Outcome {
        var outcome = Outcome()
        for file in spool.files() {
            if shouldStop() { break }
            let data: [UInt8]
            do {
                data = try spool.contents(of: file)
            } catch {
                logger.error("spool_file_unreadable", metadata: ["file": .string(file.name), "error": .string(error.description)])
                continue
            }
            let contents = SpoolFileContents(name: file.name, checksum: CRC32C.checksum(data),
                                             kind: file.kind, data: data)
            do throws(SpoolApplyError) {
                let applied = try session.apply(contents) { lines in try spool.keepRefused(lines, of: file) }
                if applied.refused > 0 {
                    outcome.corrupt += 1
                    outcome.refusedRows += applied.refused
                    logger.error("spool_file_corrupt", metadata: [
                        "file": .string(file.name), "rows_refused": .stringConvertible(applied.refused),
                        "rows_applied": .stringConvertible(applied.rows),
                        "error": .string(applied.error ?? ""), "moved_to": "corrupt/",
                    ])
                }
                if applied.fresh {
                    outcome.files += 1
                    outcome.rows += applied.rows
                }
                spool.remove(file)
            } catch where error.code == .fileRefused {
                outcome.corrupt += 1
                logger.error("spool_file_corrupt", metadata: [
                    "file": .string(file.name), "error": .string(error.description), "moved_to": "corrupt/",
                ])
                do { try spool.quarantine(file) } catch {
                    logger.error("spool_quarantine_failed", metadata: ["file": .string(file.name), "error": .string(error.description)])
                }
            }
        }
        for sidecar in spool.sidecars() where !sidecar.waiting {
            if shouldStop() { break }
            try session.recordDone(sidecar.ranges, journal: sidecar.journal)
            spool.removeSidecar(sidecar)
        }
        return outcome
    }
}
