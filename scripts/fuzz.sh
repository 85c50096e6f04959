#!/usr/bin/env bash
# libFuzzer over PayloadDecoder, with AddressSanitizer (issue 12).
#
#   scripts/fuzz.sh                 60 seconds (what .ci/run runs)
#   scripts/fuzz.sh 600             ten minutes
#   scripts/fuzz.sh --runs 1000000  a fixed number of inputs
#
# The harness (Fuzz/DecoderFuzzer.swift) is compiled with the decoder's own source files and
# the model types it uses into one module: a SwiftPM executable would need a `main`, which
# libFuzzer provides. The module is named IngestModel, so the decoder's `import IngestModel`
# names the module being built (swiftc ignores it). If the
# decoder gains a file, add it to `sources` (the build fails and says which type).
# Seeds are Fuzz/corpus (every SPEC 4 form and known-hostile payloads); what libFuzzer finds
# grows in .build/fuzz/corpus. A crash, a broken invariant (a trap), an input slower than
# 2 s or more than 2 GB of memory fails the run and leaves the input in .build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-max_total_time="${1:-60}")
if [ "${1:-}" = "--runs" ]; then limit=(-runs="${2:?--runs needs a number}"); fi

sources=(PayloadFormats/PayloadDecoder PayloadFormats/JSONScanner PayloadFormats/TopicTemplate
         IngestModel/Timestamp IngestModel/ASCII IngestModel/Message IngestModel/Reading IngestModel/Reject
         IngestModel/TextReading IngestModel/Batch)
work=.build/fuzz
mkdir -p "$work/corpus"
files=()
for s in "${sources[@]}"; do files+=("Sources/$s.swift"); done
# ld.gold warns about every ASan helper symbol it cannot export; those lines are noise.
# Compiler warnings are off here (the ignored self-import is one): the package build, with
# -warnings-as-errors, is where they are held to zero.
swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name IngestModel -suppress-warnings \
  "${files[@]}" Fuzz/DecoderFuzzer.swift -o "$work/decoder-fuzzer" 2>&1 | { grep -v "Cannot export local symbol" || true; }
export ASAN_OPTIONS="detect_leaks=0"
"$work/decoder-fuzzer" "${limit[@]}" -max_len=8192 -timeout=2 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/" "$work/corpus" Fuzz/corpus 2>&1 | grep -v -E "^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)" | tail -25
status=${PIPESTATUS[0]}
[ "$status" -eq 0 ] || { echo "fuzz: the decoder failed an input (see $work/crash-* / timeout-*)" >&2; exit "$status"; }
echo "fuzz: clean"
