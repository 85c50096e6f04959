#!/usr/bin/env python3
"""The soak run behind scripts/soak.sh (which installs, starts the services, builds).

A steady QoS 1 load for --minutes at half the ceiling measured first in the same run (the
lower of a bare libmosquitto subscriber's rate and the daemon's own, with the soak's
settings, into an empty database): the load must be one the daemon sustains, or the queue
sits at its cap and the run measures back-pressure, not leaks. The database is restarted a
third of the way in and the broker two thirds in, and SIGHUP reloads the configuration
every minute. Every 10 s: RSS, open descriptors, threads, queue depth and spool files.
Fails if any acknowledged reading is missing or stored twice, if the daemon does not exit 0
on SIGTERM, or if RSS or descriptors still grow after the warm-up, which ends a minute after
the broker restart (the outages fill the queue, and the allocator keeps that memory).
RSS is a sawtooth between batches (the allocator hands freed batch memory back in steps),
so the leak fit is a least-squares line through the lowest RSS of each minute after the
warm-up: a leak raises that floor. It must not rise by more than max(8 MB, 10 %) of the
floor over the window, nor the descriptors by more than 3. Runs too short to leave 5 such
minutes (under about 18 minutes) skip the leak fit and say so.
"""
import argparse, json, os, subprocess, time, uuid

from benchlib import WORK, Daemon, loadgen, new_db, psql

A = argparse.ArgumentParser()
A.add_argument("--minutes", type=float, default=2)
A.add_argument("--out", default="bench/results")
args = A.parse_args()
SERVICES = os.environ["INGEST_TEST_SERVICES_DIR"]


def services(command):
    subprocess.run(["scripts/services.sh", command, SERVICES], check=True, capture_output=True, timeout=120)


def bare_ceiling(messages=100_000):
    """Messages per second a bare libmosquitto subscriber that only counts takes."""
    prefix = "sc" + uuid.uuid4().hex[:6]
    sub = loadgen("--count-only", "--messages", messages, "--topic-prefix", prefix, wait=False)
    assert "subscribed" in sub.stderr.readline()
    loadgen("--messages", messages, "--topic-prefix", prefix, "--devices", 1000)
    out, _ = sub.communicate(timeout=300)
    return json.loads(out.strip().splitlines()[-1])["rate"]


def daemon_ceiling(settings, messages=100_000):
    """Messages per second the daemon takes end to end (published to committed), with the
    soak's settings, on a database of its own."""
    prefix = "dc" + uuid.uuid4().hex[:6]
    d = Daemon(new_db(), prefix, **settings)
    start = time.monotonic()
    loadgen("--messages", messages, "--topic-prefix", prefix, "--devices", 1000)
    end = time.monotonic() + 300
    while d.metrics().get("iot_ingest_rows_written_total", 0) < 2 * messages and time.monotonic() < end:
        time.sleep(0.1)
    rate = messages / (time.monotonic() - start)
    d.stop()
    return rate


def minute_floors(samples):
    """(start of the minute, lowest RSS in it) for each whole minute of `samples`."""
    floors, t0 = [], samples[0][0]
    while t0 + 60 <= samples[-1][0] + 10:
        window = [s[1] for s in samples if t0 <= s[0] < t0 + 60]
        if window:
            floors.append((t0, min(window)))
        t0 += 60
    return floors


def slope(points):
    """Least-squares slope of (t, y)."""
    n = len(points)
    mt = sum(t for t, _ in points) / n
    my = sum(y for _, y in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return sum((t - mt) * (y - my) for t, y in points) / var if var else 0.0


def main():
    settings = {"database.dedupe": "true"}
    bare, daemon = bare_ceiling(), daemon_ceiling(settings)
    rate = min(bare, daemon) / 2
    seconds = args.minutes * 60
    messages = int(rate * seconds)
    url = new_db()
    prefix = "soak" + uuid.uuid4().hex[:6]
    d = Daemon(url, prefix, **settings)
    print(f"soak: ceilings {bare:,.0f} msg/s (bare subscriber), {daemon:,.0f} msg/s (daemon); "
          f"{args.minutes:g} min at {rate:,.0f} msg/s, {messages:,} messages", flush=True)
    pub = loadgen("--messages", messages, "--rate", rate, "--topic-prefix", prefix, "--devices", 1000,
                  "--client-id", f"soak-pub-{prefix}", "--timeout", seconds + 300, wait=False)
    t0 = time.monotonic()
    samples, events, next_sample, next_hup = [], [], 0.0, 60.0
    db_done = mqtt_done = False
    while pub.poll() is None:
        now = time.monotonic() - t0
        if now >= next_sample:
            m = d.metrics()
            samples.append((now, d.memory_kb("VmRSS") / 1024, d.open_fds(), d.threads(),
                            m.get("iot_ingest_queue_depth", 0), m.get("iot_ingest_spool_files", 0)))
            next_sample += 10
        if now >= next_hup:
            d.proc.send_signal(1)  # SIGHUP
            events.append((now, "sighup"))
            next_hup += 60
        if not db_done and now >= seconds / 3:
            db_done = True
            events.append((now, "database restart"))
            services("stop-pg")
            time.sleep(10)
            services("start-pg")
        if not mqtt_done and now >= 2 * seconds / 3:
            mqtt_done = True
            events.append((now, "broker restart"))
            services("stop-mqtt")
            time.sleep(2)
            services("start-mqtt")
        time.sleep(0.5)
    out, err = pub.communicate()
    assert pub.returncode == 0, err
    published = json.loads(out.strip().splitlines()[-1])["published"]
    expected = 2 * published
    distinct = "SELECT count(DISTINCT (device_id, metric, time)) FROM readings"
    end = time.monotonic() + 300
    while int(psql(url, distinct)) < expected and time.monotonic() < end:
        time.sleep(1)
    code, stop_s = d.stop()
    stored, unique = int(psql(url, "SELECT count(*) FROM readings")), int(psql(url, distinct))
    settled = max(t for t, e in events if e == "broker restart") + 60 if mqtt_done else 0
    warm = [s for s in samples if s[0] >= settled]
    floors = minute_floors(warm) if warm else []
    fitted = len(floors) >= 5
    span = floors[-1][0] - floors[0][0] if fitted else 0
    rss_growth = slope(floors) * span if fitted else None
    fd_growth = slope([(s[0], s[2]) for s in warm]) * (warm[-1][0] - warm[0][0]) if fitted else None
    mean_floor = sum(f for _, f in floors) / len(floors) if fitted else 0
    result = {
        "minutes": args.minutes, "ceiling_bare": bare, "ceiling_daemon": daemon, "rate": rate, "published": published, "readings_expected": expected,
        "readings_stored": stored, "readings_distinct": unique, "exit_code": code, "stop_seconds": stop_s,
        "leak_fit_window_s": [settled, samples[-1][0]] if fitted else None,
        "rss_mb": {"first": samples[0][1], "max": max(s[1] for s in samples), "last": samples[-1][1],
                   "floors_after_warmup": floors, "growth_after_warmup": rss_growth},
        "fds": {"max": max(s[2] for s in samples), "growth_after_warmup": fd_growth},
        "threads_max": max(s[3] for s in samples), "queue_depth_max": max(s[4] for s in samples),
        "spool_files_max": max(s[5] for s in samples), "events": events,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "soak.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(WORK, "soak.dat"), "w") as f:
        for s in samples:
            f.write(" ".join(f"{v:.2f}" for v in s) + "\n")
    print(json.dumps(result, indent=2))
    failures = []
    if unique != expected or stored != expected:
        failures.append(f"readings: {expected} acknowledged, {unique} distinct, {stored} stored")
    if code != 0:
        failures.append(f"exit code {code} on SIGTERM")
    if not fitted:
        print("soak: too short for a leak fit (run 18 minutes or more)", flush=True)
    else:
        if rss_growth > max(8.0, 0.1 * mean_floor):
            failures.append(f"RSS grew {rss_growth:.1f} MB after warm-up")
        if fd_growth > 3:
            failures.append(f"descriptors grew {fd_growth:.1f} after warm-up")
    if failures:
        raise SystemExit("soak failed: " + "; ".join(failures))
    print("soak: passed", flush=True)


main()
