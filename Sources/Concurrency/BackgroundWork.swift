/// A loop the daemon runs beside the pipeline on a thread of its own (the database probe,
/// the stuck-write watchdog, the spool replay loop). SPEC 7 ends them at "close pool",
/// inside the shutdown sequence, so the pipeline's shutdown stops them rather than the
/// ServiceGroup (which would stop them only after the sequence had logged its end).
public protocol BackgroundWork: Sendable {
    /// Starts the thread. Called once.
    func start()
    /// Lets the current run finish and joins the thread. Blocking; idempotent.
    func stop()
}
