// What every decode of a fuzzed payload must hold, whatever its format (scripts/fuzz.sh
// compiles this into each target; the suite's replay tests check the same): no trap, rows
// or exactly one reject (or, for Sparkplug's control messages and stale deaths, neither but
// a count), a rejected message counts nothing, every row storable, finite and in range, and
// no more rows than `payload.max_readings`.

func checkInvariants(_ reject: Reject?, _ batch: Batch, _ ignored: IgnoredFields, maxReadings: Int) {
    let produced = batch.readings.count + batch.texts.count
    precondition((reject == nil) != (produced == 0) || (produced == 0 && !ignored.isEmpty),
                 "a message is rows, exactly one reject, or counted whole")
    for d in batch.definitions {
        precondition(PayloadChecks.unstorable(d.deviceID) == nil && PayloadChecks.unstorable(d.name) == nil,
                     "unstorable definition")
        precondition(d.alias.map { $0 <= UInt64(Int64.max) } ?? true, "alias beyond bigint")
    }
    precondition(reject == nil || ignored.isEmpty, "a rejected message counts no ignored leaf")
    precondition(produced <= maxReadings, "more rows than payload.max_readings")
    for text in batch.texts {
        precondition(PayloadChecks.unstorable(text.deviceID) == nil, "unstorable device id")
        precondition(PayloadChecks.unstorable(text.metric) == nil, "unstorable metric")
        precondition(!PayloadChecks.holdsNUL(text.value), "text value holding U+0000")
        precondition(text.time >= 0 && text.time < Timestamp.endOfYear9999, "time out of range")
    }
    for row in batch.readings {
        precondition(PayloadChecks.unstorable(row.deviceID) == nil, "unstorable device id")
        precondition(PayloadChecks.unstorable(row.metric) == nil, "unstorable metric")
        precondition(row.value.isFinite, "non-finite value")
        precondition(row.time >= 0 && row.time < Timestamp.endOfYear9999, "time out of range")
    }
}
