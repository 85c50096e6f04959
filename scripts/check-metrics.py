#!/usr/bin/env python3
"""Checks a scrape of the daemon's /metrics against what the monitoring reads.

    scripts/check-metrics.py FILE       FILE: the text exposition (curl -s localhost:8080/metrics)
    scripts/check-metrics.py --self-test

Fails (exit 1) when an `iot_ingest_*` name used by an expression of
deploy/grafana/dashboard.json or deploy/prometheus/alerts.yaml is not exported, or when an
exported `iot_ingest_*` family has no `# HELP` line. Standard library only.
"""
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy/grafana/dashboard.json"
ALERTS = ROOT / "deploy/prometheus/alerts.yaml"
PREFIX = "iot_ingest_"
NAME = re.compile(r"(?<![A-Za-z0-9_:])iot_ingest_[A-Za-z0-9_:]+")
# Sample names a family of each type exposes besides its own name.
SUFFIXES = {"histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count"),
            "counter": ("_total",)}


def parse_exposition(text):
    """Returns (families, series): family name -> {"type", "help"}, and every sample name
    a query can select (a histogram's _bucket/_sum/_count, also when it has no samples)."""
    families, series = {}, set()
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                family = families.setdefault(parts[2], {"type": "untyped", "help": None})
                if parts[1] == "TYPE" and len(parts) == 4:
                    family["type"] = parts[3].strip()
                elif parts[1] == "HELP":
                    family["help"] = parts[3].strip() if len(parts) == 4 else ""
            continue
        match = re.match(r"[A-Za-z_:][A-Za-z0-9_:]*", line)
        if match:
            series.add(match.group(0))
    for name, family in families.items():
        series.add(name)
        series.update(name + suffix for suffix in SUFFIXES.get(family["type"], ()) if not name.endswith(suffix))
    # A sample no TYPE/HELP line announced is a family of its own (untyped).
    for name in series:
        if not any(name == f or name.startswith(f) and name[len(f):] in SUFFIXES.get(families[f]["type"], ())
                   for f in families):
            families.setdefault(name, {"type": "untyped", "help": None})
    return families, series


def dashboard_exprs(path):
    """Every query string of a Grafana dashboard: panel targets' `expr` and templating
    variables' `query`/`definition`, at any depth (rows nest panels)."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "query", "definition") and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(json.loads(path.read_text()))
    return found


def rule_exprs(text):
    """(exprs, recorded): the `expr:` values of a Prometheus rule file (plain, quoted or a
    `>`/`|` block scalar) and the names its `record:` rules define. A line parser for the
    subset rule files use, so no YAML library is needed."""
    exprs, recorded = [], set()
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*)(?:-\s+)?(expr|record):\s*(.*?)\s*$", lines[i])
        i += 1
        if not match:
            continue
        indent = len(match.group(1))
        value = match.group(3)
        if value[:1] in (">", "|"):
            block = []
            while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
                block.append(lines[i].strip())
                i += 1
            value = " ".join(block)
        else:
            value = re.sub(r"\s+#.*$", "", value)
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
        if match.group(2) == "record":
            recorded.add(value)
        else:
            exprs.append(value)
    return exprs, recorded


def referenced_names(dashboard=DASHBOARD, alerts=ALERTS):
    """iot_ingest_* name -> the files whose expressions use it."""
    refs = {}
    exprs, recorded = rule_exprs(alerts.read_text())
    sources = [(alerts, exprs), (dashboard, dashboard_exprs(dashboard))]
    for path, expressions in sources:
        for expr in expressions:
            # Label values and matchers in quotes are not metric names.
            unquoted = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
            for name in NAME.findall(unquoted):
                if name not in recorded:
                    refs.setdefault(name, set()).add(path.relative_to(ROOT).as_posix())
    return refs


def check(text, dashboard=DASHBOARD, alerts=ALERTS):
    """Returns (problems, summary)."""
    families, series = parse_exposition(text)
    refs = referenced_names(dashboard, alerts)
    ours = sorted(f for f in families if f.startswith(PREFIX))
    problems = []
    for name in sorted(refs):
        if name not in series:
            problems.append(f"not exported: {name} (used by {', '.join(sorted(refs[name]))})")
    for name in ours:
        if not families[name]["help"]:
            problems.append(f"no # HELP: {name} ({families[name]['type']})")
    summary = (f"check-metrics: {len(ours)} {PREFIX}* families exported, all with # HELP; "
               f"all {len(refs)} names used by the dashboard and alerts are exported")
    return problems, summary


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    try:
        text = Path(argv[1]).read_text()
    except OSError as error:
        print(f"check-metrics: {error}", file=sys.stderr)
        return 2
    problems, summary = check(text)
    if problems:
        print(f"check-metrics: {len(problems)} problem(s) in {argv[1]}:", file=sys.stderr)
        for problem in problems:
            print("  " + problem, file=sys.stderr)
        return 1
    print(summary)
    return 0


def self_test():
    """The parsers on small inputs, then the real dashboard and alerts against a made-up
    exposition that exports everything they use."""
    text = "\n".join([
        "# HELP iot_ingest_a_total A counter.",
        "# TYPE iot_ingest_a_total counter",
        "iot_ingest_a_total 3",
        "# TYPE iot_ingest_b counter",  # OpenMetrics style: family without _total
        "iot_ingest_b_total 1",
        "# HELP iot_ingest_h A histogram.",
        "# TYPE iot_ingest_h histogram",  # no samples yet: its series are still known
        "iot_ingest_untyped{x=\"1\"} 2",
        "",
    ])
    families, series = parse_exposition(text)
    assert set(families) == {"iot_ingest_a_total", "iot_ingest_b", "iot_ingest_h", "iot_ingest_untyped"}, families
    assert {"iot_ingest_a_total", "iot_ingest_b_total", "iot_ingest_h_bucket", "iot_ingest_h_sum",
            "iot_ingest_h_count", "iot_ingest_untyped"} <= series, series
    assert families["iot_ingest_b"]["help"] is None and families["iot_ingest_h"]["help"] == "A histogram."

    exprs, recorded = rule_exprs("\n".join([
        "groups:",
        "  - name: g",
        "    rules:",
        "      - record: iot_ingest:rate5m",
        "        expr: rate(iot_ingest_a_total[5m])  # comment",
        "      - alert: X",
        "        expr: >-",
        "          iot_ingest_q_depth",
        "          / iot_ingest_q_capacity > 0.8",
        "        for: 5m",
        "      - alert: Y",
        "        expr: 'up{job=\"iot_ingest_not_a_name\"} == 0'",
    ]))
    assert exprs == ["rate(iot_ingest_a_total[5m])", "iot_ingest_q_depth / iot_ingest_q_capacity > 0.8",
                     'up{job="iot_ingest_not_a_name"} == 0'], exprs
    assert recorded == {"iot_ingest:rate5m"}, recorded

    refs = referenced_names()
    assert refs, "no iot_ingest_ names found in the dashboard and alerts"
    assert all(not n.endswith(("_", ":")) for n in refs), refs
    kinds = {}
    for name in refs:
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        kinds[family] = "histogram" if family != name else "counter" if name.endswith("_total") else "gauge"

    def exposition(skip=(), helped=True):
        lines = []
        for family, kind in sorted(kinds.items()):
            if family not in skip:
                lines += [f"# HELP {family} Something."] if helped else []
                lines += [f"# TYPE {family} {kind}"]
        return "\n".join(lines)

    problems, _ = check(exposition())
    assert problems == [], problems
    dropped = sorted(kinds)[0]
    problems, _ = check(exposition(skip={dropped}))
    assert problems and all(p.startswith("not exported: " + dropped) for p in problems), problems
    problems, _ = check(exposition(helped=False))
    assert sorted(problems) == sorted(f"no # HELP: {f} ({k})" for f, k in kinds.items()), problems
    print(f"check-metrics self-test passed ({len(refs)} names referenced)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
