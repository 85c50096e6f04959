import Concurrency
import Foundation
import IngestConfig
@testable import PostgresSink
import TestSupport
import Testing

/// SPEC 5a on a real TimescaleDB: what `migrate` creates, that a second run changes nothing,
/// that a changed setting is applied and a removed roll-up left, that replicas migrating at
/// once agree, and what the roll-ups hold. The catalog is read back through TimescaleDB's own
/// information views, never through our report alone.
@Suite("Timescale lifecycle against a real TimescaleDB",
       .enabled(if: TestServices.available && TestServices.timescaleDB), .sharedServices)
struct TimescaleLifecycleTests {
    static func settings(chunk: String = "1 day", compress: String? = "7 days", retain: String? = nil,
                         rollups: [String] = ["1 minute", "1 hour"]) -> IngestConfiguration.Timescale {
        .init(chunkInterval: LifecycleInterval(chunk)!, compressAfter: compress.flatMap(LifecycleInterval.init),
              retainFor: retain.flatMap(LifecycleInterval.init), rollups: rollups.compactMap(LifecycleInterval.init))
    }

    /// `name=value;...` of a policy's interval per hypertable or view, from `jobs`.
    func policies(_ db: TestDatabase, _ proc: String, _ key: String) async throws -> String? {
        try await db.query("""
            SELECT string_agg(hypertable_name || '=' || coalesce((config->>'\(key)')::interval::text, 'NULL'), ';'
                              ORDER BY hypertable_name)
            FROM timescaledb_information.jobs WHERE proc_name = '\(proc)'
            """)
    }

    func chunkIntervals(_ db: TestDatabase) async throws -> String? {
        try await db.query("""
            SELECT string_agg(hypertable_name || '=' || time_interval::text, ';' ORDER BY hypertable_name)
            FROM timescaledb_information.dimensions WHERE hypertable_name IN ('readings', 'readings_text')
            """)
    }

    /// Refreshes a roll-up over all its history. Tests that read a roll-up's buckets call it
    /// after writing: a row committed while the policy's own run is under way reaches the
    /// roll-up only at the next refresh (TimescaleDB's invalidation log), so a test that left
    /// it to the scheduler would depend on when the scheduler ran. That run may also hold the
    /// refresh lock (55P03): waited for, boundedly.
    func refresh(_ db: TestDatabase, _ view: String) async throws {
        for attempt in 1...40 {
            do {
                try await db.query("CALL refresh_continuous_aggregate('\(view)', NULL, NULL)")
                return
            } catch where "\(error)".contains("55P03") && attempt < 40 {
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }

    /// `name=true|false;...`: whether each refresh policy goes newest batch first.
    func newestFirst(_ db: TestDatabase) async throws -> String? {
        try await db.query("""
            SELECT string_agg(hypertable_name || '=' || coalesce(config->>'refresh_newest_first', 'NULL'), ';'
                              ORDER BY hypertable_name)
            FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'
            """)
    }

    func rollups(_ db: TestDatabase) async throws -> String? {
        try await db.query("""
            SELECT string_agg(view_name || ':' || materialized_only::text, ';' ORDER BY view_name)
            FROM timescaledb_information.continuous_aggregates WHERE hypertable_name = 'readings'
            """)
    }

    @Test func aFreshMigrationAppliesTheWholeLifecycleAndASecondChangesNothing() async throws {
        let wanted = Self.settings(retain: "90 days")
        try await dropping(try await TestDatabase.create()) { db in
            let first = try await db.migrate(dedupe: true, timescale: wanted)
            #expect(first.timescale && first.lifecycleError == nil)
            let report = try #require(first.lifecycle)
            #expect(report.changes.contains("roll-up readings_1m created (1 minute buckets)"), "\(report.changes)")
            #expect(report.changes.contains("retention policy on readings_text: 90 days"), "\(report.changes)")
            #expect(report.leftInPlace.isEmpty)

            #expect(try await chunkIntervals(db) == "readings=1 day;readings_text=1 day")
            #expect(try await db.query("""
                SELECT string_agg(hypertable::text || ' ' || segmentby || ' ' || orderby, ';' ORDER BY hypertable::text)
                FROM timescaledb_information.hypertable_compression_settings
                """) == "readings device_id,metric \"time\" DESC;readings_text device_id,metric \"time\" DESC")
            #expect(try await policies(db, "policy_compression", "compress_after") == "readings=7 days;readings_text=7 days")
            #expect(try await policies(db, "policy_retention", "drop_after") == "readings=90 days;readings_text=90 days")
            #expect(try await rollups(db) == "readings_1h:false;readings_1m:false", "real-time aggregation on")
            // The refresh stops a chunk short of the retention, and leaves the newest bucket
            // to real-time aggregation.
            #expect(try await policies(db, "policy_refresh_continuous_aggregate", "start_offset")
                    == "readings_1h=89 days;readings_1m=89 days")
            #expect(try await policies(db, "policy_refresh_continuous_aggregate", "end_offset")
                    == "readings_1h=01:00:00;readings_1m=00:01:00")
            #expect(try await newestFirst(db) == "readings_1h=false;readings_1m=false", "oldest batch first")

            let second = try await db.migrate(dedupe: true, timescale: wanted)
            #expect(second.lifecycle?.changes == [], "\(second.lifecycle?.changes ?? [])")
            #expect(try await db.count("SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_name LIKE 'readings%'") == 6)

            // A policy made before the daemon chose the order (TimescaleDB's default, newest
            // first) is replaced by the next migration.
            try await db.query("""
                SELECT alter_job(job_id, config => config - 'refresh_newest_first') FROM timescaledb_information.jobs
                WHERE proc_name = 'policy_refresh_continuous_aggregate' AND hypertable_name = 'readings_1m'
                """)
            let third = try await db.migrate(dedupe: true, timescale: wanted)
            #expect(third.lifecycle?.changes.count == 1
                    && third.lifecycle?.changes.first?.hasPrefix("refresh policy of readings_1m") == true,
                    "\(third.lifecycle?.changes ?? [])")
            #expect(try await newestFirst(db) == "readings_1h=false;readings_1m=false")
        }
    }

    /// A changed chunk interval, compression turned off, retention added, a roll-up added and
    /// one removed: applied on the next migration; the removed roll-up keeps its view and its
    /// data and is reported.
    @Test func changedSettingsApplyOnTheNextMigrationAndARemovedRollupIsLeftInPlace() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            _ = try await db.migrate(timescale: Self.settings())
            let changed = try await db.migrate(timescale: Self.settings(chunk: "2 days", compress: nil, retain: "30 days",
                                                                       rollups: ["1 hour", "1 day"]))
            let report = try #require(changed.lifecycle)
            for phrase in ["chunk interval of readings: 1 day -> 2 days (new chunks)",
                           "compression policy on readings removed (was 7 days)",
                           "retention policy on readings: 30 days", "roll-up readings_1d created (1 day buckets)",
                           "refresh policy of readings_1h: from 28 days ago to 1 hour ago, every 1 hour (changed)"] {
                #expect(report.changes.contains(phrase), "\(phrase) not in \(report.changes)")
            }
            #expect(report.leftInPlace == ["readings_1m"])
            // Retention now drops chunks: the left roll-up's refresh must not reach them.
            #expect(report.changes.contains("refresh of readings_1m (no longer configured) narrowed to 28 days ago, short of retention"),
                    "\(report.changes)")
            #expect(try await policies(db, "policy_refresh_continuous_aggregate", "start_offset")
                    == "readings_1d=28 days;readings_1h=28 days;readings_1m=28 days")
            #expect(try await chunkIntervals(db) == "readings=2 days;readings_text=2 days")
            #expect(try await policies(db, "policy_compression", "compress_after") == nil)
            #expect(try await rollups(db) == "readings_1d:false;readings_1h:false;readings_1m:false")
            // Compression stays enabled (compressed chunks may exist); only its policy went.
            #expect(try await db.count("SELECT count(*) FROM timescaledb_information.hypertables WHERE compression_enabled") == 2)
        }
    }

    /// Retention dropped chunks; their range stays invalidated in TimescaleDB's log, and a
    /// refresh reaching it would empty the roll-up there. So raising or removing the
    /// retention keeps the refresh's reach (a note on every run, not a change), while
    /// lowering it narrows the reach.
    @Test func aRaisedOrRemovedRetentionNeverWidensARollupsRefresh() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            _ = try await db.migrate(timescale: Self.settings(retain: "30 days", rollups: ["1 hour"]))
            let off = try await db.migrate(timescale: Self.settings(retain: nil, rollups: ["1 hour"]))
            #expect(off.lifecycle?.changes.contains("retention policy on readings removed (was 30 days)") == true,
                    "\(off.lifecycle?.changes ?? [])")
            #expect(off.lifecycle?.notes == ["the refresh of readings_1h keeps its reach of 29 days: a longer one would "
                                             + "empty the roll-up where retention dropped chunks"], "\(off.lifecycle?.notes ?? [])")
            #expect(try await policies(db, "policy_refresh_continuous_aggregate", "start_offset") == "readings_1h=29 days")
            let again = try await db.migrate(timescale: Self.settings(retain: "60 days", rollups: ["1 hour"]))
            #expect(again.lifecycle?.changes.allSatisfy { $0.hasPrefix("retention policy") } == true, "\(again.lifecycle?.changes ?? [])")
            #expect(try await policies(db, "policy_refresh_continuous_aggregate", "start_offset") == "readings_1h=29 days")
            let lower = try await db.migrate(timescale: Self.settings(retain: "10 days", rollups: ["1 hour"]))
            #expect(lower.lifecycle?.notes == [])
            #expect(try await policies(db, "policy_refresh_continuous_aggregate", "start_offset") == "readings_1h=9 days")
            #expect(try await db.migrate(timescale: Self.settings(retain: "10 days", rollups: ["1 hour"])).lifecycle?.changes == [])
        }
    }

    /// Policies an operator made by hand (`compress_created_before`, a refresh ending
    /// nowhere) have no interval of ours to compare: they are replaced, not tripped over.
    @Test func anOperatorsOwnPoliciesAreReplacedNotTrippedOver() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            _ = try await db.migrate(timescale: Self.settings(compress: nil, rollups: ["1 hour"]))
            try await db.query("ALTER TABLE readings SET (timescaledb.compress)")
            try await db.query("SELECT add_compression_policy('readings', compress_created_before => interval '3 days')")
            try await db.query("SELECT remove_continuous_aggregate_policy('readings_1h')")
            try await db.query("""
                SELECT add_continuous_aggregate_policy('readings_1h', start_offset => interval '5 days',
                       end_offset => NULL, schedule_interval => interval '1 hour')
                """)
            let outcome = try await db.migrate(timescale: Self.settings(rollups: ["1 hour"]))
            #expect(outcome.lifecycleError == nil, "\(String(describing: outcome.lifecycleError))")
            #expect(outcome.lifecycle?.changes.contains("compression policy on readings: another setting -> 7 days") == true,
                    "\(outcome.lifecycle?.changes ?? [])")
            #expect(try await policies(db, "policy_compression", "compress_after") == "readings=7 days;readings_text=7 days")
            #expect(try await policies(db, "policy_refresh_continuous_aggregate", "end_offset") == "readings_1h=01:00:00")
            #expect(try await newestFirst(db) == "readings_1h=false")
            #expect(try await db.migrate(timescale: Self.settings(rollups: ["1 hour"])).lifecycle?.changes == [])
        }
    }

    @Test func replicasMigratingAtOnceAgreeOnOneLifecycle() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            let reports = try await withThrowingTaskGroup(of: SchemaMigrator.Outcome.self) { group in
                for _ in 0..<3 { group.addTask { try await db.migrate(dedupe: true, timescale: Self.settings(retain: "60 days")) } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(reports.allSatisfy { $0.lifecycleError == nil })
            #expect(reports.filter { $0.lifecycle?.changes.isEmpty == false }.count == 1, "one made the changes, the others found them")
            #expect(try await rollups(db) == "readings_1h:false;readings_1m:false")
            #expect(try await db.count("SELECT count(*) FROM timescaledb_information.jobs WHERE hypertable_name LIKE 'readings%'") == 6)
        }
    }

    /// The roll-up's columns (SPEC 5a) with real-time aggregation: before any refresh the
    /// view already answers from the raw rows; after a refresh it answers the same.
    @Test func aRollupHoldsAvgMinMaxCountAndLastPerBucket() async throws {
        try await dropping(try await TestDatabase.migrated(timescale: Self.settings(rollups: ["1 minute"]))) { db in
            try await db.query("""
                INSERT INTO readings (time, device_id, metric, value) VALUES
                  ('2026-01-01 10:00:05+00', 'd1', 'temp', 20), ('2026-01-01 10:00:50+00', 'd1', 'temp', 23),
                  ('2026-01-01 10:00:30+00', 'd1', 'temp', 26), ('2026-01-01 10:01:10+00', 'd1', 'temp', 30),
                  ('2026-01-01 10:00:10+00', 'd2', 'temp', 5)
                """)
            let query = """
                SELECT string_agg(format('%s %s %s %s %s %s %s', to_char(bucket AT TIME ZONE 'UTC', 'HH24:MI'), device_id,
                                         avg, min, max, count, last), ';' ORDER BY bucket, device_id)
                FROM readings_1m
                """
            let expected = "10:00 d1 23 20 26 3 23;10:00 d2 5 5 5 1 5;10:01 d1 30 30 30 1 30"
            #expect(try await db.query(query) == expected, "real-time, nothing materialised yet")
            try await refresh(db, "readings_1m")
            let materialized = try #require(try await db.query("""
                SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)
                FROM timescaledb_information.continuous_aggregates WHERE view_name = 'readings_1m'
                """))
            #expect(try await db.count("SELECT count(*) FROM \(materialized)") == 3, "the three buckets are stored")
            #expect(try await db.query(query) == expected, "materialised")
        }
    }

    /// TimescaleDB (2.20 on) refreshes in batches of ten buckets and commits each one, which
    /// moves the watermark real-time aggregation reads raw rows above. The policy goes oldest
    /// batch first, so a roll-up made over two days of history answers for all of it while
    /// its first refresh is still under way; newest first, only the last ten minutes would
    /// show until the last batch was in.
    @Test func aRollupOverHistoryAnswersForAllOfItWhileItsRefreshIsHalfDone() async throws {
        try await dropping(try await TestDatabase.migrated(timescale: Self.settings(rollups: ["1 minute"]))) { db in
            let job = try #require(try await db.query(
                "SELECT job_id FROM timescaledb_information.jobs WHERE proc_name = 'policy_refresh_continuous_aggregate'"))
            try await db.query("SELECT alter_job(\(job), scheduled => false)")
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(15)
            while try await db.query("SELECT job_status FROM timescaledb_information.job_stats WHERE job_id = \(job)") == "Running" {
                try #require(clock.now < deadline, "the policy's own run did not end")
                try await Task.sleep(for: .milliseconds(100))
            }
            try await db.query("""
                INSERT INTO readings (time, device_id, metric, value)
                SELECT date_trunc('minute', now()) - i * interval '1 minute' + interval '5 seconds', 'd1', 'temp', i
                FROM generate_series(2, 2881) i
                """)
            // The policy's own runs, one batch of two hours each, as its scheduler would start
            // them, until part of the history is materialised (the first batches of a first
            // refresh start at the chunk's beginning, before the oldest row); after every run
            // the roll-up answers for every reading.
            try await db.query("""
                SELECT alter_job(job_id, config => config || '{"max_batches_per_execution": 1, "buckets_per_batch": 120}')
                FROM timescaledb_information.jobs WHERE job_id = \(job)
                """)
            let materialized = try #require(try await db.query("""
                SELECT format('%I.%I', materialization_hypertable_schema, materialization_hypertable_name)
                FROM timescaledb_information.continuous_aggregates WHERE view_name = 'readings_1m'
                """))
            var stored = 0
            for _ in 1...30 where stored == 0 {
                try await db.query("CALL run_job(\(job))")
                stored = try await db.count("SELECT count(*) FROM \(materialized)")
                #expect(try await db.count("SELECT sum(count) FROM readings_1m") == 2_880, "every reading answered for")
                #expect(try await db.count("SELECT count(*) FROM readings_1m") == 2_880, "every bucket answered for")
            }
            #expect(stored > 0 && stored < 2_880, "one batch materialised, not the whole history: \(stored)")
        }
    }

    /// Every SQL query of the Grafana dashboard, with Grafana's macros expanded as its
    /// PostgreSQL data source does, runs on the schema `migrate` makes, and each branch of the
    /// readings panel (raw, `readings_1m`, `readings_1h`) answers for its range.
    @Test(arguments: [("1 hour", "1m"), ("2 days", "1h"), ("30 days", "6h")])
    func theDashboardsQueriesRunOnTheRollups(range: String, interval: String) async throws {
        try await dropping(try await TestDatabase.migrated(timescale: .defaults)) { db in
            try await db.query("""
                INSERT INTO readings (time, device_id, metric, value)
                SELECT now() - a, 'd1', 'temp', 20 FROM unnest(ARRAY[interval '10 minutes', '1 day', '10 days']) a
                """)
            try await db.query("INSERT INTO readings_text VALUES (now() - interval '5 minutes', 'd1', 'status', 'charging')")
            try await refresh(db, "readings_1m")
            try await refresh(db, "readings_1h")
            let to = try #require(try await db.query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"))
            let from = try #require(try await db.query(
                "SELECT to_char((now() - interval '\(range)') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"))
            let dashboard = try Data(contentsOf: TestServices.packageRoot.appendingPathComponent("deploy/grafana/dashboard.json"))
            var queries: [String] = []
            func collect(_ node: Any) {
                if let object = node as? [String: Any] {
                    if let sql = object["rawSql"] as? String { queries.append(sql) }
                    if object["type"] as? String == "query", let sql = object["query"] as? String { queries.append(sql) }
                    object.values.forEach(collect)
                } else if let array = node as? [Any] {
                    array.forEach(collect)
                }
            }
            collect(try JSONSerialization.jsonObject(with: dashboard))
            #expect(queries.count == 6)
            func expand(_ query: String) -> String {
                var sql = query
                while let start = sql.range(of: "$__timeFilter("), let end = sql[start.upperBound...].firstIndex(of: ")") {
                    let column = sql[start.upperBound..<end]
                    sql.replaceSubrange(start.lowerBound...end, with: "\(column) BETWEEN '\(from)' AND '\(to)'")
                }
                return sql.replacingOccurrences(of: "$__timeFrom()", with: "'\(from)'")
                    .replacingOccurrences(of: "$__timeTo()", with: "'\(to)'")
                    .replacingOccurrences(of: "$__interval", with: interval)
                    .replacingOccurrences(of: "$device", with: "'d1'").replacingOccurrences(of: "$metric", with: "'temp'")
            }
            for query in queries {
                #expect(try await db.query(expand(query)) != nil, "no rows from: \(expand(query))")
            }
            // The readings panel answers with as many points as the range holds.
            let series = try #require(queries.first { $0.contains("readings_1m") && $0.contains("UNION ALL") })
            let sql = expand(series.replacingOccurrences(of: "SELECT time, metric, value FROM (", with: "SELECT count(*) FROM (")
                .replacingOccurrences(of: ") s ORDER BY 1", with: ") s"))
            #expect(try await db.count(sql) == ["1 hour": 1, "2 days": 2, "30 days": 3][range])
        }
    }

    /// The server refuses part of the lifecycle (here a plain view already holds a roll-up's
    /// name): the tables are still created and committed, the outcome says why, and
    /// nothing of the lifecycle is half-applied.
    @Test func aLifecycleTheServerRefusesLeavesTheTablesAndSaysWhy() async throws {
        try await dropping(try await TestDatabase.create()) { db in
            try await db.query("CREATE VIEW readings_1h AS SELECT 1 AS x")
            let outcome = try await db.migrate(timescale: Self.settings())
            let error = try #require(outcome.lifecycleError)
            #expect(error.description.contains("readings_1h"), "\(error)")
            #expect(outcome.lifecycle == nil)
            let hypertables = try await [db.isHypertable("readings"), db.isHypertable("readings_text")]
            #expect(hypertables == [true, true])
            #expect(try await policies(db, "policy_compression", "compress_after") == nil, "rolled back with the rest")
            #expect(try await rollups(db) == nil)
        }
    }
}
