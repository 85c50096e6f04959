/// The `# HELP` line of every metric family (Prometheus' linter, `promtool check metrics`,
/// wants one per family, and a dashboard author reads them).
///
/// Why a table and a pass over the rendered text: the metrics are made through swift-metrics
/// (`Counter(label:)`), whose factory has no way to pass a help text to swift-prometheus. The
/// pass runs per scrape, never on the ingest path.
enum MetricHelp {
    static let texts: [String: String] = [
        "iot_ingest_messages_received_total": "MQTT messages received from the broker.",
        "iot_ingest_messages_rejected_total":
            "Messages stored in ingest_rejects instead of readings, by reason (refused_by_db counts rows the database refused).",
        "iot_ingest_messages_dropped_total": "Messages dropped because the queue was full under the drop_newest policy.",
        "iot_ingest_queue_full_total": "Messages that found the queue full (waited under the block policy or were dropped).",
        "iot_ingest_rows_written_total": "Rows committed to each readings table by the writers (spool replays not included).",
        "iot_ingest_fields_ignored_total": "Payload leaves stored nowhere, by kind: null, empty, string (store_strings off), beside_value.",
        "iot_ingest_batches_flushed_total": "Batches committed to the database in full.",
        "iot_ingest_db_errors_total": "Batch write attempts that failed and left rows unwritten (each retry counts).",
        "iot_ingest_mqtt_reconnects_total": "Reconnections to the MQTT broker after the first connection.",
        "iot_ingest_sparkplug_rebirths_requested_total": "Sparkplug B rebirth requests (NCMD) published after a sequence gap or an unknown alias.",
        "iot_ingest_spooled_rows_total": "Rows written to spool files because the database refused them or was unavailable.",
        "iot_ingest_spool_replayed_rows_total": "Rows replayed from spool files into the database.",
        "iot_ingest_journal_replayed_total": "Journal entries left unwritten by an earlier run and written at start-up.",
        "iot_ingest_journal_blocked_appends_total": "Messages whose journal append had to wait for a free segment or for the disk to take one.",
        "iot_ingest_journal_write_failures_total": "Journal segments the disk refused to create (full or failing disk); appends wait meanwhile.",
        "iot_ingest_journal_sync_failures_total": "Journal flushes (msync) that failed with an I/O error; the pages stay dirty and are retried.",
        "iot_ingest_lost_rows_total": "Rows lost on a forced shutdown: the spool refused them and no journal held them.",
        "iot_ingest_config_reloads_total": "Configuration reloads, by result (success or failure).",
        "iot_ingest_queue_depth": "Messages waiting in the in-memory queue.",
        "iot_ingest_queue_capacity": "Capacity of the in-memory queue, in messages.",
        "iot_ingest_spool_files": "Spool files waiting to be replayed into the database.",
        "iot_ingest_journal_bytes": "Size in bytes of the message journal's segments (0 without a journal).",
        "iot_ingest_health_status": "Health of each component: 1 healthy, 0.5 degraded, 0 unhealthy.",
        "iot_ingest_uptime_seconds": "Seconds since the daemon started.",
        "iot_ingest_shutdown_in_progress": "1 while the daemon is shutting down, else 0.",
        "iot_ingest_batch_flush_seconds":
            "Time from a batch's BEGIN to its COMMIT (both tables, bisection included), in seconds.",
        "iot_ingest_batch_rows": "Rows per committed batch, numeric and text together.",
        "iot_ingest_end_to_end_latency_seconds":
            "Seconds from a message's receipt to the commit of its rows, one observation per message.",
    ]

    /// `exposition` with `# HELP name text` inserted before each `# TYPE name` line whose
    /// family has a text.
    static func annotate(_ exposition: [UInt8]) -> [UInt8] {
        let typePrefix = Array("# TYPE ".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(exposition.count + texts.count * 80)
        var lineStart = 0
        while lineStart < exposition.count {
            let lineEnd = exposition[lineStart...].firstIndex(of: UInt8(ascii: "\n")) ?? exposition.count
            let line = exposition[lineStart..<lineEnd]
            if line.starts(with: typePrefix) {
                let rest = line.dropFirst(typePrefix.count)
                let name = String(decoding: rest.prefix { $0 != UInt8(ascii: " ") }, as: UTF8.self)
                if let help = texts[name] {
                    out += Array("# HELP \(name) \(escaped(help))\n".utf8)
                }
            }
            out += line
            if lineEnd < exposition.count { out.append(UInt8(ascii: "\n")) }
            lineStart = lineEnd + 1
        }
        return out
    }

    /// HELP text escaping of the exposition format: backslash and newline.
    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
