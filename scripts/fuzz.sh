#!/usr/bin/env bash
# libFuzzer over each payload format's decoder, with AddressSanitizer (issue 12; SPEC 4c):
# JSON (PayloadDecoder) and Influx line protocol (InfluxLineDecoder), one after the other.
#
#   scripts/fuzz.sh                 60 seconds each (what .ci/run runs)
#   scripts/fuzz.sh 600             ten minutes each
#   scripts/fuzz.sh --runs 1000000  a fixed number of inputs each
#
# Each harness (Fuzz/*Fuzzer.swift) is compiled with its decoder's own source files and
# the model types it uses into one module: a SwiftPM executable would need a `main`, which
# libFuzzer provides. The module is named IngestModel, so the decoder's `import IngestModel`
# names the module being built (swiftc ignores it). If the
# decoder gains a file, add it to its line in `targets` (the build fails and says which type).
# Seeds are Fuzz/corpus (every SPEC 4 form and known-hostile payloads) and Fuzz/corpus-influx
# (InfluxDB's documented examples and edge cases); what libFuzzer finds grows in
# .build/fuzz/<name>/corpus. A crash, a broken invariant (a trap), an input slower than
# 2 s or more than 2 GB of memory fails the run and leaves the input in .build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-max_total_time="${1:-60}")
if [ "${1:-}" = "--runs" ]; then limit=(-runs="${2:?--runs needs a number}"); fi

common=(PayloadFormats/PayloadChecks PayloadFormats/TopicTemplate IngestModel/Timestamp IngestModel/ASCII IngestModel/Message IngestModel/Reading
        IngestModel/Reject IngestModel/TextReading IngestModel/Batch)
# target name, harness, its decoder's sources, seed corpus
targets=("json Fuzz/DecoderFuzzer.swift PayloadFormats/PayloadDecoder,PayloadFormats/JSONScanner Fuzz/corpus"
         "influx Fuzz/InfluxLineFuzzer.swift PayloadFormats/InfluxLineDecoder,PayloadFormats/InfluxLineParser,PayloadFormats/PayloadFormat,PayloadFormats/PayloadDecoder,PayloadFormats/JSONScanner Fuzz/corpus-influx")
export ASAN_OPTIONS="detect_leaks=0"
for target in "${targets[@]}"; do
  read -r name harness decoder seeds <<<"$target"
  work=.build/fuzz/$name
  mkdir -p "$work/corpus"
  files=()
  IFS=, read -r -a own <<<"$decoder"
  for s in "${own[@]}" "${common[@]}"; do files+=("Sources/$s.swift"); done
  # ld.gold warns about every ASan helper symbol it cannot export; those lines are noise.
  # Compiler warnings are off here (the ignored self-import is one): the package build, with
  # -warnings-as-errors, is where they are held to zero.
  swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name IngestModel -suppress-warnings \
    "${files[@]}" Fuzz/FuzzInvariants.swift "$harness" -o "$work/fuzzer" 2>&1 | { grep -v "Cannot export local symbol" || true; }
  echo "fuzz: $name"
  "$work/fuzzer" "${limit[@]}" -max_len=8192 -timeout=2 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "$seeds" 2>&1 | grep -v -E "^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)" | tail -25
  status=${PIPESTATUS[0]}
  [ "$status" -eq 0 ] || { echo "fuzz: the $name decoder failed an input (see $work/crash-* / timeout-*)" >&2; exit "$status"; }
done
echo "fuzz: clean"
