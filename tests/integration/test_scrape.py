#!/usr/bin/env python3
"""The pull model (issue 9): hearth scrapes pprof endpoints.

A small Go program (tests/integration/scrape_target, stdlib only, built here
with Debian's golang-go) serves net/http/pprof while cpuHog burns CPU and
allocHog allocates. hearth scrapes it, plus fake targets written in Python:
one that times out, one that answers 500, one that returns garbage (found
through a file_sd JSON file), a custom cumulative profile behind a bearer
token, the same with a wrong token, and a file_sd YAML file that the test
rewrites.

Checks: (a) the flame graphs name cpuHog and allocHog; (b) the stored alloc
profiles are differences, not running totals: hearth keeps every raw scrape
(-scrape.dump-dir, docs/scrape.md), and for consecutive scrapes k-1, k the
per-function values hearth stored at scrape k's time equal
`go tool pprof -top -diff_base=scrape[k-1] scrape[k]`; (c) the bad targets
are down on /targets and in /metrics with the reason, while the Go target
keeps its schedule; file_sd changes add and remove targets; a config error
stops hearth with the key and line.
"""

import json
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
H = None
GO = None
FAKES = {}
TMP = None
SVC = L.unique("goapp")
START_MS = 0
TOKEN = "s3cret-token"

CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
ALLOC_SPACE = "memory:alloc_space:bytes:space:bytes"
ALLOC_OBJECTS = "memory:alloc_objects:count:space:bytes"
INUSE_SPACE = "memory:inuse_space:bytes:space:bytes"
COUNTER = "counter:calls:count:calls:count"


def counter_handler(path, headers):
    """A cumulative custom profile: the k-th answer holds 100*k calls."""
    if headers.get("Authorization") != "Bearer " + TOKEN:
        return 401, b"bad token\n"
    k = FAKES["counter"].count(path)
    b = L.PprofBuilder(sample_types=(("calls", "count"),), period_type=("calls", "count"),
                       period=1)
    b.sample(b.stack("main", "customFn"), [100 * k])
    return 200, b.encode_gz()


def slow_handler(path, headers):
    time.sleep(3)   # hearth's timeout for this job is 1 s
    return 200, b""


def heap_handler(path, headers):
    with open(os.path.join(L.testdata_dir(), "pprof", "heap.pb"), "rb") as f:
        return 200, f.read()


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)   # a reader never sees half a file


def setUpModule():
    global H, GO, TMP, START_MS
    TMP = tempfile.mkdtemp(prefix="hearth-scrape-")
    GO = L.GoProgram(os.path.join(HERE, "scrape_target"), "scrape_target").build().start()
    FAKES["slow"] = L.FakeTarget(slow_handler)
    FAKES["err"] = L.FakeTarget(lambda p, h: (500, b"internal kaboom\n"))
    FAKES["garbage"] = L.FakeTarget(lambda p, h: (200, b"this is not a pprof\n"))
    FAKES["counter"] = L.FakeTarget(counter_handler)
    FAKES["heap1"] = L.FakeTarget(heap_handler)
    FAKES["heap2"] = L.FakeTarget(heap_handler)
    write(os.path.join(TMP, "token.txt"), TOKEN + "\n")
    write(os.path.join(TMP, "bad.json"), json.dumps([
        {"targets": [FAKES["slow"].address, FAKES["err"].address],
         "labels": {"team": "red"}},
        {"targets": [FAKES["garbage"].address]},
    ], indent="\t"))
    write(os.path.join(TMP, "sd.yaml"), "- targets: ['%s']\n" % FAKES["heap1"].address)
    only_memory = ("    profiling_config:\n"
                   "      process_cpu: {enabled: false}\n"
                   "      goroutine: {enabled: false}\n"
                   "      mutex: {enabled: false}\n"
                   "      block: {enabled: false}\n")
    only_counter = ("    profiling_config:\n"
                    "      process_cpu: {enabled: false}\n"
                    "      memory: {enabled: false}\n"
                    "      goroutine: {enabled: false}\n"
                    "      mutex: {enabled: false}\n"
                    "      block: {enabled: false}\n"
                    "      custom: [{name: counter, path: /custom, delta: true}]\n")
    cfg = ("scrape_configs:\n"
           "  - job_name: go-app\n"
           "    scrape_interval: 3s\n"
           "    static_configs:\n"
           "      - targets: ['%s']\n"
           "        labels: {service_name: %s, env: test}\n"
           "  - job_name: bad\n"
           "    scrape_interval: 1s\n"
           "    file_sd_configs: [{files: [bad.json]}]\n" % (GO.address, SVC) + only_memory +
           "  - job_name: sd\n"
           "    scrape_interval: 1s\n"
           "    file_sd_configs: [{files: ['*.yaml'], refresh_interval: 1h}]\n" + only_memory +
           "  - job_name: counter\n"
           "    scrape_interval: 1s\n"
           "    authorization: {credentials_file: token.txt}\n"
           "    static_configs: [{targets: ['%s']}]\n" % FAKES["counter"].address + only_counter +
           "  - job_name: counter-wrong-token\n"
           "    scrape_interval: 1s\n"
           "    authorization: {type: Bearer, credentials: nope}\n"
           "    static_configs: [{targets: ['%s']}]\n" % FAKES["counter"].address + only_counter)
    # *.yaml in TMP also matches the config itself: keep that elsewhere.
    os.makedirs(os.path.join(TMP, "etc"))
    write(os.path.join(TMP, "etc", "hearth.yml"), cfg.replace("bad.json", "../bad.json")
          .replace("'*.yaml'", "'../*.yaml'").replace("token.txt", "../token.txt"))
    START_MS = int(time.time() * 1000)
    H = L.HearthProcess(name="hearth", flags=[
        "-config.file=" + os.path.join(TMP, "etc", "hearth.yml"),
        "-scrape.dump-dir=" + os.path.join(TMP, "dumps"),
        "-scrape.dump-keep=1000",
    ]).start()
    L.HearthTestCase.hearth = H


def tearDownModule():
    try:
        if H is not None:
            try:
                H.stop_checked()
            finally:
                H.cleanup()
    finally:
        for f in FAKES.values():
            f.stop()
        if GO is not None:
            GO.cleanup()
        if TMP and os.environ.get("HEARTH_KEEP_TMP") != "1":
            import shutil
            shutil.rmtree(TMP, ignore_errors=True)


def wait_for(what, fn, timeout=60, step=0.25):
    """Poll fn() until it returns a true value; fail naming `what`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError("timed out after %d s waiting for %s (last: %r)\n%s" % (
        timeout, what, last, H.stderr_tail(30)))


def dumps(job, instance, profile):
    """[(ms, path)] of the raw scrapes hearth kept, oldest first."""
    d = os.path.join(TMP, "dumps", job, instance, profile)
    if not os.path.isdir(d):
        return []
    out = []
    for n in os.listdir(d):
        m = re.fullmatch(r"(\d+)\.pprof", n)
        if m:
            out.append((int(m.group(1)), os.path.join(d, n)))
    return sorted(out)


def self_at(query, ms):
    """{function: self} of the profiles stored exactly at ms, and numTicks."""
    fb = H.render(query, ms, ms)
    tree, _ = L.flamebearer_tree(fb["flamebearer"])
    return L.self_by_name(tree), fb["flamebearer"]["numTicks"]


class Scrape(L.HearthTestCase):

    def target(self, job, instance, profile):
        return L.scrape_target(H, job, instance, profile)

    def wait_scrapes(self, job, instance, profile, n, health="up", timeout=60):
        return wait_for("%s %s %s: %d scrapes, %s" % (job, instance, profile, n, health),
                        lambda: (lambda t: t if t and t["scrapes"] >= n and t["health"] == health
                                 else None)(self.target(job, instance, profile)), timeout)

    def test_flame_graphs_name_the_go_functions(self):
        self.wait_scrapes("go-app", GO.address, "process_cpu", 2)
        self.wait_scrapes("go-app", GO.address, "memory", 3)
        until = int(time.time() * 1000) + 1000
        sel = '{service_name="%s"}' % SVC
        cpu = H.render(CPU + sel, START_MS - 60000, until)["flamebearer"]
        self.assertIn("main.cpuHog", cpu["names"], "CPU flame graph: %s" % cpu["names"][:40])
        self.assertGreater(cpu["numTicks"], 0)
        mem = H.render(ALLOC_SPACE + sel, START_MS - 60000, until)["flamebearer"]
        self.assertIn("main.allocHog", mem["names"], "alloc_space: %s" % mem["names"][:40])
        inuse = H.render(INUSE_SPACE + sel, START_MS - 60000, until)["flamebearer"]
        self.assertGreater(inuse["numTicks"], 0)
        # The series carry job, instance, the target's labels and __name__.
        env = H.get_json("/pyroscope/label-values", {"label": "env", "query": sel,
                                                      "from": str(START_MS - 60000),
                                                      "until": str(until)})
        self.assertEqual(env, ["test"])
        inst = H.get_json("/pyroscope/label-values", {"label": "instance", "query": sel,
                                                       "from": str(START_MS - 60000),
                                                       "until": str(until)})
        self.assertEqual(inst, [GO.address])
        names = H.get_json("/pyroscope/label-values", {"label": "__name__", "query": sel,
                                                        "from": str(START_MS - 60000),
                                                        "until": str(until)})
        for n in ("process_cpu", "memory", "goroutine"):
            self.assertTrue(any(x.startswith(n + ":") for x in names), "%s in %s" % (n, names))

    def test_alloc_deltas_equal_pprof_diff_base_of_raw_scrapes(self):
        wait_for("5 raw memory scrapes of the Go program",
                 lambda: len(dumps("go-app", GO.address, "memory")) >= 5, timeout=90)
        d = dumps("go-app", GO.address, "memory")
        sel = '{service_name="%s"}' % SVC
        # The first scrape only seeds: no alloc profile at its time, but
        # the gauges (inuse_*) are stored.
        first_ms = d[0][0]
        _, ticks = self_at(ALLOC_SPACE + sel, first_ms)
        self.assertEqual(ticks, 0, "the first scrape must only seed the alloc deltas")
        _, ticks = self_at(INUSE_SPACE + sel, first_ms)
        self.assertGreater(ticks, 0, "inuse_space of the first scrape is stored")
        compared = 0
        for k in range(1, 5):
            (prev_ms, prev), (ms, cur) = d[k - 1], d[k]
            for query, index in ((ALLOC_SPACE, "alloc_space"), (ALLOC_OBJECTS, "alloc_objects")):
                diff = GO.pprof_top(cur, index, diff_base=prev)
                total = GO.pprof_top(cur, index)
                got, _ = self_at(query + sel, ms)
                want = diff.get("main.allocHog", 0)
                self.assertGreater(want, 0, "allocHog allocated between scrapes %d and %d" % (k - 1, k))
                self.assertEqual(got.get("main.allocHog", 0), want,
                                 "%s at scrape %d (%d ms): hearth stored %r, pprof -diff_base says %r"
                                 % (index, k, ms, got.get("main.allocHog"), want))
                # Every function of the program itself agrees the same way.
                for fn, v in diff.items():
                    if fn.startswith("main.") and v > 0:
                        self.assertEqual(got.get(fn, 0), v, "%s %s at scrape %d" % (index, fn, k))
                if os.environ.get("HEARTH_SCRAPE_VERBOSE"):
                    print("scrape %d %s: hearth %d, diff %d, running total %d" % (
                        k, index, got.get("main.allocHog", 0), want, total["main.allocHog"]))
                if k >= 2:
                    self.assertLess(got["main.allocHog"], total["main.allocHog"],
                                    "%s at scrape %d is the running total, not a delta" % (index, k))
                compared += 1
        self.assertEqual(compared, 8)

    def test_custom_cumulative_profile_behind_a_bearer_token(self):
        inst = FAKES["counter"].address
        self.wait_scrapes("counter", inst, "counter", 4)
        d = dumps("counter", inst, "counter")
        self.assertGreaterEqual(len(d), 4)
        values = []
        for _, path in d:
            with open(path, "rb") as f:
                p = L.decode_pprof(f.read())
            values.append(sum(s.values[0] for s in p.samples))
        self.assertEqual(values, sorted(values), "the fake counts up: %r" % values)
        _, ticks = self_at(COUNTER + '{service_name="counter"}', d[0][0])
        self.assertEqual(ticks, 0, "first scrape: seed only")
        for k in range(1, len(d)):
            got, ticks = self_at(COUNTER + '{service_name="counter"}', d[k][0])
            self.assertEqual(ticks, values[k] - values[k - 1], "scrape %d" % k)
            self.assertEqual(got.get("customFn"), values[k] - values[k - 1])
        # The wrong token gets 401: down, with the reason.
        t = self.wait_scrapes("counter-wrong-token", inst, "counter", 1, health="down")
        self.assertEqual(t["last_error_reason"], "http_status")
        self.assertEqual(t["last_error"], "HTTP 401: bad token")

    def test_bad_targets_are_down_with_the_reason_and_do_not_disturb(self):
        want = {"slow": ("timeout", "timed out"), "err": ("http_status", "HTTP 500: internal kaboom"),
                "garbage": ("decode", "pprof")}
        for name, (reason, text) in want.items():
            inst = FAKES[name].address
            t = self.wait_scrapes("bad", inst, "memory", 2, health="down")
            self.assertEqual(t["last_error_reason"], reason, "%s: %r" % (name, t))
            self.assertIn(text, t["last_error"], name)
            self.assertGreaterEqual(t["failures"], 2)
            self.assertEqual(t["labels"]["job"], "bad")
            self.assertEqual(t["labels"]["service_name"], "bad")
            up = H.metric("hearth_scrape_up", job="bad", instance=inst, profile="memory")
            self.assertEqual(up, 0, name)
            fails = H.metric("hearth_scrape_failures_total", job="bad", instance=inst,
                             profile="memory", reason=reason)
            self.assertGreaterEqual(fails, 2, name)
        self.assertEqual(L.scrape_target(H, "bad", FAKES["slow"].address, "memory")["labels"]["team"],
                         "red")
        # Meanwhile the Go program is scraped on schedule (every 3 s).
        before = self.target("go-app", GO.address, "memory")
        time.sleep(7)
        after = self.target("go-app", GO.address, "memory")
        self.assertGreaterEqual(after["scrapes"] - before["scrapes"], 2, "%r -> %r" % (before, after))
        self.assertEqual(after["health"], "up")
        self.assertEqual(after["failures"], 0)
        self.assertEqual(after["skipped"], 0)
        self.assertEqual(H.metric("hearth_scrape_up", job="go-app", instance=GO.address,
                                  profile="memory"), 1)
        self.assertGreater(H.metric("hearth_scrape_bytes", job="go-app", instance=GO.address,
                                    profile="memory"), 0)
        html = H.get("/targets")
        self.assertStatus(html, 200, "/targets")
        self.assertIn("text/html", html.header("Content-Type"))
        self.assertIn("timeout: ", html.text())
        self.assertIn("http_status: HTTP 500: internal kaboom", html.text())

    def test_file_sd_changes_add_and_remove_targets(self):
        h1, h2 = FAKES["heap1"].address, FAKES["heap2"].address
        self.wait_scrapes("sd", h1, "memory", 1)
        # A new file matching the pattern adds a target; the old file,
        # rewritten, drops its target.
        write(os.path.join(TMP, "more.yaml"), "- targets: ['%s']\n  labels: {zone: b}\n" % h2)
        write(os.path.join(TMP, "sd.yaml"), "[]\n")
        wait_for("sd target %s gone" % h1,
                 lambda: self.target("sd", h1, "memory") is None, timeout=15)
        t = self.wait_scrapes("sd", h2, "memory", 1)
        self.assertEqual(t["labels"]["zone"], "b")
        self.assertIsNone(H.metric("hearth_scrape_up", job="sd", instance=h1, profile="memory"))
        # A broken file keeps its previous targets (and says why in the log).
        write(os.path.join(TMP, "more.yaml"), "- targets: [\n")
        H.wait_log("file_sd read failed", timeout=15)
        time.sleep(1.5)
        self.assertIsNotNone(self.target("sd", h2, "memory"))

    def test_config_shows_scrape_configs_without_secrets(self):
        r = H.get("/config")
        self.assertStatus(r, 200, "/config")
        text = r.text()
        self.assertIn('scrape_configs:\n  - job_name: "go-app"\n    scrape_interval: 3s\n', text)
        self.assertIn('      credentials: "<secret>"\n', text)
        self.assertNotIn("nope", text)
        self.assertNotIn(TOKEN, text)
        self.assertIn("token.txt", text)

    def test_invalid_scrape_config_stops_hearth_with_key_and_line(self):
        path = os.path.join(TMP, "broken.yml")
        write(path, "scrape_configs:\n  - job_name: x\n    static_configs:\n"
                    "      - targets: ['http://h:1']\n")
        p = L.HearthProcess(name="hearth-broken", flags=["-config.file=" + path])
        p.start(wait_ready=False)
        try:
            rc = p.wait_exit(timeout=60)
            self.assertEqual(rc, 2)
            self.assertIn("line 4: scrape_configs[0] (job \"x\").static_configs[0].targets[0]: "
                          "\"http://h:1\": a target is host:port without a scheme",
                          p.stderr_tail())
        finally:
            p.cleanup()


if __name__ == "__main__":
    L.run_tests()
