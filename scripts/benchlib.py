"""What scripts/bench.py and scripts/soak.py share: the services their shell wrappers
started (environment), psql, the load generator, and a daemon run with its /metrics and
/proc figures."""
import json, os, signal, statistics, subprocess, time, urllib.request, uuid

BIN = os.environ["BENCH_BIN"]
WORK = os.environ["BENCH_WORK"]
MQTT_PORT = os.environ["INGEST_TEST_MQTT_PORT"]
ADMIN = os.environ["INGEST_TEST_ADMIN_URL"]
CLK = os.sysconf("SC_CLK_TCK")


def sh(*cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout.strip()


def psql(url, sql):
    return sh("psql", url, "-qAtc", sql)


def new_db():
    name = "bench_" + uuid.uuid4().hex[:10]
    psql(ADMIN, f"CREATE DATABASE {name}")
    return ADMIN.rsplit("/", 1)[0] + "/" + name


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def loadgen(*extra, wait=True):
    cmd = [f"{BIN}/iot-loadgen", "--host", "127.0.0.1", "--port", MQTT_PORT, "--quiet", *map(str, extra)]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if not wait:
        return p
    out, err = p.communicate(timeout=600)
    if p.returncode != 0:
        raise RuntimeError(f"loadgen failed: {err}")
    return json.loads(out.strip().splitlines()[-1])


class Daemon:
    def __init__(self, url, prefix, **settings):
        self.http = free_port()
        self.log = os.path.join(WORK, f"daemon-{prefix}.log")
        s = {"mqtt.topics": f"{prefix}/+/telemetry", "payload.topic_template": f"{prefix}/{{device_id}}/telemetry",
             "mqtt.client_id": f"bench-{prefix}", "spool.dir": os.path.join(WORK, f"spool-{prefix}"),
             "http.host": "127.0.0.1", **settings}
        cmd = [f"{BIN}/iot-ingest", "run", "--mqtt-host", "127.0.0.1", "--mqtt-port", MQTT_PORT,
               "--database-url", url, "--http-port", str(self.http)]
        for k, v in s.items():
            cmd += ["--set", f"{k}={v}"]
        self.proc = subprocess.Popen(cmd, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        self.wait_event("subscribed")

    def wait_event(self, event, timeout=60):
        end = time.time() + timeout
        while time.time() < end:
            if f'"event":"{event}"' in open(self.log).read():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"no {event} in {self.log}:\n" + open(self.log).read()[-3000:])

    def metrics(self):
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.http}/metrics", timeout=5).read().decode()
        out = {}
        totals = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                out[name] = float(value)
                if "{" in name:  # labelled series also count toward their name's total
                    base = name.split("{", 1)[0]
                    totals[base] = totals.get(base, 0.0) + float(value)
        for base, total in totals.items():
            out.setdefault(base, total)
        return out

    def cpu_seconds(self):
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK

    def memory_kb(self, key):
        for line in open(f"/proc/{self.proc.pid}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
        return 0

    def threads(self):
        return self.memory_kb("Threads")

    def open_fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self, timeout=60):
        start = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        return code, time.monotonic() - start


def machine_cpu():
    """Busy CPU seconds of the whole machine so far, all cores (user, nice, system, irq, softirq)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:8]]
    return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / CLK


def postgres_cpu():
    """CPU seconds of every running `postgres` process so far (server, backends, WAL writer)."""
    return command_cpu("postgres")


def broker_cpu():
    return command_cpu("mosquitto")


def reaped_children_cpu():
    """CPU seconds of this script's children that have exited and been waited for."""
    t = os.times()
    return t.children_user + t.children_system


def command_cpu(command):
    """CPU seconds so far of every running process whose name is `command`."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if stat[stat.index("(") + 1:stat.rindex(")")] == command:
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK


def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}
