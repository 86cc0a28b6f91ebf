#!/usr/bin/env python3
"""Ingest → render round trips against a real hearth, with exact expected values.

Every pprof of the shared testdata is ingested three ways (raw body with
format=pprof, gzip body, Go-SDK multipart), each under its own service name,
and for every sample type the flame graph must carry exactly the totals,
per-function self values and call tree that the independent decoder in
hearth_test_lib computes. Folded/lines uploads, selectors, labels, groupBy,
truncation and diff are checked against hand-computed answers (the worked
examples of render-http.md where they exist).
"""

import gzip
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

H = None
RUN = L.unique("r")  # isolates this run's series from anything else in the head


def setUpModule():
    global H
    H = L.HearthProcess(name="hearth").start()
    L.HearthTestCase.hearth = H


def tearDownModule():
    if H is not None:
        try:
            H.stop_checked()   # SIGTERM → exit 0, no sanitizer report
        finally:
            H.cleanup()


CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def window(ts_s, before=60, after=60):
    """Render range in ms around a timestamp in seconds."""
    return (ts_s - before) * 1000, (ts_s + after) * 1000


class Base(L.HearthTestCase):

    def check_flamebearer(self, fb, exp_tree, exp_total, what, exact=None):
        """Assert numTicks, per-function self and the whole tree of a render answer."""
        self.assertEqual(fb.get("version"), 1, "%s: version" % what)
        f = fb["flamebearer"]
        if exp_total or f["names"]:
            self.assertEqual(f["names"][0] if f["names"] else None, "total",
                             "%s: names[0] must be \"total\"" % what)
        self.assertEqual(f["numTicks"], exp_total, "%s: numTicks: expected %d, got %d" % (
            what, exp_total, f["numTicks"]))
        got_tree, root_total = L.flamebearer_tree(f)
        if exp_total or root_total is not None:
            self.assertEqual(root_total, exp_total, "%s: root node total" % what)
        exp_self, got_self = L.self_by_name(exp_tree), L.self_by_name(got_tree)
        self.assertEqual(got_self, exp_self, "%s: per-function self values differ (expected vs got):\n%s" % (
            what, L.diff_dicts(exp_self, got_self)))
        self.assertEqual(got_tree, exp_tree, "%s: call tree differs (path: expected vs got):\n%s" % (
            what, L.diff_dicts(exp_tree, got_tree)))
        max_self = max([s for _t, s in exp_tree.values()] + [0])
        self.assertEqual(f["maxSelf"], max_self, "%s: maxSelf" % what)
        if exact is not None:
            for key in ("names", "levels", "numTicks", "maxSelf"):
                self.assertEqual(f[key], exact[key], "%s: flamebearer.%s: expected %r, got %r" % (
                    what, key, exact[key], f[key]))

    def folded(self, app, body, params=(), headers=None, path="/ingest", ts=None):
        ts = ts if ts is not None else L.now_s()
        q = [("name", app), ("from", str(ts)), ("until", str(ts + 10))] + list(params)
        r = H.post(path, q, body if isinstance(body, bytes) else body.encode(), headers)
        self.assertStatus(r, 200, "POST %s name=%s" % (path, app))
        return ts


# ---------------------------------------------------------------------------
# Every testdata pprof, three ways
# ---------------------------------------------------------------------------

class TestPprofFiles(Base):

    def check_file(self, path, method):
        data = open(path, "rb").read()
        base = os.path.basename(path)
        # The .NET profile has function ids 0 and '-' in sample type names: only
        # valid with the dotnetspy fixes (ingest-http.md §5.3), as its agent sends.
        spy = "dotnetspy" if "dotnet" in base else None
        p = L.decode_pprof(data, spy)
        expected = L.expected_per_type(p)
        ids = L.profile_type_ids(p)
        raw = L.maybe_gunzip(data)
        gz = data if data[:2] == b"\x1f\x8b" else gzip.compress(raw)
        svc = "pp-%s-%s-%s" % (method, re.sub(r"[^a-z0-9]", "", base.lower())[:20], RUN)
        from_s = L.now_s() - 5
        params = [("name", svc)]
        headers = {}
        if method == "raw":
            body = raw
            params += [("format", "pprof"), ("from", str(from_s)), ("until", str(from_s + 10))]
        elif method == "gzip":
            body = gz
            params += [("format", "pprof"), ("from", str(from_s * 1000)),
                       ("until", str((from_s + 10) * 1000))]
        else:
            ctype, body = L.go_sdk_multipart(gz)
            headers["Content-Type"] = ctype
            params += [("from", str(from_s * 10 ** 9)), ("until", str((from_s + 10) * 10 ** 9)),
                       ("sampleRate", "100"), ("units", "samples"), ("aggregationType", "sum")]
        params.append(("spyName", spy or ("gospy" if method == "multipart" else "unknown")))
        H.ingest(params, body, headers)

        # pprof path: the profile's own time_nanos, unless 0 or in 1970 (then `from`).
        ts_s = p.time_nanos // 10 ** 9 if p.time_nanos >= 365 * 86400 * 10 ** 9 else from_s
        frm, until = window(ts_s)
        for exp, ptid in zip(expected, ids):
            what = "%s via %s, %s" % (base, method, ptid)
            fb = H.render('%s{service_name="%s"}' % (ptid, svc), frm, until,
                          maxNodes=len(exp.tree) + 16)
            self.check_flamebearer(fb, exp.tree, exp.total, what)
            self.assertEqual(fb["metadata"], L.expected_metadata(ptid), "%s: metadata" % what)


def _pprof_test(path, method):
    def test(self):
        self.check_file(path, method)
    test.__doc__ = "%s ingested as %s" % (os.path.basename(path), method)
    return test


for _path in L.pprof_files():
    _name = re.sub(r"[^a-z0-9]+", "_", os.path.basename(_path).lower())[:40]
    for _m in ("raw", "gzip", "multipart"):
        setattr(TestPprofFiles, "test_pprof_%s_%s" % (_name, _m), _pprof_test(_path, _m))


class TestPprofSemantics(Base):
    """Hand-built pprofs for rules the testdata does not exercise."""

    def render_one(self, ptid, svc, ts_s, **kw):
        frm, until = window(ts_s)
        return H.render('%s{service_name="%s"}' % (ptid, svc), frm, until, **kw)

    def test_pprof_all_files_merge_across_series(self):
        path = L.pprof_files()[0]
        p = L.decode_pprof(open(path, "rb").read())
        exp = L.expected_per_type(p)[-1]
        ptid = L.profile_type_ids(p)[-1]
        for i in range(3):
            H.ingest([("name", "merge%d-%s" % (i, RUN)), ("format", "pprof")], open(path, "rb").read())
        ts = p.time_nanos // 10 ** 9
        frm, until = window(ts)
        fb = H.render('%s{service_name=~"merge[0-9]-%s"}' % (ptid, RUN), frm, until,
                      maxNodes=len(exp.tree) + 16)
        tree3 = {k: [3 * t, 3 * s] for k, (t, s) in exp.tree.items()}
        self.check_flamebearer(fb, tree3, 3 * exp.total, "3 services merged by a regex selector")

    def test_pprof_inlined_lines_and_unsymbolized_locations(self):
        b = L.PprofBuilder()
        main, inl, leaf = b.func("main"), b.func("inlined_helper"), b.func("", system_name="_Z4leafv")
        l_main = b.loc(main)
        l_inl = b.loc(leaf, inl)           # line[0] = leaf (innermost), inlined into inl
        l_raw = b.loc(address=0xdeadbeef)  # no lines: named by address
        b.sample([l_inl, l_main], [7])
        b.sample([l_raw, l_main], [3])
        b.sample([l_main], [0])            # all zero: dropped
        b.sample([l_main], [-5])           # negative: dropped (normalisation)
        svc = "inline-" + RUN
        H.ingest([("name", svc), ("format", "pprof")], b.encode())
        tree = {("main",): [10, 0], ("main", "inlined_helper"): [7, 0],
                ("main", "inlined_helper", "_Z4leafv"): [7, 7], ("main", "0xdeadbeef"): [3, 3]}
        fb = self.render_one(CPU, svc, b.time_nanos // 10 ** 9)
        self.check_flamebearer(fb, tree, 10, "inlined frames, system_name, address frames")

    def test_pprof_unpacked_repeated_fields(self):
        b = L.PprofBuilder(sample_types=(("samples", "count"), ("cpu", "nanoseconds")))
        b.packed = False   # the Go runtime writes short repeated fields unpacked
        b.sample(b.stack("main", "run"), [2, 20000000])
        b.sample(b.stack("main"), [1, 10000000])
        svc = "unpacked-" + RUN
        H.ingest([("name", svc), ("format", "pprof")], b.encode_gz())
        tree = {("main",): [3, 1], ("main", "run"): [2, 2]}
        ts = b.time_nanos // 10 ** 9
        self.check_flamebearer(self.render_one("process_cpu:samples:count:cpu:nanoseconds", svc, ts),
                               tree, 3, "unpacked samples/count")
        tree_ns = {k: [t * 10 ** 7, s * 10 ** 7] for k, (t, s) in tree.items()}
        self.check_flamebearer(self.render_one(CPU, svc, ts), tree_ns, 3 * 10 ** 7, "unpacked cpu")

    def test_pprof_time_in_1970_uses_from(self):
        b = L.PprofBuilder(time_nanos=1234567890)  # 1.2 s after the epoch: old agents' microseconds
        b.sample(b.stack("main", "tick"), [5])
        svc = "epoch-" + RUN
        ts = L.now_s() - 30
        H.ingest([("name", svc), ("format", "pprof"), ("from", str(ts)), ("until", str(ts + 10))],
                 b.encode())
        fb = self.render_one(CPU, svc, ts)
        self.check_flamebearer(fb, {("main",): [5, 0], ("main", "tick"): [5, 5]}, 5,
                               "time_nanos in 1970 replaced by from")

    def test_pprof_sample_labels_split_series(self):
        b = L.PprofBuilder()
        s = b.stack("main", "work")
        b.sample(s, [10], labels=[("region", "eu"), ("trace_id", "t1")])
        b.sample(s, [20], labels=[("region", "us"), ("span_id", "s1")])
        b.sample(b.stack("main", "idle"), [4], labels=[("region", "eu"), ("profile_id", "p9")])
        b.sample(b.stack("main", "idle"), [1], labels=[(b.s("bytes"), 0, 4096)])  # numeric: ignored
        svc = "split-" + RUN
        H.ingest([("name", svc), ("format", "pprof")], b.encode())
        ts = b.time_nanos // 10 ** 9
        frm, until = window(ts)
        fb = H.render('%s{service_name="%s",region="eu"}' % (CPU, svc), frm, until)
        self.check_flamebearer(fb, {("main",): [14, 0], ("main", "work"): [10, 10],
                                    ("main", "idle"): [4, 4]}, 14, "region=eu series")
        fb = H.render('%s{service_name="%s",region=""}' % (CPU, svc), frm, until)
        self.check_flamebearer(fb, {("main",): [1, 0], ("main", "idle"): [1, 1]}, 1,
                               "series without region (numeric label only)")
        vals = H.get_json("/pyroscope/label-values", [
            ("label", "region"), ("query", '{service_name="%s"}' % svc),
            ("from", str(frm)), ("until", str(until))])
        self.assertEqual(vals, ["eu", "us"], "label-values region")
        for hidden in ("trace_id", "span_id", "profile_id"):
            names = H.get_json("/pyroscope/label-names", [
                ("query", '{service_name="%s"}' % svc), ("from", str(frm)), ("until", str(until))])
            self.assertNotIn(hidden, names, "%s must not become a series label: %r" % (hidden, names))

    def test_pprof_multipart_sample_type_config_display_names(self):
        b = L.PprofBuilder(sample_types=(("contentions", "count"), ("delay", "nanoseconds")),
                           period_type=("contentions", "count"), period=1)
        b.sample(b.stack("main", "lock"), [2, 3000])
        gz = b.encode_gz()
        ts = b.time_nanos // 10 ** 9
        frm, until = window(ts)
        # Default map: contentions -> mutex_count, so __name__ is mutex.
        svc_m = "mutex-" + RUN
        ctype, body = L.go_sdk_multipart(gz)
        H.ingest([("name", svc_m), ("spyName", "gospy")], body, {"Content-Type": ctype})
        # The Go SDK's block profile relabels them block_count / block_duration.
        svc_b = "block-" + RUN
        stc = {"contentions": {"display-name": "block_count"}, "delay": {"display-name": "block_duration"}}
        ctype, body = L.go_sdk_multipart(gz, sample_type_config=stc)
        H.ingest([("name", svc_b), ("spyName", "gospy")], body, {"Content-Type": ctype})
        self.assertEqual(L.profile_name(["contentions", "delay"]), "mutex")
        self.assertEqual(L.profile_name(["contentions", "delay"], stc), "block")
        for svc, name in ((svc_m, "mutex"), (svc_b, "block")):
            ids = H.get_json("/pyroscope/label-values", [
                ("label", "__name__"), ("query", '{service_name="%s"}' % svc),
                ("from", str(frm)), ("until", str(until))])
            want = ["%s:contentions:count:contentions:count" % name,
                    "%s:delay:nanoseconds:contentions:count" % name]
            self.assertEqual(sorted(ids), want, "profile types of %s" % svc)
            fb = H.render('%s{service_name="%s"}' % (want[1], svc), frm, until)
            self.check_flamebearer(fb, {("main",): [3000, 0], ("main", "lock"): [3000, 3000]}, 3000,
                                   "%s delay" % name)

    def test_pprof_multipart_part_without_filename(self):
        b = L.PprofBuilder()
        b.sample(b.stack("main", "nofilename"), [9])
        ctype, body = L.multipart_encode([("profile", None, None, b.encode_gz())])
        svc = "nofn-" + RUN
        H.ingest([("name", svc)], body, {"Content-Type": ctype})
        fb = self.render_one(CPU, svc, b.time_nanos // 10 ** 9)
        self.check_flamebearer(fb, {("main",): [9, 0], ("main", "nofilename"): [9, 9]}, 9,
                               "multipart profile part without filename")

    def test_pprof_scripting_spy_names(self):
        b = L.PprofBuilder()
        f_abs = b.func("run", filename="/usr/lib/python3/app.py")
        f_rel = b.func("handle", filename="app/handler.py")
        l_abs, l_rel = b.loc(f_abs), b.loc(f_rel)
        b.sample([l_rel, l_abs], [4])
        data = b.encode()
        ts = b.time_nanos // 10 ** 9
        for spy, tree in (
                ("rbspy", {("/usr/lib/python3/app.py run",): [4, 0],
                           ("/usr/lib/python3/app.py run", "app/handler.py handle"): [4, 4]}),
                ("pyspy", {("run",): [4, 0], ("run", "app/handler.py handle"): [4, 4]})):
            svc = "%s-%s" % (spy, RUN)
            H.ingest([("name", svc), ("format", "pprof"), ("spyName", spy)], data)
            p = L.decode_pprof(data, spy)
            self.assertEqual(L.expected_per_type(p)[0].tree, tree, "independent decoder, %s" % spy)
            self.check_flamebearer(self.render_one(CPU, svc, ts), tree, 4, "spyName=%s names" % spy)
            vals = H.get_json("/pyroscope/label-values", [
                ("label", "pyroscope_spy"), ("query", '{service_name="%s"}' % svc),
                ("from", str((ts - 60) * 1000)), ("until", str((ts + 60) * 1000))])
            self.assertEqual(vals, [spy], "pyroscope_spy label")


# ---------------------------------------------------------------------------
# Text formats
# ---------------------------------------------------------------------------

SPEC_STACKS = "main;work;compute 60\nmain;work 20\nmain;idle 10\ngc 10\n"
# render-http.md §4.1; uploads scale these values (x 1e7 for .cpu at 100 Hz).
SPEC_SINGLE = {"names": ["total", "main", "work", "compute", "idle", "gc"],
               "levels": [[0, 100, 0, 0], [0, 10, 10, 5, 0, 90, 0, 1],
                          [10, 10, 10, 4, 0, 80, 20, 2], [40, 60, 60, 3]],
               "numTicks": 100, "maxSelf": 60}


def scaled(fb, k):
    return {"names": fb["names"], "numTicks": fb["numTicks"] * k, "maxSelf": fb["maxSelf"] * k,
            "levels": [[v * k if i % 4 != 3 else v for i, v in enumerate(lv)] for lv in fb["levels"]]}


class TestFolded(Base):

    def render_svc(self, ptid, svc, ts, **kw):
        frm, until = window(ts)
        return H.render('%s{service_name="%s"}' % (ptid, svc), frm, until, **kw)

    def test_folded_spec_worked_example(self):
        app = "fold-%s.cpu" % RUN
        svc, ptid, scale = L.tree_profile_type(app)
        self.assertEqual((ptid, scale), (CPU, 10 ** 7))
        ts = self.folded(app, SPEC_STACKS)
        fb = self.render_svc(ptid, svc, ts)
        tree, total = L.parse_folded(SPEC_STACKS, scale=scale)
        exact = scaled(SPEC_SINGLE, 10 ** 7)
        self.assertEqual(L.encode_single(tree), exact, "test library encoder vs render-http.md §4.1")
        self.check_flamebearer(fb, tree, total, "folded worked example", exact=exact)
        self.assertEqual(fb["metadata"], {"format": "single", "spyName": "", "sampleRate": 1000000000,
                                          "units": "samples", "name": "cpu"}, "metadata")
        self.assertIsNone(fb.get("groups"), "groups without groupBy")
        self.assertIsNone(fb.get("heatmap"), "heatmap")
        tl = fb["timeline"]
        self.assertEqual(tl["durationDelta"], 15, "timeline step for a 2 min range")
        self.assertEqual(sum(tl["samples"]), total, "timeline sum == numTicks: %r" % tl)
        self.assertEqual(len(tl["samples"]), 8, "2 min / 15 s slots: %r" % tl)

    def test_folded_counts_add_up_and_odd_lines(self):
        body = ("a;b;c 3\n"
                "a;b;c 4\n"          # identical stacks add up
                "a;b 1\r\n"          # CRLF tolerated
                "line-without-count\n"  # skipped
                "x;;y 2\n"           # empty frame skipped
                "with space;frame 5\n"  # split at the LAST space
                "\n")
        app = "foldodd-" + RUN
        svc, ptid, scale = L.tree_profile_type(app)   # no suffix: cpu
        ts = self.folded(app, body)
        tree = {("a",): [8, 0], ("a", "b"): [8, 1], ("a", "b", "c"): [7, 7],
                ("x",): [2, 0], ("x", "y"): [2, 2], ("with space",): [5, 0],
                ("with space", "frame"): [5, 5]}
        tree = {k: [t * scale, s * scale] for k, (t, s) in tree.items()}
        self.check_flamebearer(self.render_svc(ptid, svc, ts), tree, 15 * scale, "folded edge cases")

    def test_lines_format(self):
        body = "a;b;c\na;b;c\na;b\n\nx\n"
        app = "lines-%s.cpu" % RUN
        svc, ptid, scale = L.tree_profile_type(app)
        ts = self.folded(app, body, [("format", "lines")])
        tree, total = L.parse_folded(body, lines_mode=True, scale=scale)
        self.assertEqual(total, 4 * 10 ** 7)
        self.check_flamebearer(self.render_svc(ptid, svc, ts), tree, total, "lines upload",
                               exact=L.encode_single(tree))

    def test_folded_content_encoding_gzip(self):
        app = "foldgz-%s.cpu" % RUN
        svc, ptid, scale = L.tree_profile_type(app)
        ts = self.folded(app, gzip.compress(SPEC_STACKS.encode()),
                         headers={"Content-Encoding": "gzip"})
        tree, total = L.parse_folded(SPEC_STACKS, scale=scale)
        self.check_flamebearer(self.render_svc(ptid, svc, ts), tree, total, "gzip folded",
                               exact=scaled(SPEC_SINGLE, scale))

    def test_folded_pyroscope_ingest_path(self):
        app = "foldpath-%s.cpu" % RUN
        svc, ptid, scale = L.tree_profile_type(app)
        ts = self.folded(app, SPEC_STACKS, path="/pyroscope/ingest")
        tree, total = L.parse_folded(SPEC_STACKS, scale=scale)
        self.check_flamebearer(self.render_svc(ptid, svc, ts), tree, total, "/pyroscope/ingest")

    def test_folded_sample_rates_and_suffixes(self):
        cases = [("sr0-%s.cpu" % RUN, "0", "process_cpu:samples:count::", 1),
                 ("sr1k-%s.cpu" % RUN, "1000", CPU, 10 ** 6),
                 ("wall-%s.wall" % RUN, "100", "wall:wall:nanoseconds:wall:nanoseconds", 10 ** 7),
                 ("mem-%s.inuse_space" % RUN, "100", "memory:inuse_space:bytes::", 1),
                 ("gor-%s.goroutines" % RUN, "100", "goroutine:goroutines:count::", 1)]
        for app, rate, want_id, want_scale in cases:
            svc, ptid, scale = L.tree_profile_type(app, int(rate))
            self.assertEqual((ptid, scale), (want_id, want_scale), "test library table for %s" % app)
            ts = self.folded(app, SPEC_STACKS, [("sampleRate", rate)])
            tree, total = L.parse_folded(SPEC_STACKS, scale=scale)
            fb = self.render_svc(ptid, svc, ts)
            self.check_flamebearer(fb, tree, total, "%s sampleRate=%s" % (app, rate),
                                   exact=scaled(SPEC_SINGLE, scale))
            self.assertEqual(fb["metadata"], L.expected_metadata(ptid), "metadata of %s" % ptid)

    def test_render_relative_time(self):
        app = "reltime-%s.cpu" % RUN
        svc, ptid, scale = L.tree_profile_type(app)
        self.folded(app, SPEC_STACKS, ts=L.now_s() - 120)
        fb = H.get_json("/pyroscope/render", [("query", '%s{service_name="%s"}' % (ptid, svc)),
                                               ("from", "now-10m"), ("until", "now")])
        tree, total = L.parse_folded(SPEC_STACKS, scale=scale)
        self.check_flamebearer(fb, tree, total, "from=now-10m until=now")
        fb = H.get_json("/pyroscope/render", [("query", '%s{service_name="%s"}' % (ptid, svc)),
                                               ("from", "now-1m"), ("until", "now")])
        self.assertEqual(fb["flamebearer"]["numTicks"], 0, "a profile 2 min old is outside now-1m")


# ---------------------------------------------------------------------------
# Labels, selectors, groupBy, truncation, diff
# ---------------------------------------------------------------------------

class TestQueries(Base):

    def test_label_names_and_values(self):
        svc = "lbl-" + RUN
        ts = L.now_s()
        self.folded("%s.cpu{env=staging,team=core}" % svc, "a;b 1\n", ts=ts)
        self.folded("%s.cpu{env=prod,team=core}" % svc, "a;c 2\n", ts=ts)
        self.folded("%s.inuse_space{env=prod}" % svc, "a;d 300\n", ts=ts)
        frm, until = window(ts)
        q = '{service_name="%s"}' % svc
        for params in ([("query", q), ("from", str(frm)), ("until", str(until))], []):
            names = H.get_json("/pyroscope/label-names", params)
            self.assertIsInstance(names, list, "label-names must be a JSON array")
            self.assertEqual(names, sorted(set(names)), "label-names sorted and unique")
            for n in ("service_name", "env", "team"):
                self.assertIn(n, names, "label-names %r" % params)
        vals = H.get_json("/pyroscope/label-values", [("label", "env"), ("query", q),
                                                      ("from", str(frm)), ("until", str(until))])
        self.assertEqual(vals, ["prod", "staging"], "label-values env")
        vals = H.get_json("/pyroscope/label-values", [("label", "team"), ("query", q)])
        self.assertEqual(vals, ["core"], "label-values team (default range: last hour)")
        vals = H.get_json("/pyroscope/label-values", [
            ("label", "env"), ("query", '%s{service_name="%s"}' % ("memory:inuse_space:bytes::", svc))])
        self.assertEqual(vals, ["prod"], "label-values env restricted to a profile type")
        vals = H.get_json("/pyroscope/label-values", [("label", "service_name")])
        self.assertIn(svc, vals, "label-values service_name over the last hour")
        ids = H.get_json("/pyroscope/label-values", [("label", "__name__"), ("query", q)])
        self.assertEqual(sorted(ids), [ "memory:inuse_space:bytes::", CPU],
                         "label=__name__ lists profile type IDs")
        ids = H.get_json("/pyroscope/label-values", [("label", "__name__")])
        for want in (CPU, "memory:inuse_space:bytes::"):
            self.assertIn(want, ids, "label=__name__ without a query")
        vals = H.get_json("/pyroscope/label-values", [("label", "no_such_label_" + RUN.replace("-", "_"))])
        self.assertIn(vals, ([], None), "values of a label nobody has: [] (or upstream's null)")

    def test_selectors_regex_and_negative(self):
        ts = L.now_s()
        run = RUN.replace("-", "_")
        for svc, body in (("svc-a", "a;x 1\n"), ("svc-b", "b;x 2\n"), ("other-c", "c;x 4\n")):
            self.folded("%s.cpu{run=%s}" % (svc, run), body, ts=ts)
        frm, until = window(ts)
        s = 10 ** 7
        cases = [
            ('service_name=~"svc-.*"', {"a": 1, "b": 2}),
            ('service_name!="svc-a"', {"b": 2, "c": 4}),
            ('service_name!~"svc-.*"', {"c": 4}),
            ('service_name=~"svc-"', {}),                # anchored: matches nothing
            ('service_name=~"svc-a|other-c"', {"a": 1, "c": 4}),
            ('service_name=~".*-[bc]",service_name!~".*c"', {"b": 2}),
            ('nonexistent=""', {"a": 1, "b": 2, "c": 4}),  # a missing label is ""
            ('nonexistent!=""', {}),
            ("service_name='svc-b'", {"b": 2}),             # single-quoted string
            ('service_name=`svc-a`, ', {"a": 1}),          # raw string, trailing comma
        ]
        for matchers, want in cases:
            q = '%s{run="%s",%s}' % (CPU, run, matchers)
            fb = H.render(q, frm, until)
            tree = {}
            for k, v in want.items():
                L.add_stack(tree, [k, "x"], v * s)
            self.check_flamebearer(fb, tree, sum(want.values()) * s, "selector %s" % matchers)

    def test_group_by(self):
        svc = "grp-" + RUN
        ts = L.now_s() - 30
        self.folded("%s.cpu{env=a}" % svc, "f;g 1\n", ts=ts)
        self.folded("%s.cpu{env=b}" % svc, "f;h 3\n", ts=ts)
        self.folded("%s.cpu" % svc, "f;i 5\n", ts=ts)
        frm, until = window(ts)
        fb = H.render('%s{service_name="%s"}' % (CPU, svc), frm, until, groupBy="env")
        self.assertEqual(fb["flamebearer"]["numTicks"], 9 * 10 ** 7, "numTicks with groupBy")
        groups = fb.get("groups")
        self.assertIsInstance(groups, dict, "groups must be an object with groupBy: %r" % (groups,))
        got = {k: sum(v["samples"]) for k, v in groups.items()}
        self.assertEqual(got, {"a": 10 ** 7, "b": 3 * 10 ** 7, "*": 5 * 10 ** 7},
                         "per-group timeline sums (missing label -> \"*\")")
        for k, v in groups.items():
            self.assertEqual(v["durationDelta"], 15, "group %s step" % k)
        # Upstream sends an all-zero timeline when several series come back
        # (render-http.md §3 step 4); the sum of the groups is also acceptable.
        self.assertIn(sum(fb["timeline"]["samples"]), (0, 9 * 10 ** 7),
                      "timeline with groupBy: zeros or the sum of the groups: %r" % fb["timeline"])

    def test_max_nodes_truncation(self):
        body = "a;b 50\na;c 30\na;d 5\ne 10\nf 3\ng;h 2\n"
        app = "trunc-%s.inuse_objects" % RUN   # unscaled values
        svc, ptid, _ = L.tree_profile_type(app)
        ts = self.folded(app, body)
        tree, total = L.parse_folded(body)
        frm, until = window(ts)
        expected = L.encode_single(tree, max_nodes=4)
        # threshold = 4th largest total = 10: d, f, g;h fold into `other` nodes
        self.assertEqual(expected["names"], ["total", "other", "e", "a", "c", "b"])
        for key in ("maxNodes", "max-nodes"):
            fb = H.render('%s{service_name="%s"}' % (ptid, svc), frm, until, **{key: 4})
            f = fb["flamebearer"]
            self.assertEqual(f["numTicks"], total, "numTicks unchanged by truncation (%s)" % key)
            got_tree, _ = L.flamebearer_tree(f)
            want_tree = {("a",): [85, 0], ("a", "b"): [50, 50], ("a", "c"): [30, 30],
                         ("a", "other"): [5, 5], ("e",): [10, 10], ("other",): [5, 5]}
            self.assertEqual(got_tree, want_tree, "truncated tree (%s=4):\n%s" % (
                key, L.diff_dicts(want_tree, got_tree)))
            self.assertEqual(f["names"], expected["names"], "names (%s)" % key)
            self.assertEqual(f["levels"], expected["levels"], "levels (%s)" % key)
        fb = H.render('%s{service_name="%s"}' % (ptid, svc), frm, until, maxNodes=100)
        self.check_flamebearer(fb, tree, total, "maxNodes=100 (no truncation)",
                               exact=L.encode_single(tree))

    def test_node_named_other_is_folded(self):
        body = "other;z 7\nmain 3\n"
        app = "othr-%s.inuse_objects" % RUN
        svc, ptid, _ = L.tree_profile_type(app)
        ts = self.folded(app, body)
        frm, until = window(ts)
        fb = H.render('%s{service_name="%s"}' % (ptid, svc), frm, until)
        tree, _ = L.flamebearer_tree(fb["flamebearer"])
        want = {("main",): [3, 3], ("other",): [7, 7]}
        self.assertEqual(tree, want, "a function named `other` always becomes the synthetic other "
                         "(connect-apis.md §4.3 step 2):\n%s" % L.diff_dicts(want, tree))

    def test_render_diff_spec_example(self):
        ts = L.now_s()
        left, right = "dl-%s.inuse_objects" % RUN, "dr-%s.inuse_objects" % RUN
        self.folded(left, "main;a 10\nmain;b 5\n", ts=ts)
        self.folded(right, "main;a 4\nmain;c 6\n", ts=ts)
        frm, until = window(ts)
        ptid = "memory:inuse_objects:count::"
        fb = H.get_json("/pyroscope/render-diff", [
            ("leftQuery", '%s{service_name="dl-%s"}' % (ptid, RUN)),
            ("leftFrom", str(frm)), ("leftUntil", str(until)),
            ("rightQuery", '%s{service_name="dr-%s"}' % (ptid, RUN)),
            ("rightFrom", str(frm)), ("rightUntil", str(until))])
        want = {"names": ["total", "main", "c", "b", "a"],
                "levels": [[0, 15, 0, 0, 10, 0, 0], [0, 15, 0, 0, 10, 0, 1],
                           [0, 10, 10, 0, 4, 4, 4, 0, 5, 5, 0, 0, 0, 3, 0, 0, 0, 0, 6, 6, 2]],
                "numTicks": 25, "maxSelf": 10}
        self.assertEqual(fb.get("leftTicks"), 15, "leftTicks")
        self.assertEqual(fb.get("rightTicks"), 10, "rightTicks")
        lt, lroot = L.flamebearer_tree(fb["flamebearer"], width=7, side=0)
        rt, rroot = L.flamebearer_tree(fb["flamebearer"], width=7, side=1)
        self.assertEqual((lroot, rroot), (15, 10), "root totals of the two sides")
        self.assertEqual(lt, {("main",): [15, 0], ("main", "a"): [10, 10], ("main", "b"): [5, 5]},
                         "decoded left side")
        self.assertEqual(rt, {("main",): [10, 0], ("main", "a"): [4, 4], ("main", "c"): [6, 6]},
                         "decoded right side")
        for key in ("names", "levels", "numTicks", "maxSelf"):
            self.assertEqual(fb["flamebearer"][key], want[key], "diff flamebearer.%s" % key)
        self.assertEqual(fb["metadata"], L.expected_metadata(ptid, "double"), "diff metadata")
        self.assertIsNone(fb.get("timeline"), "diff timeline is null")

    def test_ops_endpoints(self):
        r = H.get("/metrics")
        self.assertStatus(r, 200, "GET /metrics")
        self.assertIn("hearth_", r.text(), "/metrics exposes hearth_* series")
        self.assertStatus(H.get("/config"), 200, "GET /config")
        self.assertStatus(H.get("/ready"), 200, "GET /ready")

    def test_version_everywhere_the_same(self):
        # hearth -version, /api/v1/status/buildinfo, hearth_build_info and
        # the start-up log line name the same build.
        out = subprocess.run([L.hearth_bin(), "-version"], capture_output=True, text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        m = re.fullmatch(r"hearth (\d+\.\d+\.\d+) \(revision (\S+), branch (\S+), (\S+), (\w+ [^)]+)\)\n",
                         out.stdout)
        self.assertIsNotNone(m, "hearth -version printed %r" % out.stdout)
        version, revision, branch, date, compiler = m.groups()
        cmake = open(os.path.join(L.SOURCE_ROOT, "CMakeLists.txt")).read()
        self.assertIn("project(hearth VERSION %s " % version, cmake)
        # The Helm chart deploys this release by default.
        chart = open(os.path.join(L.SOURCE_ROOT, "deploy", "helm", "hearth", "Chart.yaml")).read()
        self.assertIn('appVersion: "%s"' % version, chart)
        r = H.get("/api/v1/status/buildinfo")
        self.assertStatus(r, 200, "GET /api/v1/status/buildinfo")
        self.assertEqual(r.headers.get("Content-Type"), "application/json")
        self.assertEqual(json.loads(r.text()), {"status": "success", "data": {
            "version": version, "revision": revision, "branch": branch, "buildUser": "",
            "buildDate": date, "goVersion": compiler}})
        self.assertEqual(H.metric("hearth_build_info", version=version, revision=revision,
                                  branch=branch, compiler=compiler), 1)
        started = [ln for ln in H.log_lines() if 'msg="hearth started"' in ln]
        self.assertTrue(started, "no start-up line")
        fields = L.logfmt_parse(started[0])
        self.assertEqual((fields.get("version"), fields.get("revision")), (version, revision))
        # -version wins over anything else on the line, even a bad flag.
        out = subprocess.run([L.hearth_bin(), "-no.such.flag=1", "--version"], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual((out.returncode, out.stdout), (0, m.group(0)))


if __name__ == "__main__":
    L.run_tests()
