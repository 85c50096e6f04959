#!/usr/bin/env bash
# Regenerates Sources/SparkplugB/sparkplug_b.pb.swift from Sources/SparkplugB/sparkplug_b.proto
# (Eclipse Tahu's Sparkplug B payload, EPL-2.0: licence in Sources/SparkplugB/LICENSE-EPL-2.0.html).
#
# Not run by CI: building swift-protobuf's plugin takes ~10 minutes on 2 cores. Run it after
# changing the .proto or the swift-protobuf version in Package.swift, and commit the result.
#
#   scripts/gen-sparkplug.sh            # uses Debian's protoc (apt-get install protobuf-compiler)
set -euo pipefail
cd "$(dirname "$0")/.."

version=1.39.0                                    # keep equal to Package.swift's swift-protobuf
work=${GEN_SPARKPLUG_WORK:-/tmp/gen-sparkplug}
mirror=/opt/swift-packages/apple/swift-protobuf.git

# The project's rule: every `@unchecked Sendable` / `nonisolated(unsafe)` carries a one-line
# proof. swift-protobuf comments its `nonisolated(unsafe)` itself, not its `@unchecked Sendable`
# (a message with heap storage): that proof is written in above it here, so a regeneration keeps it.
# `scripts/gen-sparkplug.sh --proofs-only` does just this to the committed file (idempotent).
add_proofs() {
    python3 - Sources/SparkplugB/sparkplug_b.pb.swift <<'PY'
import re, sys
path = sys.argv[1]
proofs = [
    (r"struct \w+: @unchecked Sendable \{", "// @unchecked: every field lives in `_storage`, and every write (setters, "
     "clear*, decodeMessage) first calls `_uniqueStorage()`, which copies a shared `_storage`: no two values write one object."),
]
out = []
for line in open(path).read().splitlines(keepends=True):
    for pattern, proof in proofs:
        if re.search(pattern, line) and not (out and out[-1].strip() == proof):
            out.append(line[: len(line) - len(line.lstrip())] + proof + "\n")
    out.append(line)
open(path, "w").write("".join(out))
PY
}
if [[ "${1:-}" == "--proofs-only" ]]; then add_proofs; exit 0; fi
command -v protoc >/dev/null || { echo "protoc missing: apt-get install protobuf-compiler" >&2; exit 1; }

if [[ ! -x "$work/protoc-gen-swift" ]]; then
    rm -rf "$work/src" && mkdir -p "$work"
    git clone -q --branch "$version" "${SWIFT_PROTOBUF_GIT:-$mirror}" "$work/src"
    swift build -c release --package-path "$work/src" --product protoc-gen-swift
    cp "$(swift build -c release --package-path "$work/src" --show-bin-path)/protoc-gen-swift" "$work/"
fi

protoc --plugin=protoc-gen-swift="$work/protoc-gen-swift" \
    --swift_opt=Visibility=Public \
    --swift_out=Sources/SparkplugB \
    --proto_path=Sources/SparkplugB \
    sparkplug_b.proto
add_proofs
echo "regenerated Sources/SparkplugB/sparkplug_b.pb.swift with protoc $(protoc --version | cut -d' ' -f2) and swift-protobuf $version"
