#!/usr/bin/env python3
"""Instructions per message of the daemon's own code, from callgrind (scripts/bench.sh --callgrind).

Runs `iot-loadgen --hot-path` (the daemon's per-message code in one process: MQTT callback
copy, journal, queue, decoding workers, batcher, writer lanes, COPY encoding; no broker and
no database) under valgrind twice, with N and 2N messages, and divides the difference by N:
start-up and the last partial batch cancel out. Instruction counts do not drift with the
machine the way CPU seconds do, so two commits can be compared on any day.

Valgrind 3.19 cannot read Swift 6's DWARF 5, so it runs a copy with the debug sections
stripped (the symbol table stays: function names are kept).
"""
import argparse, json, os, re, subprocess, tempfile, time

A = argparse.ArgumentParser()
A.add_argument("--bin", required=True, help="directory with a release iot-loadgen")
A.add_argument("--messages", type=int, default=20_000)
A.add_argument("--out", default="bench/results")
A.add_argument("--top", type=int, default=25)
A.add_argument("--mixed", action="store_true",
               help="v4 mixed payloads (2 numbers, a string, a 3-array: 6 rows a message) instead of 2 numbers")
A.add_argument("--format", default="json", choices=["json", "sparkplug_b", "influx"],
               help="payload format (`iot-loadgen --format`); Sparkplug's births (one per device) cancel out")
args = A.parse_args()
DEVICES = 1000
# Rows a message makes, and the births' extra two rows per device (Sparkplug).
ROWS = {"json": 6 if args.mixed else 2}.get(args.format, 3 if args.mixed else 2)
BIRTH_ROWS = 2 * DEVICES if args.format == "sparkplug_b" else 0

work = tempfile.mkdtemp(prefix="iot-ingest-callgrind.")
binary = os.path.join(work, "iot-loadgen")
subprocess.run(["objcopy", "--strip-debug", os.path.join(args.bin, "iot-loadgen"), binary], check=True)


def profile(messages):
    out = os.path.join(work, f"callgrind.{messages}")
    run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binary, "--hot-path",
                          "--messages", str(messages), "--topic-prefix", "bench", "--format", args.format,
                          "--devices", str(DEVICES)] + (["--mixed"] if args.mixed else []),
                         capture_output=True, text=True, timeout=1800)
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    assert run.returncode == 0 and summary["readings"] == ROWS * messages + BIRTH_ROWS, (run.returncode, run.stdout, run.stderr[-2000:])
    text = subprocess.run(["callgrind_annotate", "--threshold=100", out], capture_output=True, text=True,
                          check=True).stdout
    total, functions = None, {}
    for line in text.splitlines():
        m = re.match(r"\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)", line)
        if not m:
            continue
        count, name = int(m.group(1).replace(",", "")), m.group(2)
        if "PROGRAM TOTALS" in name:
            total = count
            continue
        library = name.rsplit("[", 1)[-1].rstrip("]")
        name = re.sub(r"^\S*?:", "", name.split(" [")[0], count=1)
        key = (name, os.path.basename(library))
        functions[key] = functions.get(key, 0) + count
    return total, functions


n = args.messages
t1, f1 = profile(n)
t2, f2 = profile(2 * n)
per_message = (t2 - t1) / n
rows = sorted(((f2.get(k, 0) - f1.get(k, 0)) / n, k) for k in set(f1) | set(f2))[::-1][:args.top]
names = subprocess.run(["swift", "demangle", "--simplified"], input="\n".join(k[0] for _, k in rows),
                       capture_output=True, text=True).stdout.splitlines()
top = [{"function": name, "library": k[1], "instructions": round(v)} for (v, k), name in zip(rows, names)]
result = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "messages": [n, 2 * n],
          "format": args.format, "readings_per_message": ROWS, "instructions_per_message": round(per_message), "top": top}
os.makedirs(args.out, exist_ok=True)
with open(os.path.join(args.out, "callgrind.json"), "w") as f:
    json.dump(result, f, indent=1)
lines = [f"# Instructions per message, daemon's own code ({result['date']})", "",
         f"`iot-loadgen --hot-path --format {args.format}` under callgrind, ({2 * n:,} - {n:,} messages) / {n:,}, {ROWS} readings "
         "per message: **{:,} instructions per message**.".format(round(per_message)), "",
         "| instructions / message | function | library |", "|---:|---|---|"]
lines += [f"| {t['instructions']:,} | `{t['function'][:110]}` | {t['library']} |" for t in top]
with open(os.path.join(args.out, "callgrind.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
print(f"{round(per_message):,} instructions per message (callgrind, {n:,} vs {2 * n:,} messages); "
      f"wrote {args.out}/callgrind.json, callgrind.md")
subprocess.run(["rm", "-rf", work])
