import Concurrency
import IngestModel
import Metrics
import Prometheus
import Synchronization

/// The SPEC 10 metrics, through swift-metrics bootstrapped with swift-prometheus.
///
/// Counters mirror `IngestStats`, the daemon's own atomics, at scrape time (one
/// `increment(by: delta)` each): the hot path pays one relaxed atomic add per event and
/// /metrics always agrees with what the daemon logs. Histograms are recorded where they
/// happen (per committed batch, per committed row for latency).
public final class IngestMetrics: Sendable {
    /// What /metrics renders; swift-metrics writes to it once `bootstrap()` has run.
    public let registry: PrometheusCollectorRegistry
    private let last = Locked<[String: Int]>([:])

    private let batchFlush = Metrics.Timer(label: "iot_ingest_batch_flush_seconds")
    private let batchRows = Recorder(label: "iot_ingest_batch_rows")
    private let latency = Recorder(label: "iot_ingest_end_to_end_latency_seconds")
    /// `rows_written_total`'s `table` labels: the readings table and its text table.
    private let tables: (readings: String, texts: String)

    static let counters = [
        "messages_received_total", "messages_dropped_total", "queue_full_total",
        "batches_flushed_total", "db_errors_total", "mqtt_reconnects_total", "sparkplug_rebirths_requested_total",
        "spooled_rows_total",
        "spool_replayed_rows_total", "journal_replayed_total", "journal_blocked_appends_total", "journal_write_failures_total",
        "journal_sync_failures_total", "lost_rows_total",
    ]

    /// Creates the registry and bootstraps swift-metrics with it (once per process). `table`
    /// is `database.table`, the label of `rows_written_total` (with its `_text` table).
    public static func bootstrap(table: String) -> IngestMetrics {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["iot_ingest_batch_flush_seconds"] = [
            .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
            .seconds(2.5), .seconds(5), .seconds(10),
        ]
        factory.valueHistogramBuckets["iot_ingest_batch_rows"] = [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
        factory.valueHistogramBuckets["iot_ingest_end_to_end_latency_seconds"] = [
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 2, 3, 5, 10, 30,
        ]
        MetricsSystem.bootstrap(factory)
        return IngestMetrics(registry: registry, table: table)
    }

    init(registry: PrometheusCollectorRegistry, table: String) {
        self.registry = registry
        tables = (table, TextReading.table(for: table))
        // Register every name now so a scrape before the first event still lists them.
        for name in Self.counters { Counter(label: "iot_ingest_" + name).increment(by: 0) }
        for reason in RejectReason.allCases {
            Counter(label: "iot_ingest_messages_rejected_total", dimensions: [("reason", reason.rawValue)]).increment(by: 0)
        }
        for result in ["success", "failure"] {
            Counter(label: "iot_ingest_config_reloads_total", dimensions: [("result", result)]).increment(by: 0)
        }
        for table in [tables.readings, tables.texts] {
            Counter(label: "iot_ingest_rows_written_total", dimensions: [("table", table)]).increment(by: 0)
        }
        for kind in IgnoredKind.allCases {
            Counter(label: "iot_ingest_fields_ignored_total", dimensions: [("kind", kind.rawValue)]).increment(by: 0)
        }
    }

    /// A batch was committed: its duration, its rows (numeric and text), and the latency of
    /// each message in it (the histogram counts messages, not rows).
    public func committed(_ commit: BatchCommit, now: Int64 = Timestamp.now()) {
        batchFlush.recordNanoseconds(Int64(commit.seconds * 1e9))
        batchRows.record(commit.rows)
        for receivedAt in commit.receivedAt { latency.record(Double(now - receivedAt) / 1e6) }
    }

    /// Counts one reload, SIGHUP or `POST /admin/reload` (`config_reloads_total{result}`).
    public func configReloaded(success: Bool) {
        Counter(label: "iot_ingest_config_reloads_total", dimensions: [("result", success ? "success" : "failure")])
            .increment()
    }

    /// The Prometheus text exposition, after bringing counters and gauges up to date.
    public func render(stats: IngestStats, report: HealthReport, snapshot: HealthSnapshot) -> [UInt8] {
        let values: [String: Int] = [
            "messages_received_total": stats.messagesReceived.load(ordering: .relaxed),
            "messages_dropped_total": stats.messagesDropped.load(ordering: .relaxed),
            "queue_full_total": stats.queueFull.load(ordering: .relaxed),
            "batches_flushed_total": stats.batchesFlushed.load(ordering: .relaxed),
            "db_errors_total": stats.dbErrors.load(ordering: .relaxed),
            "mqtt_reconnects_total": stats.mqttReconnects.load(ordering: .relaxed),
            "sparkplug_rebirths_requested_total": stats.sparkplugRebirths.load(ordering: .relaxed),
            "spooled_rows_total": stats.spooledRows.load(ordering: .relaxed),
            "spool_replayed_rows_total": stats.spoolReplayedRows.load(ordering: .relaxed),
            "journal_replayed_total": stats.journalReplayed.load(ordering: .relaxed),
            "journal_blocked_appends_total": snapshot.journalBlockedAppends,
            "journal_write_failures_total": snapshot.journalWriteFailures,
            "journal_sync_failures_total": snapshot.journalSyncFailures,
            "lost_rows_total": stats.lostRows.load(ordering: .relaxed),
        ]
        last.withLock { last in
            for (name, value) in values {
                let delta = value - (last[name] ?? 0)
                if delta > 0 { Counter(label: "iot_ingest_" + name).increment(by: delta) }
                last[name] = value
            }
            func labelled(_ name: String, _ label: String, _ value: String, _ now: Int) {
                let key = name + "." + value
                let delta = now - (last[key] ?? 0)
                if delta > 0 { Counter(label: "iot_ingest_" + name, dimensions: [(label, value)]).increment(by: delta) }
                last[key] = now
            }
            for reason in RejectReason.allCases {
                labelled("messages_rejected_total", "reason", reason.rawValue, stats.rejectedCount(reason))
            }
            for kind in IgnoredKind.allCases {
                labelled("fields_ignored_total", "kind", kind.rawValue, stats.ignoredCount(kind))
            }
            labelled("rows_written_total", "table", tables.readings, stats.rowsWritten.load(ordering: .relaxed))
            labelled("rows_written_total", "table", tables.texts, stats.textRowsWritten.load(ordering: .relaxed))
        }
        Gauge(label: "iot_ingest_queue_depth").record(snapshot.queueDepth)
        Gauge(label: "iot_ingest_queue_capacity").record(snapshot.queueCapacity)
        Gauge(label: "iot_ingest_spool_files").record(snapshot.spoolFiles)
        Gauge(label: "iot_ingest_journal_bytes").record(snapshot.journalBytes)
        Gauge(label: "iot_ingest_uptime_seconds").record(report.uptimeSeconds)
        Gauge(label: "iot_ingest_shutdown_in_progress").record(snapshot.shuttingDown ? 1 : 0)
        for component in report.components {
            Gauge(label: "iot_ingest_health_status", dimensions: [("component", component.name)])
                .record(component.status.gaugeValue)
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return MetricHelp.annotate(buffer)
    }
}
