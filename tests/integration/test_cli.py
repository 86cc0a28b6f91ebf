#!/usr/bin/env python3
"""hearth-cli against a real hearth: every subcommand, exact output where it is
deterministic, and the error paths with their exit codes.

Exit codes (cli/cli.h): 0 ok, 1 usage, 2 server error, 3 unreachable or 404,
4 bad input/output file. Known uploads give known tables: the folded profile
main;work 3 / main;idle 1 / main;work;deep 2 at 100 Hz is 60 ms of CPU, which
the top table, the text flame graph, the series and the exports must show
exactly. Exports are read back independently: folded by re-uploading it,
pprof with `go tool pprof -top` (golang-go) and by re-uploading it.
A stub HTTP server checks what the CLI sends (tenant, token, URL prefix) and
how it reports 5xx bodies, 503 and timeouts.
"""

import datetime
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

H = None
TMP = None
TS = L.now_s() - 600           # every upload of this file is near this time
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
FOLDED = "main;work 3\nmain;idle 1\nmain;work;deep 2\n"
SVC = L.unique("cli")          # FOLDED at TS, env=prod
WINDOW = ["--from", str(TS - 60), "--until", str(TS + 60)]


def setUpModule():
    global H, TMP
    TMP = tempfile.mkdtemp(prefix="hearth-cli-it-")
    H = L.HearthProcess(name="hearth").start()
    L.HearthTestCase.hearth = H
    path = os.path.join(TMP, "svc.folded")
    with open(path, "w") as f:
        f.write(FOLDED)
    r = cli(["upload", path, "--name", "%s.cpu{env=prod}" % SVC, "--from", str(TS)])
    if r.returncode != 0:
        raise L.HearthError("setup upload failed: %s" % r.stderr)


def tearDownModule():
    try:
        if H is not None:
            H.stop_checked()
    finally:
        if H is not None:
            H.cleanup()
        if TMP:
            shutil.rmtree(TMP, ignore_errors=True)


def url():
    return "http://127.0.0.1:%d" % H.port


def cli(args, env=None, stdin=None, base=None):
    return L.run_cli(args, url=base if base is not None else url(), env=env, stdin=stdin)


def q(service, ptype=CPU):
    return '%s{service_name="%s"}' % (ptype, service)


class Base(L.HearthTestCase):

    def ok(self, r, what):
        self.assertEqual(r.returncode, 0, "%s: exit %d\nstdout: %s\nstderr: %s" % (
            what, r.returncode, r.stdout, r.stderr))
        self.assertEqual(r.stderr, "", "%s: stderr must be empty on success" % what)
        return r.stdout

    def fails(self, r, code, needle, what):
        self.assertEqual(r.returncode, code, "%s: expected exit %d, got %d\nstdout: %s\nstderr: %s" % (
            what, code, r.returncode, r.stdout, r.stderr))
        self.assertIn(needle, r.stderr, "%s: stderr should say %r" % (what, needle))
        self.assertTrue(r.stderr.startswith("hearth-cli: "), "%s: %r" % (what, r.stderr))


class TestQuery(Base):

    def test_ready(self):
        self.assertEqual(self.ok(cli(["ready"]), "ready"), "ready\n")

    def test_top_table_exact(self):
        out = self.ok(cli(["query", "top", "--query", q(SVC)] + WINDOW), "top")
        self.assertEqual(out,
                         "    self   self%     total   total%  function\n"
                         "30.00 ms  50.00%  50.00 ms   83.33%  work\n"
                         "20.00 ms  33.33%  20.00 ms   33.33%  deep\n"
                         "10.00 ms  16.67%  10.00 ms   16.67%  idle\n"
                         "    0 ns   0.00%  60.00 ms  100.00%  main\n")

    def test_top_sorted_by_total_limited_and_json(self):
        out = self.ok(cli(["query", "top", "--query", q(SVC), "--sort", "total",
                           "--limit", "1"] + WINDOW), "top --sort total")
        self.assertEqual(out,
                         "self  self%     total   total%  function\n"
                         "0 ns  0.00%  60.00 ms  100.00%  main\n"
                         "(1 of 4 functions shown; --limit 0 shows all)\n")
        out = self.ok(cli(["query", "top", "--query", q(SVC), "--output", "json"] + WINDOW),
                      "top json")
        self.assertEqual(json.loads(out), [
            {"function": "work", "self": 30000000, "total": 50000000},
            {"function": "deep", "self": 20000000, "total": 20000000},
            {"function": "idle", "self": 10000000, "total": 10000000},
            {"function": "main", "self": 0, "total": 60000000}])

    def test_top_of_empty_range(self):
        out = self.ok(cli(["query", "top", "--query", q(SVC), "--from", str(TS - 7200),
                           "--until", str(TS - 3600)]), "top of nothing")
        self.assertEqual(out, "no samples: the query matched no profiles in this time range\n")

    def test_flamegraph_tree_exact(self):
        out = self.ok(cli(["query", "flamegraph", "--query", q(SVC), "--min-percent", "0"] + WINDOW),
                      "flamegraph")
        self.assertEqual(out,
                         " total%     total      self  function\n"
                         "100.00%  60.00 ms         -  total\n"
                         "100.00%  60.00 ms         -    main\n"
                         " 83.33%  50.00 ms  30.00 ms      work\n"
                         " 33.33%  20.00 ms  20.00 ms        deep\n"
                         " 16.67%  10.00 ms  10.00 ms      idle\n")
        out = self.ok(cli(["query", "flamegraph", "--query", q(SVC), "--min-percent", "20",
                           "--depth", "2"] + WINDOW), "flamegraph --depth 2")
        self.assertEqual(out,
                         " total%     total      self  function\n"
                         "100.00%  60.00 ms         -  total\n"
                         "100.00%  60.00 ms         -    main\n"
                         " 83.33%  50.00 ms  30.00 ms      work\n"
                         "(2 more nodes: raise --depth or lower --min-percent to see them)\n")

    def test_flamegraph_json_is_the_render_answer(self):
        out = self.ok(cli(["query", "flamegraph", "--query", q(SVC), "--output", "json"] + WINDOW),
                      "flamegraph json")
        fb = json.loads(out)
        want = H.render(q(SVC), (TS - 60) * 1000, (TS + 60) * 1000)
        self.assertEqual(fb["flamebearer"], want["flamebearer"])
        self.assertEqual(fb["flamebearer"]["numTicks"], 60000000)

    def test_series_rows_sparkline_and_json(self):
        out = self.ok(cli(["query", "series", "--query", q(SVC), "--group-by", "env",
                           "--output", "json"] + WINDOW), "series json")
        doc = json.loads(out)
        self.assertEqual(doc["step"], 15)
        points = [p for p in doc["timeline"] if p[1] != 0]
        self.assertEqual(len(points), 1, doc)
        t, v = points[0]
        self.assertEqual(v, 60000000)
        # Slot i is drawn at startTime + i * step (render-http.md §5, as
        # Grafana plots it), within two steps of the profile.
        self.assertTrue(TS - 30 <= t <= TS + 15, "point at %d for a profile at %d" % (t, TS))
        self.assertEqual(list(doc["groups"]), ["prod"])
        self.assertEqual(doc["groups"]["prod"], doc["timeline"])

        out = self.ok(cli(["query", "series", "--query", q(SVC), "--group-by", "env"] + WINDOW),
                      "series")
        lines = out.split("\n")
        self.assertEqual(lines[0].split(), ["series", "max"])
        self.assertRegex(lines[1], r"^total +[ \u2588]+ +60\.00 ms$")
        self.assertIn("\u2588", lines[1])
        self.assertRegex(lines[2], r"^prod +[ \u2588]+ +60\.00 ms$")
        self.assertEqual(lines[3], "")
        self.assertEqual(lines[4].split(), ["time", "total", "prod"])
        stamp = datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows = [ln for ln in lines[5:] if ln]
        self.assertEqual(len(rows), len(doc["timeline"]))
        self.assertIn("%s  60.00 ms  60.00 ms" % stamp, rows)
        self.assertEqual(sum(1 for ln in rows if re.search(r" 0 ns +0 ns$", ln)), len(rows) - 1)

    def test_labels_names_and_values(self):
        out = self.ok(cli(["query", "labels", "--query", '{service_name="%s"}' % SVC]), "labels")
        names = out.split("\n")[:-1]
        self.assertEqual(names, sorted(names))
        for n in ("__name__", "env", "service_name"):
            self.assertIn(n, names)
        out = self.ok(cli(["query", "labels", "--label", "env", "--query",
                           '{service_name="%s"}' % SVC]), "label values")
        self.assertEqual(out, "prod\n")
        out = self.ok(cli(["query", "labels", "--label", "__name__", "--query",
                           '{service_name="%s"}' % SVC, "--output", "json"]), "labels json")
        self.assertEqual(json.loads(out), [CPU])

    def test_ring_of_one(self):
        # -target=all is a ring of one ingester, reached in-process.
        out = self.ok(cli(["ring"]), "ring")
        ring = json.loads(out)
        self.assertEqual(len(ring["members"]), 1)
        m = ring["members"][0]
        self.assertEqual(m["state"], "ACTIVE")
        self.assertTrue(m["url"].startswith("inproc://"), m["url"])
        self.assertEqual(m["tokens"], 128)


class TestExport(Base):

    def test_folded_round_trip(self):
        rt = L.unique("rt")
        body = "a;b 5\na;c 7\nx 1\n"
        self.ok(cli(["upload", "-", "--name", rt + ".cpu", "--sample-rate", "0", "--from", str(TS)],
                    stdin=body), "upload raw counts")
        ptype = "process_cpu:samples:count::"
        out = self.ok(cli(["export", "--query", q(rt, ptype), "--format", "folded"] + WINDOW),
                      "export folded")
        self.assertEqual(out, body)
        rt2 = rt + "-again"
        self.ok(cli(["upload", "-", "--name", rt2 + ".cpu", "--sample-rate", "0", "--from", str(TS)],
                    stdin=out), "re-upload")
        again = self.ok(cli(["export", "--query", q(rt2, ptype), "--format", "folded"] + WINDOW),
                        "export again")
        self.assertEqual(again, body)

    def test_json_export_to_file(self):
        path = os.path.join(TMP, "fb.json")
        out = self.ok(cli(["export", "--query", q(SVC), "--format", "json", "-o", path] + WINDOW),
                      "export json")
        size = os.path.getsize(path)
        self.assertEqual(out, "wrote %s (json, %d bytes)\n" % (path, size))
        with open(path) as f:
            fb = json.load(f)
        want = H.render(q(SVC), (TS - 60) * 1000, (TS + 60) * 1000)
        self.assertEqual(fb["flamebearer"], want["flamebearer"])

    def test_pprof_export_reads_back(self):
        path = os.path.join(TMP, "svc.pb.gz")
        self.ok(cli(["export", "--query", q(SVC), "--format", "pprof", "-o", path] + WINDOW),
                "export pprof")
        with open(path, "rb") as f:
            data = f.read()
        self.assertEqual(data[:2], b"\x1f\x8b", "pprof export is gzip")
        # hearth_test_lib's own decoder: types, range and the whole tree.
        p = L.decode_pprof(data)
        self.assertEqual(p.sample_types, [("cpu", "nanoseconds")])
        self.assertEqual(p.period_type, ("cpu", "nanoseconds"))
        self.assertEqual(p.time_nanos, (TS - 60) * 10 ** 9)
        self.assertEqual(p.duration_nanos, 120 * 10 ** 9)
        exp = L.expected_per_type(p)[0]
        want, total = L.parse_folded(FOLDED, scale=10000000)
        self.assertEqual(exp.total, total)
        self.assertEqual(exp.tree, want)
        # Back into hearth under another name: the same top table.
        back = L.unique("back")
        self.ok(cli(["upload", path, "--name", back]), "upload exported pprof")
        rng = ["--from", str(TS - 120), "--until", str(TS + 60)]
        want = json.loads(self.ok(cli(["query", "top", "--query", q(SVC), "--output", "json"] + rng),
                                  "top of original"))
        got = json.loads(self.ok(cli(["query", "top", "--query", q(back), "--output", "json"] + rng),
                                 "top of re-upload"))
        self.assertEqual(got, want)

    def test_pprof_export_with_go_tool_pprof(self):
        go = shutil.which("go")
        if go is None:
            self.skipTest("go (golang-go) is not installed")
        path = os.path.join(TMP, "go.pb.gz")
        self.ok(cli(["export", "--query", q(SVC), "--format", "pprof", "-o", path] + WINDOW),
                "export pprof")
        home = os.path.join(TMP, "gohome")
        os.makedirs(home, exist_ok=True)
        env = dict(os.environ, HOME=home, PPROF_TMPDIR=home, GOCACHE=os.path.join(home, "cache"),
                   GOFLAGS="", GOPROXY="off")
        r = subprocess.run([go, "tool", "pprof", "-top", "-nodecount=100", path],
                           capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {}
        started = False
        for line in r.stdout.splitlines():
            if line.split()[:2] == ["flat", "flat%"]:
                started = True
                continue
            if started and line.strip():
                f = line.split()
                rows[" ".join(f[5:])] = (f[0], f[3])
        self.assertEqual(rows, {"work": ("30ms", "50ms"), "deep": ("20ms", "20ms"),
                                "idle": ("10ms", "10ms"), "main": ("0", "60ms")},
                         "go tool pprof -top output:\n%s" % r.stdout)
        self.assertIn("Type: cpu", r.stdout)

    def test_export_errors(self):
        r = cli(["export", "--query", q(SVC), "--format", "svg"])
        self.fails(r, 1, '--format: "svg" is not pprof, folded or json', "bad format")
        r = cli(["export", "--query", q(SVC)])
        self.fails(r, 1, "'export' needs --format pprof|folded|json", "no format")
        r = cli(["export", "--query", q(SVC), "--format", "folded", "-o",
                 os.path.join(TMP, "no", "such", "dir", "x.txt")] + WINDOW)
        self.fails(r, 4, "cannot write", "unwritable output")


class TestDiff(Base):

    @classmethod
    def setUpClass(cls):
        cls.svc = L.unique("diff")
        for ts, body in ((TS - 300, "main;work 3\nmain;idle 1\n"),
                         (TS, "main;work 7\nmain;idle 1\nmain;new 2\n")):
            r = cli(["upload", "-", "--name", cls.svc + ".cpu", "--from", str(ts)], stdin=body)
            if r.returncode != 0:
                raise L.HearthError(r.stderr)
        cls.sides = ["--left-from", str(TS - 360), "--left-until", str(TS - 240),
                     "--right-from", str(TS - 60), "--right-until", str(TS + 60)]

    def test_diff_table_exact(self):
        out = self.ok(cli(["diff", "--query", q(self.svc)] + self.sides), "diff")
        self.assertEqual(out,
                         "total: left 40.00 ms, right 100.00 ms (+150.00%)\n"
                         "regressions (right > left, by self):\n"
                         "    left     right      delta    change  function\n"
                         "30.00 ms  70.00 ms  +40.00 ms  +133.33%  work\n"
                         "    0 ns  20.00 ms  +20.00 ms       new  new\n"
                         "improvements (right < left, by self): none\n")

    def test_diff_swapped_json_and_normalised(self):
        swapped = ["--left-from", str(TS - 60), "--left-until", str(TS + 60),
                   "--right-from", str(TS - 360), "--right-until", str(TS - 240)]
        out = self.ok(cli(["diff", "--left-query", q(self.svc), "--right-query", q(self.svc),
                           "--output", "json"] + swapped), "diff json")
        self.assertEqual(json.loads(out), {
            "leftTicks": 100000000, "rightTicks": 40000000, "functions": [
                {"function": "main", "leftSelf": 0, "rightSelf": 0,
                 "leftTotal": 100000000, "rightTotal": 40000000},
                {"function": "new", "leftSelf": 20000000, "rightSelf": 0,
                 "leftTotal": 20000000, "rightTotal": 0},
                {"function": "work", "leftSelf": 70000000, "rightSelf": 30000000,
                 "leftTotal": 70000000, "rightTotal": 30000000}]})
        out = self.ok(cli(["diff", "--query", q(self.svc), "--normalize"] + self.sides),
                      "diff --normalize")
        # Left scaled by 100/40: work 75 ms, idle 25 ms against 70 and 10.
        self.assertEqual(out,
                         "total: left 40.00 ms, right 100.00 ms (+150.00%)\n"
                         "left values scaled by 2.5000 to the right total (--normalize)\n"
                         "regressions (right > left, by self):\n"
                         "left     right      delta  change  function\n"
                         "0 ns  20.00 ms  +20.00 ms     new  new\n"
                         "improvements (right < left, by self):\n"
                         "    left     right      delta   change  function\n"
                         "25.00 ms  10.00 ms  -15.00 ms  -60.00%  idle\n"
                         "75.00 ms  70.00 ms   -5.00 ms   -6.67%  work\n")

    def test_diff_needs_both_queries(self):
        r = cli(["diff", "--left-query", q(self.svc)])
        self.fails(r, 1, "'diff' needs --right-query (or --query)", "one side")
        r = cli(["diff", "--query", "%s{service_name=\"x\"}" % CPU, "--right-query",
                 'memory:inuse_space:bytes:space:bytes{service_name="x"}'])
        self.fails(r, 2, "HTTP 400", "different types")


class TestUpload(Base):

    def test_upload_pprof_files_and_summary(self):
        svc = L.unique("up")
        files = [os.path.join(L.testdata_dir(), "pprof", n) for n in ("cpu.pb.gz", "heap.pb")]
        out = self.ok(cli(["upload"] + files + ["--name", svc + "{team=x}"]), "upload pprof")
        self.assertEqual(out,
                         "%s: uploaded (pprof, gzip, 2 sample types, 7 samples, %d bytes)\n"
                         "%s: uploaded (pprof, 4 sample types, 1150 samples, %d bytes)\n" % (
                             files[0], os.path.getsize(files[0]), files[1], os.path.getsize(files[1])))
        out = self.ok(cli(["query", "labels", "--label", "__name__", "--from", "20200101",
                           "--query", '{service_name="%s"}' % svc]), "types stored")
        self.assertIn(CPU + "\n", out)
        self.assertIn("memory:inuse_space:bytes:space:bytes\n", out)

    def test_upload_jfr_recording(self):
        svc = L.unique("jfr")
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "jfr",
                            "burn.jfr.gz")
        out = self.ok(cli(["upload", path, "--name", svc, "--from", str(TS),
                           "--spy-name", "javaspy"]), "upload JFR")
        self.assertRegex(out, r"burn\.jfr\.gz: uploaded \(jfr, gzip, 4 event kinds, \d+ samples, %d "
                         r"bytes\)\n$" % os.path.getsize(path))
        out = self.ok(cli(["query", "labels", "--label", "__name__", "--query",
                           '{service_name="%s"}' % svc] + WINDOW), "JFR profile types stored")
        self.assertEqual(sorted({t.split(":")[0] for t in out.split()}),
                         ["block", "memory", "mutex", "process_cpu"])

    def test_upload_gzip_folded_and_lines(self):
        import gzip
        svc = L.unique("gz")
        path = os.path.join(TMP, "gz.folded.gz")
        with open(path, "wb") as f:
            f.write(gzip.compress(b"a;b 2\na;c 1\n"))
        self.ok(cli(["upload", path, "--name", svc + ".cpu", "--from", str(TS)]), "gzip folded")
        lines = os.path.join(TMP, "stacks.txt")
        with open(lines, "w") as f:
            f.write("a;b\na;b\na;d\n")
        r = cli(["upload", lines, "--name", svc + ".cpu", "--from", str(TS)])
        self.fails(r, 4, "use --format lines", "lines not sniffed")
        out = self.ok(cli(["upload", lines, "--name", svc + ".cpu", "--format", "lines",
                           "--from", str(TS)]), "lines")
        self.assertIn("uploaded (lines, 1 sample type, 2 samples", out)
        out = self.ok(cli(["query", "top", "--query", q(svc), "--output", "json"] + WINDOW), "top")
        self.assertEqual(json.loads(out), [
            {"function": "b", "self": 40000000, "total": 40000000},
            {"function": "c", "self": 10000000, "total": 10000000},
            {"function": "d", "self": 10000000, "total": 10000000},
            {"function": "a", "self": 0, "total": 60000000}])

    def test_upload_bad_files(self):
        missing = os.path.join(TMP, "does-not-exist.pb")
        r = cli(["upload", missing, "--name", "x"])
        self.fails(r, 4, "cannot read %s: No such file or directory" % missing, "missing file")
        garbage = os.path.join(TMP, "garbage.bin")
        with open(garbage, "wb") as f:
            f.write(bytes(range(256)) * 4)
        r = cli(["upload", garbage, "--name", "x"])
        self.fails(r, 4, "%s: not a pprof profile nor folded text: pprof: malformed protobuf" % garbage,
                   "garbage file")
        empty = os.path.join(TMP, "empty")
        open(empty, "w").close()
        self.fails(cli(["upload", empty, "--name", "x"]), 4, "the file is empty", "empty file")
        # A bad file among good ones: the others are still sent.
        svc = L.unique("mixed")
        good = os.path.join(TMP, "good.folded")
        with open(good, "w") as f:
            f.write("ok;fine 1\n")
        r = cli(["upload", garbage, good, "--name", svc + ".cpu", "--from", str(TS)])
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertEqual(r.stdout, "%s: uploaded (folded, 1 sample type, 1 samples, 10 bytes)\n" % good)
        out = self.ok(cli(["query", "labels", "--label", "service_name", "--query",
                           '{service_name="%s"}' % svc]), "mixed stored")
        self.assertEqual(out, svc + "\n")

    def test_upload_rejected_by_server(self):
        path = os.path.join(TMP, "ok.folded")
        with open(path, "w") as f:
            f.write("a 1\n")
        r = cli(["upload", path, "--name", "bad name{"])
        self.fails(r, 2, "POST /ingest: HTTP 400: name:", "bad app name")
        r = cli(["upload", path, "--name", "x.nosuchsuffix"])
        self.fails(r, 2, "HTTP 400", "unknown suffix")

    def test_upload_usage_errors(self):
        self.fails(cli(["upload", "--name", "x"]), 1, "upload needs at least one FILE", "no file")
        self.fails(cli(["upload", "f"]), 1, "upload needs --name APP", "no name")
        self.fails(cli(["upload", "f", "--name", "x", "--format", "collapsed"]), 1,
                   'unknown format "collapsed"', "bad format")
        self.fails(cli(["upload", "f", "--name", "x", "--sample-rate", "fast"]), 1,
                   '--sample-rate: "fast" is not an integer', "bad rate")
        self.fails(cli(["upload", "f", "--name", "x", "--from", "tomorrow"]), 1,
                   "--from:", "bad time")


class TestErrors(Base):

    def test_usage(self):
        r = L.run_cli([])
        self.assertEqual(r.returncode, 1)
        self.assertIn("Usage: hearth-cli COMMAND [flags]", r.stderr)
        r = L.run_cli(["-h"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("query top", r.stdout)
        r = L.run_cli(["query", "top", "-h"])
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("Usage: hearth-cli query top --query Q [flags]\n"), r.stdout)
        self.assertIn("--limit N", r.stdout)
        self.fails(L.run_cli(["frobnicate"]), 1, 'unknown command "frobnicate"', "command")
        self.fails(L.run_cli(["query"]), 1, "query needs one of flamegraph, top, series, labels",
                   "no subcommand")
        self.fails(L.run_cli(["query", "bottom"]), 1, '(got "bottom")', "bad subcommand")

    def test_version_names_the_same_build_as_hearth(self):
        server = subprocess.run([L.hearth_bin(), "-version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(server.returncode, 0, server.stderr)
        self.assertTrue(server.stdout.startswith("hearth "), server.stdout)
        rest = server.stdout[len("hearth"):]      # " 0.1.0 (revision ...)\n"
        for arg in ("--version", "-version"):
            # The client alone (never asks a server): built from the same
            # tree, the same line but the program name.
            r = L.run_cli([arg], url="http://127.0.0.1:1")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "hearth-cli" + rest, arg)
        # `version` adds the server's build, from /api/v1/status/buildinfo.
        r = cli(["version"])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "client: hearth-cli%sserver:%s" % (rest, rest))
        # A server that cannot be reached: the client's line, then exit 3.
        r = L.run_cli(["version"], url="http://127.0.0.1:1")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stdout, "client: hearth-cli" + rest)
        self.assertIn("cannot connect", r.stderr)

    def test_bad_flags(self):
        self.fails(cli(["query", "top", "--query", q(SVC), "--bogus"]), 1,
                   "unknown flag --bogus (for 'query top')", "unknown flag")
        self.fails(cli(["query", "top", "--query", q(SVC), "--label", "x"]), 1,
                   "flag --label does not apply to 'query top'", "foreign flag")
        self.fails(L.run_cli(["query", "top", "--query"]), 1, "flag --query needs a value",
                   "missing value")
        self.fails(cli(["query", "top"]), 1, "'query top' needs --query", "no query")
        self.fails(cli(["query", "top", "--query", q(SVC), "--output", "xml"]), 1,
                   '--output: "xml" is not text or json', "bad output")
        self.fails(cli(["query", "top", "--query", q(SVC), "--from", "yesterday"]), 1,
                   '--from: time "yesterday"', "bad time")
        self.fails(cli(["query", "top", "--query", q(SVC), "--from", "now", "--until", "now-1h"]), 1,
                   "--from (now) is after --until (now-1h)", "reversed range")
        self.fails(cli(["query", "top", "--query", q(SVC), "--limit", "-1"]), 1,
                   "--limit: -1 is out of range", "negative limit")
        self.fails(cli(["query", "flamegraph", "--query", q(SVC), "--min-percent", "101"]), 1,
                   "--min-percent: 101 is out of range", "percent")
        self.fails(cli(["ready", "extra"]), 1, 'unexpected argument "extra"', "extra argument")
        self.fails(cli(["ready", "--timeout", "soon"]), 1, '--timeout: "soon" is not a duration',
                   "timeout")
        self.fails(L.run_cli(["ready", "--url", "localhost:4040"]), 1,
                   "must start with http:// or https://", "bad url")
        self.fails(cli(["ready", "--tenant", "a\r\nX-Evil: 1"]), 1,
                   "--tenant must not contain control characters", "header injection")

    def test_unreachable_server(self):
        port = L.free_port()
        r = cli(["query", "top", "--query", q(SVC)], base="http://127.0.0.1:%d" % port)
        self.fails(r, 3, "cannot connect to http://127.0.0.1:%d" % port, "unreachable")
        r = L.run_cli(["ready"], env={"HEARTH_URL": "http://127.0.0.1:%d" % port})
        self.fails(r, 3, "cannot connect to http://127.0.0.1:%d" % port, "HEARTH_URL")

    def test_server_4xx(self):
        r = cli(["query", "top", "--query", CPU + '{service_name="x"'])
        self.fails(r, 2, "GET /pyroscope/render: HTTP 400: query: selector: position", "bad selector")
        r = cli(["query", "flamegraph", "--query", q(SVC), "--max-nodes", "99999999"] + WINDOW)
        self.assertIn(r.returncode, (0, 2), r.stderr)


class TestTenants(Base):
    """--tenant against a hearth that requires X-Scope-OrgID."""

    @classmethod
    def setUpClass(cls):
        cls.mt = L.HearthProcess(name="hearth-mt", flags=["-auth.multitenancy-enabled=true"]).start()

    @classmethod
    def tearDownClass(cls):
        try:
            cls.mt.stop_checked()
        finally:
            cls.mt.cleanup()

    def test_tenant_header(self):
        base = "http://127.0.0.1:%d" % self.mt.port
        path = os.path.join(TMP, "mt.folded")
        with open(path, "w") as f:
            f.write("t;one 4\n")
        r = cli(["upload", path, "--name", "mt.cpu", "--from", str(TS)], base=base)
        self.fails(r, 2, "POST /ingest: HTTP 401", "no tenant")
        self.ok(cli(["upload", path, "--name", "mt.cpu", "--from", str(TS), "--tenant", "team-a"],
                    base=base), "tenant a")
        out = self.ok(cli(["query", "top", "--query", q("mt"), "--tenant", "team-a", "--output",
                           "json"] + WINDOW, base=base), "top a")
        self.assertEqual(json.loads(out), [{"function": "one", "self": 40000000, "total": 40000000},
                                           {"function": "t", "self": 0, "total": 40000000}])
        out = self.ok(cli(["query", "top", "--query", q("mt"), "--tenant", "team-b"] + WINDOW,
                          base=base), "top b")
        self.assertEqual(out, "no samples: the query matched no profiles in this time range\n")


class _Stub(http.server.BaseHTTPRequestHandler):
    """What hearth-cli sends, and answers a real server would rarely give."""
    seen = []

    def log_message(self, *a):
        pass

    def _answer(self, status, body, ctype="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        _Stub.seen.append((self.path, dict(self.headers)))
        if self.path.startswith("/prefix/ready"):
            self._answer(503, b"starting\n")
        elif self.path.startswith("/prefix/pyroscope/label-names"):
            self._answer(200, b'["a","b"]', "application/json")
        elif self.path.startswith("/prefix/pyroscope/label-values"):
            time.sleep(3)
            self._answer(200, b"[]", "application/json")
        elif self.path.startswith("/prefix/pyroscope/render"):
            self._answer(500, b"upstream exploded\n")
        elif self.path.startswith("/prefix/ring"):
            self._answer(200, b'{"members":[]}', "application/json")
        else:
            self._answer(404, b"")


class TestStub(Base):

    @classmethod
    def setUpClass(cls):
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
        cls.thread = threading.Thread(target=cls.srv.serve_forever, daemon=True)
        cls.thread.start()
        cls.base = "http://127.0.0.1:%d/prefix/" % cls.srv.server_address[1]

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()
        cls.srv.server_close()

    def test_headers_token_tenant_and_prefix(self):
        _Stub.seen.clear()
        out = self.ok(cli(["query", "labels", "--tenant", "acme", "--from", "now-2h"], base=self.base,
                          env={"HEARTH_TOKEN": "s3cret"}), "labels via stub")
        self.assertEqual(out, "a\nb\n")
        path, hdrs = _Stub.seen[-1]
        self.assertTrue(path.startswith("/prefix/pyroscope/label-names?from=now-2h&until=now"), path)
        self.assertEqual(hdrs.get("X-Scope-OrgID"), "acme")
        self.assertEqual(hdrs.get("Authorization"), "Bearer s3cret")
        self.assertEqual(hdrs.get("User-Agent"), "hearth-cli")
        # --token beats $HEARTH_TOKEN; the URL comes from $HEARTH_URL.
        r = L.run_cli(["query", "labels", "--token", "flag"],
                      env={"HEARTH_URL": self.base, "HEARTH_TOKEN": "env"})
        self.ok(r, "token flag")
        self.assertEqual(_Stub.seen[-1][1].get("Authorization"), "Bearer flag")
        self.assertNotIn("X-Scope-OrgID", _Stub.seen[-1][1])

    def test_non_json_5xx_body_is_shown(self):
        r = cli(["query", "top", "--query", q("x")], base=self.base, env={"HEARTH_TOKEN": "s3cret"})
        self.fails(r, 2, "GET /pyroscope/render: HTTP 500: upstream exploded", "500")
        self.assertNotIn("s3cret", r.stderr)

    def test_not_ready_and_timeout(self):
        self.fails(cli(["ready"], base=self.base), 2, "GET /ready: HTTP 503: starting", "503")
        start = time.monotonic()
        r = cli(["query", "labels", "--label", "x", "--timeout", "300ms"], base=self.base)
        self.fails(r, 3, "within 300 ms (--timeout)", "timeout")
        self.assertLess(time.monotonic() - start, 2.5)

    def test_ring_json_passes_through(self):
        self.assertEqual(self.ok(cli(["ring"], base=self.base), "ring"), '{"members":[]}\n')


if __name__ == "__main__":
    L.run_tests()
