#!/usr/bin/env python3
"""Placement on the ring (RF = 1), the /ring page, and deploy/local/cluster.sh.

  * RF = 1 over 3 ingesters, shard_size 0 (every member): the series of one
    service spread over every ingester, each series stored once (the
    ingesters' own hearth_ingester_head_series add up to the series pushed,
    and so do the querier's /ring series counts); queries exact.
  * -ring.shard-size=2 (routers restarted): each service's series stay on
    at most 2 of the 3 ingesters, one service at a time.
  * /ring as JSON (every field of the contract) and HTML.
  * cluster.sh up / status / down: the URL is the last line, a push and a
    render through its nginx work, down stops every process and is
    idempotent (static and etcd membership).

Run: HEARTH_BIN=build/cmd/hearth python3 tests/integration/test_cluster_ring.py
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as h  # noqa: E402

CLUSTER = None
SCRIPT = os.path.join(h.SOURCE_ROOT, "deploy", "local", "cluster.sh")


def setUpModule():
    global CLUSTER
    CLUSTER = h.Cluster(n_ingesters=3, n_distributors=1, rf=1, shard_size=0)
    try:
        CLUSTER.start()
    except Exception:
        sys.stderr.write(CLUSTER.tails(40) + "\n")
        CLUSTER.cleanup()
        raise


def tearDownModule():
    problems = CLUSTER.cleanup()
    if problems:
        raise h.HearthError("cluster shutdown:\n" + "\n".join(problems))


def push_series(service, n, ts):
    """n single-stack folded pushes of service, one series each (pod=p<k>);
    returns the expected {function: self}."""
    want = {}
    for k in range(n):
        fn = "fn_%d" % (k % 7)
        body = ("main;work;%s %d\n" % (fn, k + 1)).encode()
        params = [("name", "%s.cpu{pod=p%d}" % (service, k)), ("from", str(ts)), ("until", str(ts + 10))]
        r = CLUSTER.front().post("/ingest", params, body)
        if r.status != 200:
            raise h.HearthError("push %d of %s -> %d: %s" % (k, service, r.status, r.text()[:300]))
        want[fn] = want.get(fn, 0) + (k + 1) * 10 ** 7
    return want


def wait_ring_series(total, timeout=15):
    """The querier's /ring series (from pings) once they add up to total."""
    deadline = time.monotonic() + timeout
    while True:
        ring = h.ring_json(CLUSTER.querier)
        got = {m["id"]: m["series"] for m in ring["members"]}
        if sum(got.values()) == total or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


class RingTest(h.HearthTestCase):
    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            sys.stderr.write("\n" + CLUSTER.tails(30) + "\n")
        return out

    def test_1_rf1_series_spread_over_every_ingester(self):
        before = CLUSTER.series_per_ingester()
        ts = h.now_s() - 600
        service = "spread-svc"
        want = push_series(service, 90, ts)
        after = CLUSTER.series_per_ingester()
        delta = {i: after[i] - before.get(i, 0) for i in after}
        sys.stderr.write("\n  RF=1, shard 0: series per ingester %r\n" % delta)
        self.assertEqual(sum(delta.values()), 90, "each series is stored once with RF=1: %r" % delta)
        for iid, n in delta.items():
            self.assertGreater(n, 0, "%s got none of 90 series: %r" % (iid, delta))
        status, got, ticks, body = h.query_self_values(
            CLUSTER.front(), '%s{service_name="%s"}' % (h.CPU_TYPE, service), (ts - 60) * 1000, (ts + 60) * 1000)
        self.assertEqual(status, 200, body[:500])
        self.assertEqual(got, want, h.diff_dicts(want, got))
        self.assertEqual(ticks, sum(want.values()))
        ring = wait_ring_series(sum(after.values()))
        self.assertEqual(ring, after, "the querier's /ring series (from pings) vs the ingesters' /metrics")

    def test_2_ring_page(self):
        ring = h.ring_json(CLUSTER.querier)
        self.assertEqual(ring["replication_factor"], 1)
        self.assertEqual(ring["shard_size"], 0)
        ids = sorted(m["id"] for m in ring["members"])
        self.assertEqual(ids, ["ingester-1", "ingester-2", "ingester-3"])
        now_ms = int(time.time() * 1000)
        for m in ring["members"]:
            for key in ("id", "url", "state", "tokens", "ownership", "last_heartbeat_unix_ms",
                        "series", "head_bytes", "block_bytes"):
                self.assertIn(key, m, "member %r lacks %s" % (m, key))
            self.assertEqual(m["state"], "ACTIVE")
            self.assertEqual(m["tokens"], 128)
            self.assertIn(str(CLUSTER.ingesters[m["id"]].rpc_port), m["url"])
            self.assertLess(abs(now_ms - m["last_heartbeat_unix_ms"]), 10000, m)
            self.assertGreater(m["ownership"], 0.05, m)
        self.assertAlmostEqual(sum(m["ownership"] for m in ring["members"]), 1.0, places=3)
        # Same member set and tokens everywhere: ownership agrees.
        d = h.ring_json(CLUSTER.distributors[0])
        self.assertEqual(sorted((m["id"], round(m["ownership"], 9)) for m in d["members"]),
                         sorted((m["id"], round(m["ownership"], 9)) for m in ring["members"]))
        r = CLUSTER.querier.get("/ring", headers={"Accept": "text/html"})
        self.assertEqual(r.status, 200)
        self.assertIn("text/html", r.header("Content-Type") or "")
        for iid in ids:
            self.assertIn(iid, r.text())
        self.assertIn("ACTIVE", r.text())

    def test_3_shard_size_2_keeps_each_service_on_2_members(self):
        CLUSTER.shard_size = 2
        CLUSTER.restart_routers()
        ring = h.ring_json(CLUSTER.querier)
        self.assertEqual(ring["shard_size"], 2)
        ts = h.now_s() - 300
        used = set()
        for s in range(6):
            service = "shard-svc-%d" % s
            before = CLUSTER.series_per_ingester()
            want = push_series(service, 30, ts)
            after = CLUSTER.series_per_ingester()
            delta = {i: after[i] - before.get(i, 0) for i in after}
            holders = sorted(i for i, n in delta.items() if n > 0)
            sys.stderr.write("  shard 2: %s -> %r\n" % (service, delta))
            self.assertEqual(sum(delta.values()), 30, delta)
            self.assertLessEqual(len(holders), 2, "%s spread over %r with -ring.shard-size=2" % (service, delta))
            used.add(tuple(holders))
            status, got, _t, body = h.query_self_values(
                CLUSTER.front(), '%s{service_name="%s"}' % (h.CPU_TYPE, service),
                (ts - 60) * 1000, (ts + 60) * 1000)
            self.assertEqual(status, 200, body[:500])
            self.assertEqual(got, want, h.diff_dicts(want, got))
        # Six fixed service names do not all hash onto the same two members.
        self.assertGreater(len(used), 1, "every service landed on %r" % used)


def ports_free(base, n=45):
    """No listener on any port of [base, base+n) (TIME_WAIT leftovers are fine)."""
    for p in range(base, base + n):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                return False
    return True


def pick_base():
    for _ in range(50):
        # Below the kernel's ephemeral range (32768-60999), where the
        # other tests' free_port() picks come from.
        base = 20000 + (os.getpid() * 7 + int(time.time() * 1000)) % 12000
        base -= base % 50
        if ports_free(base):
            return base
        time.sleep(0.01)
    raise h.HearthError("no free range of 45 ports found for cluster.sh")


class ClusterScriptTest(h.HearthTestCase):
    def script(self, args, env, timeout=120):
        return subprocess.run(["bash", SCRIPT] + args, capture_output=True, text=True, env=env, timeout=timeout)

    def run_script_cluster(self, membership):
        d = tempfile.mkdtemp(prefix="hearth-cluster-sh-")
        base = pick_base()
        env = dict(os.environ, HEARTH_BIN=h.hearth_bin(), HEARTH_BASE_PORT=str(base),
                   HEARTH_MEMBERSHIP=membership, HEARTH_READY_TIMEOUT="90")
        env.pop("HEARTH_EXTRA_FLAGS", None)
        try:
            t0 = time.monotonic()
            up = self.script(["up", d], env)
            took = time.monotonic() - t0
            lines = up.stdout.strip().splitlines()
            self.assertEqual(up.returncode, 0, "up failed:\n%s\n%s\n%s" % (up.stdout, up.stderr, self.logs(d)))
            self.assertEqual(lines[-1], "http://127.0.0.1:%d" % base, up.stdout)
            sys.stderr.write("\n  cluster.sh up (%s) took %.1f s\n" % (membership, took))
            front = h.Endpoint(base, "front")
            ts = h.now_s() - 30
            body = b"main;a;b 3\nmain;a;c 4\nmain;d 5\n"
            r = front.post("/ingest", [("name", "smoke.cpu{env=local}"), ("from", str(ts)),
                                       ("until", str(ts + 10))], body)
            self.assertEqual(r.status, 200, r.text())
            status, got, ticks, text = h.query_self_values(
                front, '%s{service_name="smoke"}' % h.CPU_TYPE, (ts - 60) * 1000, (ts + 60) * 1000)
            self.assertEqual(status, 200, text[:500])
            self.assertEqual(got, {"b": 3 * 10 ** 7, "c": 4 * 10 ** 7, "d": 5 * 10 ** 7})
            self.assertEqual(ticks, 12 * 10 ** 7)
            # /ring through the front is the querier's.
            ring = h.ring_json(front)
            self.assertEqual(sorted(m["state"] for m in ring["members"]), ["ACTIVE"] * 3)
            st = self.script(["status", d], env)
            self.assertEqual(st.returncode, 0, st.stdout + st.stderr)
            self.assertEqual(st.stdout.strip().splitlines()[-1], "http://127.0.0.1:%d" % base)
            pids = self.pids(d)
            want = 7 + (1 if membership == "etcd" else 0)   # 3+2+1 hearth, nginx, etcd
            self.assertEqual(len(pids), want, pids)
        finally:
            t0 = time.monotonic()
            down = self.script(["down", d], env)
            took = time.monotonic() - t0
        self.assertEqual(down.returncode, 0, down.stderr)
        sys.stderr.write("  cluster.sh down took %.1f s\n" % took)
        for name, pid in pids.items():
            self.assertFalse(os.path.exists("/proc/%d" % pid) and self.is_ours(pid),
                             "%s (pid %d) still running after down" % (name, pid))
        self.assertTrue(ports_free(base), "a port of %d..%d is still in use after down" % (base, base + 44))
        again = self.script(["down", d], env)
        self.assertEqual(again.returncode, 0, "down is idempotent: %s" % again.stderr)
        shutil.rmtree(d, ignore_errors=True)

    @staticmethod
    def is_ours(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split()[2] != "Z"
        except OSError:
            return False

    @staticmethod
    def pids(d):
        out = {}
        for f in os.listdir(os.path.join(d, "pids")):
            if f.endswith(".pid"):
                with open(os.path.join(d, "pids", f)) as fh:
                    out[f[:-4]] = int(fh.read().strip())
        return out

    @staticmethod
    def logs(d):
        out = []
        logdir = os.path.join(d, "logs")
        for f in sorted(os.listdir(logdir)) if os.path.isdir(logdir) else []:
            with open(os.path.join(logdir, f), "rb") as fh:
                out.append("---- %s ----\n%s" % (f, fh.read().decode("utf-8", "replace")[-1500:]))
        return "\n".join(out)

    def test_script_static(self):
        self.run_script_cluster("static")

    def test_script_etcd(self):
        self.run_script_cluster("etcd")


if __name__ == "__main__":
    h.run_tests()
