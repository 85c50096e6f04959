#!/usr/bin/env bash
# libFuzzer over each payload format's decoder, with AddressSanitizer (issue 12; SPEC 4b, 4c):
# JSON (PayloadDecoder), Influx line protocol (InfluxLineDecoder) and Sparkplug B
# (SparkplugDecoder, with swift-protobuf's decoding instrumented too), one after the other.
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
# Sparkplug's sources import modules of their own (SwiftProtobuf, the generated SparkplugB,
# Logging, Concurrency): those are built first as static libraries, SwiftProtobuf with the
# same instrumentation (~2 minutes; cached in $FUZZ_CACHE, default /var/cache/iot-ingest-fuzz,
# by swift-protobuf version and compiler).
# Seeds are Fuzz/corpus (every SPEC 4 form and known-hostile payloads), Fuzz/corpus-influx
# (InfluxDB's documented examples and edge cases) and Fuzz/corpus-sparkplug (births, data,
# deaths with every datatype); what libFuzzer finds grows in
# .build/fuzz/<name>/corpus. A crash, a broken invariant (a trap), an input slower than
# 2 s or more than 2 GB of memory fails the run and leaves the input in .build/fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=(-max_total_time="${1:-60}")
if [ "${1:-}" = "--runs" ]; then limit=(-runs="${2:?--runs needs a number}"); fi

common=(PayloadFormats/PayloadChecks IngestModel/MetricDefinition PayloadFormats/TopicTemplate IngestModel/Timestamp IngestModel/ASCII IngestModel/Message IngestModel/Reading
        IngestModel/Reject IngestModel/TextReading IngestModel/Batch)
# target name, harness, its decoder's sources, seed corpus
targets=("json Fuzz/DecoderFuzzer.swift PayloadFormats/PayloadDecoder,PayloadFormats/JSONScanner Fuzz/corpus"
         "influx Fuzz/InfluxLineFuzzer.swift PayloadFormats/InfluxLineDecoder,PayloadFormats/InfluxLineParser,PayloadFormats/PayloadFormat,PayloadFormats/PayloadDecoder,PayloadFormats/JSONScanner Fuzz/corpus-influx"
         "sparkplug Fuzz/SparkplugFuzzer.swift PayloadFormats/Sparkplug/SparkplugDecoder,PayloadFormats/Sparkplug/SparkplugSessions,PayloadFormats/Sparkplug/SparkplugBirth,PayloadFormats/Sparkplug/SparkplugRebirths,PayloadFormats/Sparkplug/SparkplugDataType,PayloadFormats/Sparkplug/SparkplugTopic,PayloadFormats/PayloadFormat,PayloadFormats/PayloadDecoder,PayloadFormats/JSONScanner,IngestModel/IngestStats,IngestModel/ControlPublisher Fuzz/corpus-sparkplug")
export ASAN_OPTIONS="detect_leaks=0"

# The modules Sparkplug's sources import, as static libraries in $deps (see the header).
deps=.build/fuzz/deps
build_sparkplug_deps() {
  local protobuf=.build/checkouts/swift-protobuf log=.build/checkouts/swift-log
  if [ ! -d "$protobuf" ] || [ ! -d "$log" ]; then swift package resolve >/dev/null; fi
  local version key cache
  version=$(git -C "$protobuf" describe --tags 2>/dev/null || echo unknown)
  key="$version-$(swiftc --version 2>&1 | head -1 | tr -c 'A-Za-z0-9.\n' '_')"
  cache=${FUZZ_CACHE:-/var/cache/iot-ingest-fuzz}/swift-protobuf-$key
  mkdir -p "$deps"
  if [ -f "$cache/libSwiftProtobuf.a" ]; then
    cp "$cache"/* "$deps/"
  else
    echo "fuzz: building SwiftProtobuf with the fuzzer's instrumentation (cached afterwards)"
    swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name SwiftProtobuf -package-name swift_protobuf \
      -suppress-warnings -emit-library -static -emit-module -emit-module-path "$deps/SwiftProtobuf.swiftmodule" \
      "$protobuf"/Sources/SwiftProtobuf/*.swift -o "$deps/libSwiftProtobuf.a"
    if mkdir -p "$cache" 2>/dev/null; then cp "$deps"/SwiftProtobuf.* "$deps"/libSwiftProtobuf.a "$cache/" 2>/dev/null || true; fi
  fi
  swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name SparkplugB -I "$deps" -suppress-warnings \
    -emit-library -static -emit-module -emit-module-path "$deps/SparkplugB.swiftmodule" \
    Sources/SparkplugB/sparkplug_b.pb.swift -o "$deps/libSparkplugB.a"
  local logging=()
  while IFS= read -r f; do logging+=("$f"); done < <(find "$log/Sources/Logging" -name "*.swift")
  swiftc -O -parse-as-library -module-name Logging -package-name swift_log -suppress-warnings -emit-library -static -emit-module \
    -emit-module-path "$deps/Logging.swiftmodule" "${logging[@]}" -o "$deps/libLogging.a"
  swiftc -O -parse-as-library -module-name Concurrency -suppress-warnings -emit-library -static -emit-module \
    -emit-module-path "$deps/Concurrency.swiftmodule" Sources/Concurrency/*.swift -o "$deps/libConcurrency.a"
}
for target in "${targets[@]}"; do
  read -r name harness decoder seeds <<<"$target"
  work=.build/fuzz/$name
  mkdir -p "$work/corpus"
  files=()
  IFS=, read -r -a own <<<"$decoder"
  for s in "${own[@]}" "${common[@]}"; do files+=("Sources/$s.swift"); done
  extra=()
  if [ "$name" = sparkplug ]; then
    build_sparkplug_deps
    extra=(-I "$deps" -L "$deps" -lSparkplugB -lSwiftProtobuf -lLogging -lConcurrency)
  fi
  # ld.gold warns about every ASan helper symbol it cannot export; those lines are noise.
  # Compiler warnings are off here (the ignored self-import is one): the package build, with
  # -warnings-as-errors, is where they are held to zero.
  swiftc -O -sanitize=fuzzer,address -parse-as-library -module-name IngestModel -suppress-warnings \
    "${extra[@]}" "${files[@]}" Fuzz/FuzzInvariants.swift "$harness" -o "$work/fuzzer" 2>&1 | { grep -v "Cannot export local symbol" || true; }
  echo "fuzz: $name"
  "$work/fuzzer" "${limit[@]}" -max_len=8192 -timeout=2 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "$seeds" 2>&1 | grep -v -E "^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)" | tail -25
  status=${PIPESTATUS[0]}
  [ "$status" -eq 0 ] || { echo "fuzz: the $name decoder failed an input (see $work/crash-* / timeout-*)" >&2; exit "$status"; }
done
echo "fuzz: clean"
