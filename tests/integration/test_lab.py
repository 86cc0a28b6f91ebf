#!/usr/bin/env python3
"""The lab without Docker (deploy/lab/lab.sh): up, Prometheus, a flame graph, down.

`lab.sh up DIR` starts the compose lab's topology as local processes (3
ingesters with RF 3, 2 distributors, 1 querier, nginx in front, Debian's
Prometheus scraping every hearth process every second). Then:

  * its last stdout line is the front URL;
  * Prometheus's /api/v1/targets reports every hearth process (exactly the
    six /metrics URLs of the layout, labelled with role and process) "up",
    within a bounded wait, and its queries return hearth's own metrics from
    all six;
  * a folded profile pushed through nginx comes back through nginx as a
    flame graph with exactly the pushed values, and Prometheus sees the push
    in the distributors' request counter;
  * with HEARTH_LAB_DEMO=1, the compose file's demo-pusher (built with the
    local Go) pushes through nginx and its flame graph comes back;
  * `lab.sh status` reports every process running; `lab.sh down` stops them
    all (no pid left, the front port closed) and may be repeated.

Run: HEARTH_BIN=build/cmd/hearth python3 tests/integration/test_lab.py
"""

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as h  # noqa: E402

LAB = os.path.join(h.SOURCE_ROOT, "deploy", "lab", "lab.sh")
SLOW = 3.0 if h.binary_is_sanitized() else 1.0
DIR = None
BASE = None
ENV = None
FRONT = None
UP = None          # the CompletedProcess of `lab.sh up`


def ports_free(base):
    """Are all ports of the lab's layout (base .. base+41) free right now?"""
    for p in range(base, base + 42):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def pick_base():
    for _ in range(50):
        base = random.randrange(20000, 60000, 50)
        if ports_free(base):
            return base
    raise h.HearthError("no free block of 42 ports found for the lab")


def lab(cmd, timeout=180):
    return subprocess.run([LAB, cmd, DIR], env=ENV, capture_output=True, text=True, timeout=timeout)


def setUpModule():
    global DIR, BASE, ENV, FRONT, UP
    if shutil.which("prometheus") is None:
        raise h.HearthError("prometheus not found: apt-get install prometheus (scripts/install-deps.sh --test)")
    # A port picked free can be taken by a test running beside this one
    # before the lab binds it: then try again on other ports (3 times).
    for _attempt in range(3):
        DIR = tempfile.mkdtemp(prefix="hearth-lab-")
        BASE = pick_base()
        ENV = dict(os.environ, HEARTH_BIN=os.path.abspath(h.hearth_bin()), HEARTH_BASE_PORT=str(BASE),
                   HEARTH_LAB_SCRAPE_INTERVAL="1s", HEARTH_READY_TIMEOUT=str(int(60 * SLOW)),
                   HEARTH_LAB_DEMO="1", HEARTH_LAB_DEMO_INTERVAL="1s")
        t0 = time.monotonic()
        UP = lab("up")
        sys.stderr.write("\n  lab.sh up: rc %d in %.1f s\n" % (UP.returncode, time.monotonic() - t0))
        if UP.returncode == 0 or "Address in use" not in UP.stderr:
            break
        sys.stderr.write("  a port was taken meanwhile; again on other ports\n")
        lab("down")
        shutil.rmtree(DIR, ignore_errors=True)
    if UP.returncode != 0:
        sys.stderr.write(UP.stderr[-4000:] + "\n")
        lab("down")
        raise h.HearthError("lab.sh up failed with status %d" % UP.returncode)
    FRONT = h.Endpoint(BASE, "nginx")


def tearDownModule():
    r = lab("down")
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
    left = alive_pids()
    if os.environ.get("HEARTH_KEEP_TMP") != "1":
        shutil.rmtree(DIR, ignore_errors=True)
    if left:
        raise h.HearthError("processes still running after lab.sh down: %r" % left)


def alive_pids():
    """{name: pid} of the lab's pid files whose process still runs."""
    out = {}
    for sub in ("pids", "lab"):
        d = os.path.join(DIR, sub)
        if not os.path.isdir(d):
            continue
        for n in os.listdir(d):
            if not n.endswith(".pid"):
                continue
            try:
                with open(os.path.join(d, n)) as f:
                    pid = int(f.read().strip())
            except (OSError, ValueError):
                continue
            if running(pid):
                out[n[:-4]] = pid
    return out


def running(pid):
    """Is pid a live process (not a zombie waiting to be reaped)?"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def prometheus(path, params=None):
    with open(os.path.join(DIR, "lab", "prometheus.port")) as f:
        port = int(f.read())
    r = h.http_request("GET", "http://127.0.0.1:%d%s%s" % (
        port, path, "?" + h.encode_query(params) if params else ""), timeout=10)
    if r.status != 200:
        raise h.HearthError("Prometheus %s -> %d: %s" % (path, r.status, r.text()[:500]))
    return json.loads(r.body)


def expected_targets():
    """{scrape URL: (role, process)} of the layout cluster.sh documents."""
    out = {"http://127.0.0.1:%d/metrics" % (BASE + 1): ("querier", "querier")}
    for i in (1, 2):
        out["http://127.0.0.1:%d/metrics" % (BASE + 10 + i)] = ("distributor", "distributor-%d" % i)
    for i in (1, 2, 3):
        out["http://127.0.0.1:%d/metrics" % (BASE + 20 + i)] = ("ingester", "ingester-%d" % i)
    return out


def wait_for(what, check, timeout):
    """Poll check() (returns (done, detail)) until done or timeout."""
    deadline = time.monotonic() + timeout
    t0 = time.monotonic()
    while True:
        done, detail = check()
        if done:
            return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise h.HearthError("%s not within %.0f s: %s" % (what, timeout, detail))
        time.sleep(0.25)


class LabTest(h.HearthTestCase):
    def test_1_up_prints_the_front_url_last(self):
        self.assertEqual(UP.stdout.strip().splitlines()[-1], "http://127.0.0.1:%d" % BASE)
        self.assertEqual(FRONT.get("/ready").status, 200)

    def test_2_prometheus_reports_every_hearth_target_up(self):
        want = expected_targets()

        def check():
            got = {}
            for t in prometheus("/api/v1/targets")["data"]["activeTargets"]:
                if t["labels"].get("job") == "hearth":
                    got[t["scrapeUrl"]] = (t["labels"].get("role"), t["labels"].get("process"), t["health"],
                                           t.get("lastError", ""))
            return (set(got) == set(want) and all(v[2] == "up" for v in got.values())), got

        took = wait_for("every hearth target up in Prometheus", check, 30 * SLOW)
        sys.stderr.write("\n  all 6 hearth targets up %.1f s after the check started\n" % took)
        _, got = check()
        self.assertEqual({u: v[:2] for u, v in got.items()}, want, "targets and their labels")
        # Scraped for real: hearth's own metrics are in Prometheus, from all six.
        r = prometheus("/api/v1/query", {"query": 'count by (process) ({job="hearth",__name__=~"hearth_.+"})'})
        procs = sorted(x["metric"]["process"] for x in r["data"]["result"])
        self.assertEqual(procs, sorted(p for _, p in want.values()))
        r = prometheus("/api/v1/query", {"query": 'up{job="hearth"}'})
        self.assertEqual(sorted(x["value"][1] for x in r["data"]["result"]), ["1"] * 6)

    def test_3_flame_graph_through_nginx(self):
        svc = h.unique("lab")
        t = h.now_s() - 30
        stacks = [(["main", "serve", "handle"], 30), (["main", "gc"], 12), (["main", "serve"], 5)]
        r = FRONT.post("/ingest", [("name", "%s.cpu{env=lab}" % svc), ("from", str(t)),
                                   ("until", str(t + 10))], h.folded_body(stacks))
        self.assertEqual(r.status, 200, "push through nginx: %s" % r.text())
        q = '%s{service_name="%s"}' % (h.CPU_TYPE, svc)
        status, got, ticks, body = h.query_self_values(FRONT, q, (t - 600) * 1000, (t + 600) * 1000)
        self.assertEqual(status, 200, body[:500])
        scale = 10 ** 7     # sampleRate 100: one sample is 10 ms of CPU
        self.assertEqual(got, {"handle": 30 * scale, "gc": 12 * scale, "serve": 5 * scale})
        self.assertEqual(ticks, 47 * scale)
        fb = json.loads(FRONT.get("/pyroscope/render", [("query", q), ("from", str((t - 600) * 1000)),
                                                         ("until", str((t + 600) * 1000))]).body)
        self.assertEqual(fb["flamebearer"]["names"][0], "total")
        self.assertEqual(sorted(fb["flamebearer"]["names"][1:]), ["gc", "handle", "main", "serve"])
        # Prometheus sees the push in the distributors' request counters.
        query = 'sum(hearth_http_requests_total{job="hearth",role="distributor",route="ingest",status="200"})'

        def seen():
            res = prometheus("/api/v1/query", {"query": query})["data"]["result"]
            n = float(res[0]["value"][1]) if res else 0.0
            return n >= 1, n

        wait_for("the push in Prometheus", seen, 15 * SLOW)

    def test_3b_demo_pusher_data_comes_back_through_nginx(self):
        """HEARTH_LAB_DEMO=1: the compose file's demo-pusher, built locally,
        pushes its own CPU profile every second through nginx."""
        q = '%s{service_name="demo-pusher"}' % h.CPU_TYPE
        frm, until = (h.now_s() - 600) * 1000, (h.now_s() + 600) * 1000
        work = {"main.parseRecords", "main.checksumRecords"}   # deploy/compose/demo/pusher/main.go

        def pushed():
            r = FRONT.get("/pyroscope/render", [("query", q), ("from", str(frm)), ("until", str(until))])
            if r.status != 200:
                return False, "HTTP %d %s" % (r.status, r.text()[:300])
            names = json.loads(r.body)["flamebearer"]["names"]
            return bool(work & set(names)), sorted(names)[:40]

        took = wait_for("the demo-pusher's workload in a flame graph through nginx", pushed, 30 * SLOW)
        sys.stderr.write("\n  demo-pusher data queryable %.1f s after the check started\n" % took)

    def test_4_status(self):
        r = lab("status", timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertEqual(lines[-1], "http://127.0.0.1:%d" % BASE)
        names = [ln.split()[0] for ln in lines[:-1]]
        self.assertEqual(sorted(names), sorted(["demo-pusher", "prometheus", "nginx", "querier", "distributor-1",
                                                "distributor-2", "ingester-1", "ingester-2", "ingester-3"]))
        self.assertTrue(all(" running " in ln and (ln.endswith("-> 200") or ln.startswith("demo-pusher"))
                            for ln in lines[:-1]), r.stdout)

    def test_5_down_stops_everything(self):
        before = alive_pids()
        self.assertEqual(len(before), 9, before)
        t0 = time.monotonic()
        r = lab("down")
        sys.stderr.write("\n  lab.sh down: %.1f s\n" % (time.monotonic() - t0))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(alive_pids(), {})
        for name, pid in before.items():
            self.assertFalse(running(pid), "%s (pid %d) still running" % (name, pid))
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", BASE)), 0, "the front port still accepts")
        self.assertEqual(lab("down").returncode, 0, "down twice")
        # Every hearth process exited without a sanitizer report (ASan builds).
        for name in sorted(os.listdir(os.path.join(DIR, "logs"))):
            with open(os.path.join(DIR, "logs", name), "rb") as f:
                text = f.read().decode("utf-8", "replace")
            for marker in h.HearthProcess.SANITIZER_MARKERS:
                self.assertNotIn(marker, text, "%s:\n%s" % (name, text[-3000:]))


if __name__ == "__main__":
    h.run_tests()
