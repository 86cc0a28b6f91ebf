#!/usr/bin/env python3
"""Connect APIs (connect-apis.md): push.v1 and querier.v1 against a real hearth.

Requests are built here by hand, independently of hearth's .proto files and
encoder: protobuf bytes from the spec's field numbers (hearth_test_lib's
pb_* helpers) and JSON literals, in both codecs. Responses are decoded with
field tables written from the spec and checked against values computed
without hearth's code:

  * one Push carrying every pprof of the shared testdata; then, per file
    and sample type, SelectMergeStacktraces and /pyroscope/render must both
    equal the file's call tree (hearth_test_lib's independent decoder);
  * SelectMergeProfile read by `go tool pprof -top` gives per function the
    flat and cumulative values `go tool pprof -top` gives for the original
    files (merged, for two CPU profiles pushed as one series);
  * the worked examples of connect-apis.md §4.3 (FlameGraph) and §4.4
    (FlameGraphDiff) byte for byte; tree bytes (§4.5); SelectSeries bucket
    semantics, group-by, average and limit; render's timeline equal to
    SelectSeries; label methods; GetProfileStats;
  * server-side delta (model.md §5): cumulative memory alloc_* profiles
    pushed three times give exactly the differences (the first only seeds),
    inuse_* every push, __delta__="false" and godeltaprof_memory nothing
    subtracted, a counter reset is not stored;
  * protocol behaviour: gzip request and response bodies, Content-Type of
    the answer, and errors (bad selector → invalid_argument 400, unknown
    method → unimplemented 501, no tenant with multi-tenancy on →
    unauthenticated 401, 405, 415, validation errors of Push).
"""

import base64
import gzip
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402
from hearth_test_lib import pb_bytes, pb_msg, pb_uint, pb_double  # noqa: E402

H = None      # multi-tenancy off: every call is tenant "anonymous"
HMT = None    # multi-tenancy on
RUN = L.unique("c")
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
Q = "/querier.v1.QuerierService/"
PUSH = "/push.v1.PusherService/Push"
MAX_NODES = 1048576   # max_flamegraph_nodes_max: no truncation


def setUpModule():
    global H, HMT
    H = L.HearthProcess(name="hearth").start()
    HMT = L.HearthProcess(name="hearth-mt", flags=["-auth.multitenancy-enabled=true"]).start()
    L.HearthTestCase.hearth = H


def tearDownModule():
    for h in (H, HMT):
        if h is not None:
            try:
                h.stop_checked()
            finally:
                h.cleanup()


# ---- field tables (connect-apis.md §2-§4, model.md §9) --------------------

LABEL_PAIR = {1: ("name", "string"), 2: ("value", "string")}
LEVEL = {1: ("values[]", "int64")}
FLAMEGRAPH = {1: ("names[]", "string"), 2: ("levels[]", "msg", LEVEL),
              3: ("total", "int64"), 4: ("max_self", "int64")}
FLAMEGRAPH_DIFF = {**FLAMEGRAPH, 5: ("leftTicks", "int64"), 6: ("rightTicks", "int64")}
SMS_RESPONSE = {1: ("flamegraph", "msg", FLAMEGRAPH), 2: ("tree", "bytes"), 3: ("dot", "string"),
                5: ("pprof", "msg", {1: ("profile", "bytes")})}
PROFILE_TYPE = {1: ("ID", "string"), 2: ("name", "string"), 4: ("sample_type", "string"),
                5: ("sample_unit", "string"), 6: ("period_type", "string"), 7: ("period_unit", "string")}
PROFILE_TYPES_RESPONSE = {1: ("profile_types[]", "msg", PROFILE_TYPE)}
NAMES_RESPONSE = {1: ("names[]", "string")}
SERIES_RESPONSE = {2: ("labels_set[]", "msg", {1: ("labels[]", "msg", LABEL_PAIR)})}
POINT = {1: ("value", "double"), 2: ("timestamp", "int64")}
SELECT_SERIES_RESPONSE = {1: ("series[]", "msg", {1: ("labels[]", "msg", LABEL_PAIR),
                                                  2: ("points[]", "msg", POINT)})}
DIFF_RESPONSE = {1: ("flamegraph", "msg", FLAMEGRAPH_DIFF)}
STATS_RESPONSE = {1: ("data_ingested", "bool"), 2: ("oldest_profile_time", "int64"),
                  3: ("newest_profile_time", "int64")}


# ---- request encoders -----------------------------------------------------

def enc_labels(field_no, labels):
    return b"".join(pb_msg(field_no, pb_bytes(1, n), pb_bytes(2, v)) for n, v in labels)


def enc_push(series):
    """series: [(labels [(name, value)], [raw pprof bytes, ...])]."""
    out = b""
    for labels, samples in series:
        body = enc_labels(1, labels)
        for i, raw in enumerate(samples):
            body += pb_msg(2, pb_bytes(1, raw), pb_bytes(2, "id-%d" % i))
        out += pb_msg(1, body)
    return out


def enc_query(ptype, sel, start, end, max_nodes=None, fmt=0, call_site=None):
    """SelectMergeStacktracesRequest (also the first fields of SelectMergeProfile)."""
    b = pb_bytes(1, ptype) + pb_bytes(2, sel) + pb_uint(3, start) + pb_uint(4, end)
    if max_nodes is not None:
        b += pb_uint(5, max_nodes)
    if fmt:
        b += pb_uint(6, fmt)
    if call_site:
        b += pb_msg(7, *[pb_msg(1, pb_bytes(1, n)) for n in call_site])
    return b


def fg_tree(fg):
    """{path: [total, self]} and root total of a FlameGraph (JSON or proto form)."""
    levels = [[int(x) for x in lv.get("values", [])] for lv in fg.get("levels", [])]
    return L.flamebearer_tree({"names": fg.get("names", []), "levels": levels})


class Base(L.HearthTestCase):

    def call(self, method, body, codec="json", expect=200, h=None, **kw):
        path = method if method.startswith("/") else Q + method
        r = L.connect_call(h or H, path, body, codec=codec, **kw)
        self.assertStatus(r, expect, "%s (%s)" % (path, codec))
        if expect == 200:
            want = "application/json" if codec == "json" else "application/proto"
            self.assertEqual(r.header("Content-Type"), want,
                             "%s: the answer's Content-Type must be the request codec" % path)
        return r

    def call_json(self, method, body, **kw):
        return json.loads(L.connect_body(self.call(method, body, "json", **kw)) or b"{}")

    def call_proto(self, method, body, schema, **kw):
        return L.pb_decode(L.connect_body(self.call(method, body, "proto", **kw)), schema)

    def assertConnectError(self, r, status, code, what, contains=None):
        self.assertStatus(r, status, what)
        self.assertTrue((r.header("Content-Type") or "").startswith("application/json"),
                        "%s: error bodies are JSON" % what)
        body = json.loads(r.body)
        self.assertEqual(body.get("code"), code, "%s: error code in %s" % (what, body))
        if contains:
            self.assertIn(contains, body.get("message", ""), "%s: message" % what)
        return body

    def push_json(self, labels, raws, h=None, tenant=None, expect=200):
        body = {"series": [{"labels": [{"name": n, "value": v} for n, v in labels],
                            "samples": [{"rawProfile": base64.b64encode(r).decode()} for r in raws]}]}
        return self.call(PUSH, body, "json", expect=expect, h=h, tenant=tenant)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def build(stacks, time_ms, sample_types=(("cpu", "nanoseconds"),)):
    """A pprof with folded stacks {"a;b": value or [values]} at time_ms."""
    b = L.PprofBuilder(sample_types=sample_types, time_nanos=time_ms * 1000000 + 123456)
    for folded, v in stacks.items():
        b.sample(b.stack(*folded.split(";")), v if isinstance(v, list) else [v])
    return b.encode_gz()


# ---------------------------------------------------------------------------
# One Push with every testdata pprof
# ---------------------------------------------------------------------------

class TestPushEveryTestdataPprof(Base):
    """Push every pprof of ../shared/testdata in one request, then query it back."""

    @classmethod
    def setUpClass(cls):
        cls.files = []      # (file name, service, Pprof, [TypeExpectation], (lo_ms, hi_ms), name)
        series = []
        now_ms = int(time.time() * 1000)
        for path in L.pprof_files():
            fname = os.path.basename(path)
            data = read(path)
            # The .NET agent's pprof needs the dotnetspy repairs (Push
            # tries them when a profile is refused as sent).
            p = L.decode_pprof(data, spy_name="dotnetspy" if "dotnet" in fname else None)
            name = L.profile_name([t for t, _u in p.sample_types])
            svc = "push-%s-%d" % (RUN, len(cls.files))
            t_ms = p.time_nanos // 1000000 if p.time_nanos > 0 else now_ms
            rng = (t_ms - 3600000, max(t_ms, now_ms) + 3600000)
            cls.files.append((fname, svc, p, L.expected_per_type(p), rng, name, [path]))
            labels = [("__name__", name), ("service_name", svc), ("run", RUN)]
            if name == "memory":
                # One cumulative heap profile: without __delta__="false"
                # its alloc_* types would only seed the server-side delta
                # (model.md §5, TestServerSideDelta) and store nothing.
                labels.append(("__delta__", "false"))
            series.append((labels, [data]))
        # Two CPU profiles as two samples of one series: the merged case.
        merged = [pth for pth in L.pprof_files() if os.path.basename(pth) in ("cpu.pb.gz", "cpu-exemplars.pb.gz")]
        cls.merged_svc = "merged-%s" % RUN
        cls.merged_paths = merged
        series.append(([("__name__", "process_cpu"), ("service_name", cls.merged_svc), ("run", RUN)],
                       [read(pth) for pth in merged]))
        body = enc_push(series)
        # Binary codec with a gzip'd body: what pyroscope-rs sends.
        cls.push_resp = L.connect_call(H, PUSH, body, codec="proto", gzip_body=True)

    def test_push_answers_empty_message(self):
        r = self.push_resp
        self.assertStatus(r, 200, "Push of every testdata pprof")
        self.assertEqual(r.header("Content-Type"), "application/proto")
        self.assertEqual(r.body, b"", "PushResponse has no fields: 0 bytes")

    def types(self):
        for fname, svc, p, exps, rng, name, _paths in self.files:
            pt, pu = p.period_type
            for i, e in enumerate(exps):
                if e.total == 0:
                    continue
                ptype = "%s:%s:%s:%s:%s" % (name, e.sample_type, e.sample_unit, pt, pu)
                yield fname, svc, ptype, e, rng, i

    def test_select_merge_stacktraces_equals_files_both_codecs(self):
        self.assertStatus(self.push_resp, 200, "Push")
        seen = set()
        for fname, svc, ptype, e, (lo, hi), _i in self.types():
            sel = '{service_name="%s"}' % svc
            what = "%s %s" % (fname, ptype)
            got = self.call_proto("SelectMergeStacktraces",
                                  enc_query(ptype, sel, lo, hi, MAX_NODES), SMS_RESPONSE)
            tree, total = fg_tree(got["flamegraph"])
            self.assertEqual(total, e.total, "%s: total" % what)
            self.assertEqual(got["flamegraph"].get("total", 0), e.total, "%s: FlameGraph.total" % what)
            self.assertEqual(tree, e.tree, "%s: call tree (expected vs got):\n%s" % (
                what, L.diff_dicts(e.tree, tree)))
            js = self.call_json("SelectMergeStacktraces", {
                "profileTypeID": ptype, "labelSelector": sel, "start": lo, "end": str(hi),
                "maxNodes": MAX_NODES})
            tree_j, total_j = fg_tree(js["flamegraph"])
            self.assertEqual((tree_j, total_j), (tree, total), "%s: JSON and binary answers differ" % what)
            self.assertEqual(js["flamegraph"]["total"], str(e.total), "%s: int64 as a JSON string" % what)
            seen.add(fname)
        self.assertEqual(seen, {f[0] for f in self.files}, "every file was checked")

    def test_render_agrees_with_select_merge_stacktraces(self):
        for fname, svc, ptype, e, (lo, hi), _i in self.types():
            sel = '{service_name="%s"}' % svc
            what = "%s %s" % (fname, ptype)
            got = self.call_proto("SelectMergeStacktraces",
                                  enc_query(ptype, sel, lo, hi, MAX_NODES), SMS_RESPONSE)
            tree, total = fg_tree(got["flamegraph"])
            fb = H.render(ptype + sel, lo, hi, maxNodes=MAX_NODES)
            rtree, rtotal = L.flamebearer_tree(fb["flamebearer"])
            self.assertEqual(fb["flamebearer"]["numTicks"], total, "%s: render numTicks" % what)
            self.assertEqual(rtree, tree, "%s: render and SelectMergeStacktraces differ:\n%s" % (
                what, L.diff_dicts(tree, rtree)))
            self.assertEqual(rtree, e.tree, "%s: render vs the file" % what)
            # Same names in the same order, same levels: one layout.
            self.assertEqual(fb["flamebearer"]["names"], got["flamegraph"]["names"], what)

    def select_merge_profile(self, ptype, sel, lo, hi, tmp, tag):
        r = self.call(Q + "SelectMergeProfile", enc_query(ptype, sel, lo, hi), "proto")
        path = os.path.join(tmp, "%s.pb" % tag)
        with open(path, "wb") as f:
            f.write(L.connect_body(r))
        return path

    def compare_pprof_top(self, ours, originals, sample_index, unit, what, tmp):
        got_flat, got_cum, got_total = L.go_pprof_top([ours], 0, unit, tmp)
        exp_flat, exp_cum, exp_total = L.go_pprof_top(originals, sample_index, unit, tmp)
        self.assertEqual(got_total, exp_total, "%s: go tool pprof total" % what)
        exp_flat = {k: v for k, v in exp_flat.items() if v}
        got_flat = {k: v for k, v in got_flat.items() if v}
        self.assertEqual(got_flat, exp_flat, "%s: flat per function (expected vs got):\n%s" % (
            what, L.diff_dicts(exp_flat, got_flat)))
        # cum of a name is comparable when the original has one function of
        # that name (several same-named functions are separate rows there).
        for name, cums in exp_cum.items():
            if len(cums) == 1:
                self.assertEqual(got_cum.get(name), cums, "%s: cum of %s" % (what, name))

    def test_select_merge_profile_read_by_go_tool_pprof(self):
        if shutil.which("go") is None:
            self.fail("go is not installed (scripts/install-deps.sh --test installs golang-go)")
        tmp = tempfile.mkdtemp(prefix="hearth-pprof-")
        try:
            n, seen = 0, set()
            for fname, svc, ptype, e, (lo, hi), i in self.types():
                sel = '{service_name="%s"}' % svc
                what = "%s %s" % (fname, ptype)
                ours = self.select_merge_profile(ptype, sel, lo, hi, tmp, "f%d" % n)
                unit = L.PPROF_UNITS.get(e.sample_unit)
                if "dotnet" in fname:
                    # go tool pprof refuses the original (function id 0):
                    # compare with the independent decoder instead.
                    flat, _cum, total = L.go_pprof_top([ours], 0, unit, tmp)
                    self.assertEqual(total, e.total, what)
                    self.assertEqual({k: v for k, v in flat.items() if v}, e.self_by_name, what)
                else:
                    path = [pth for pth in L.pprof_files() if os.path.basename(pth) == fname]
                    self.compare_pprof_top(ours, path, i, unit, what, tmp)
                n += 1
                seen.add(fname)
            # the merged series against both originals merged by pprof
            for i, (st, su) in enumerate((("samples", "count"), ("cpu", "nanoseconds"))):
                ptype = "process_cpu:%s:%s:cpu:nanoseconds" % (st, su)
                ours = self.select_merge_profile(ptype, '{service_name="%s"}' % self.merged_svc,
                                                 1, int(time.time() * 1000), tmp, "merged%d" % i)
                self.compare_pprof_top(ours, self.merged_paths, i, L.PPROF_UNITS[su],
                                       "merged %s" % ptype, tmp)
            self.assertEqual(seen, {f[0] for f in self.files}, "every file was checked")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_profile_types_lists_pushed_types(self):
        got = self.call_proto("ProfileTypes", pb_uint(1, 1) + pb_uint(2, int(time.time() * 1000) + 3600000),
                              PROFILE_TYPES_RESPONSE)
        ids = [t["ID"] for t in got["profile_types"]]
        self.assertEqual(ids, sorted(ids), "ProfileTypes sorted by ID")
        for _f, _s, ptype, _e, _r, _i in self.types():
            self.assertIn(ptype, ids)
        for t in got["profile_types"]:
            parts = t["ID"].split(":")
            self.assertEqual([t.get("name", ""), t.get("sample_type", ""), t.get("sample_unit", ""),
                              t.get("period_type", ""), t.get("period_unit", "")], parts, t["ID"])


# ---------------------------------------------------------------------------
# Worked examples and formats
# ---------------------------------------------------------------------------

T0 = (int(time.time()) // 15 - 400) * 15000   # a multiple of 15 s, ~100 min ago


class TestFlameGraphs(Base):

    @classmethod
    def setUpClass(cls):
        cls.svc = "fg-" + RUN
        base = [("__name__", "process_cpu"), ("service_name", cls.svc)]
        # connect-apis.md §4.3 worked example
        cls.example = build({"main;work;compute": 60, "main;work": 20, "main;idle": 10, "gc": 10}, T0 + 1000)
        # §4.4: left and right
        cls.left = build({"main;a": 10, "main;b": 5}, T0 + 2000)
        cls.right = build({"main;a": 4, "main;c": 6}, T0 + 2000)
        body = enc_push([(base + [("part", "example")], [cls.example]),
                         (base + [("part", "left")], [cls.left]),
                         (base + [("part", "right")], [cls.right])])
        r = L.connect_call(H, PUSH, body, codec="proto")
        assert r.status == 200, r.text()

    def sel(self, part):
        return '{service_name="%s",part="%s"}' % (self.svc, part)

    def test_worked_example_4_3_exact_json_original_names(self):
        # Drilldown mixes proto and JSON names; 64-bit numbers as numbers.
        got = self.call_json("SelectMergeStacktraces", {
            "profile_typeID": CPU, "label_selector": self.sel("example"),
            "start": T0, "end": T0 + 60000})
        fg = got["flamegraph"]
        self.assertEqual(fg["names"], ["total", "main", "work", "compute", "idle", "gc"])
        self.assertEqual(fg["levels"], [
            {"values": ["0", "100", "0", "0"]},
            {"values": ["0", "10", "10", "5", "0", "90", "0", "1"]},
            {"values": ["10", "10", "10", "4", "0", "80", "20", "2"]},
            {"values": ["40", "60", "60", "3"]}])
        self.assertEqual(fg["total"], "100")
        self.assertEqual(fg["maxSelf"], "60")

    def test_worked_example_4_3_exact_binary(self):
        got = self.call_proto("SelectMergeStacktraces",
                              enc_query(CPU, self.sel("example"), T0, T0 + 60000), SMS_RESPONSE)
        fg = got["flamegraph"]
        self.assertEqual(fg["names"], ["total", "main", "work", "compute", "idle", "gc"])
        self.assertEqual([lv.get("values", []) for lv in fg["levels"]],
                         [[0, 100, 0, 0], [0, 10, 10, 5, 0, 90, 0, 1], [10, 10, 10, 4, 0, 80, 20, 2],
                          [40, 60, 60, 3]])
        self.assertEqual((fg["total"], fg["max_self"]), (100, 60))

    def test_truncation_folds_into_other(self):
        # 3 nodes kept: main (90), work (80), compute (60); the rest folds.
        got = self.call_json("SelectMergeStacktraces", {
            "profileTypeID": CPU, "labelSelector": self.sel("example"),
            "start": T0, "end": T0 + 60000, "maxNodes": "3"})
        tree, total = fg_tree(got["flamegraph"])
        self.assertEqual(total, 100)
        self.assertEqual(tree, {("other",): [10, 10], ("main",): [90, 0], ("main", "work"): [80, 20],
                                ("main", "work", "compute"): [60, 60], ("main", "other"): [10, 10]})

    def test_empty_range_gives_root_only(self):
        got = self.call_json("SelectMergeStacktraces", {
            "profileTypeID": CPU, "labelSelector": self.sel("example"),
            "start": T0 - 600000, "end": T0 - 300000})
        self.assertEqual(got["flamegraph"], {"names": ["total"], "levels": [{"values": ["0", "0", "0", "0"]}]})

    def test_call_site_selector_drilldown_style(self):
        got = self.call_json("SelectMergeStacktraces", {
            "profile_typeID": CPU, "label_selector": self.sel("example"),
            "stackTraceSelector": {"call_site": [{"name": "main"}, {"name": "work"}]},
            "maxNodes": 100, "start": T0, "end": T0 + 60000})
        tree, total = fg_tree(got["flamegraph"])
        self.assertEqual(total, 80)
        self.assertEqual(tree, {("main",): [80, 0], ("main", "work"): [80, 20],
                                ("main", "work", "compute"): [60, 60]})

    def test_tree_format_bytes(self):
        got = self.call_proto("SelectMergeStacktraces",
                              enc_query(CPU, self.sel("left"), T0, T0 + 60000, fmt=2), SMS_RESPONSE)
        self.assertNotIn("flamegraph", got)
        # root "", 1 child; main self 0, 2 children; last child first: b, then a
        want = bytes([0, 0, 1, 4]) + b"main" + bytes([0, 2, 1]) + b"b" + bytes([5, 0, 1]) + b"a" + bytes([10, 0])
        self.assertEqual(got["tree"], want)

    def test_pprof_format(self):
        got = self.call_proto("SelectMergeStacktraces",
                              enc_query(CPU, self.sel("example"), T0, T0 + 60000, fmt=4), SMS_RESPONSE)
        p = L.decode_pprof(got["pprof"]["profile"])
        self.assertEqual(p.sample_types, [("cpu", "nanoseconds")])
        self.assertEqual(p.period_type, ("cpu", "nanoseconds"))
        tree = {}
        for s in p.samples:
            L.add_stack(tree, L.sample_frames(p, s), s.values[0])
        self.assertEqual(tree, L.expected_per_type(L.decode_pprof(self.example))[0].tree)

    def test_diff_worked_example_4_4_exact(self):
        body = {"left": {"profileTypeID": CPU, "labelSelector": self.sel("left"), "start": T0, "end": T0 + 60000},
                "right": {"profile_typeID": CPU, "label_selector": self.sel("right"),
                          "start": str(T0), "end": T0 + 60000}}
        fg = self.call_json("Diff", body)["flamegraph"]
        self.assertEqual(fg["names"], ["total", "main", "c", "b", "a"])
        self.assertEqual([[int(x) for x in lv["values"]] for lv in fg["levels"]], [
            [0, 15, 0, 0, 10, 0, 0],
            [0, 15, 0, 0, 10, 0, 1],
            [0, 10, 10, 0, 4, 4, 4, 0, 5, 5, 0, 0, 0, 3, 0, 0, 0, 0, 6, 6, 2]])
        self.assertEqual((fg["total"], fg["leftTicks"], fg["rightTicks"], fg["maxSelf"]),
                         ("25", "15", "10", "10"))
        # binary codec: the same numbers
        enc = pb_msg(1, enc_query(CPU, self.sel("left"), T0, T0 + 60000)) + \
            pb_msg(2, enc_query(CPU, self.sel("right"), T0, T0 + 60000))
        got = self.call_proto("Diff", enc, DIFF_RESPONSE)["flamegraph"]
        self.assertEqual((got["total"], got["leftTicks"], got["rightTicks"]), (25, 15, 10))
        self.assertEqual(got["levels"][2]["values"],
                         [0, 10, 10, 0, 4, 4, 4, 0, 5, 5, 0, 0, 0, 3, 0, 0, 0, 0, 6, 6, 2])

    def test_gzip_request_and_response(self):
        body = json.dumps({"profileTypeID": CPU, "labelSelector": self.sel("example"),
                           "start": T0, "end": T0 + 60000, "maxNodes": 4096}).encode()
        r = L.connect_call(H, Q + "SelectMergeStacktraces", body, gzip_body=True, accept_gzip=True)
        self.assertStatus(r, 200, "gzip'd JSON request")
        got = json.loads(L.connect_body(r))
        self.assertEqual(got["flamegraph"]["total"], "100")
        # big enough to be compressed when the client offers gzip
        r = L.connect_call(H, Q + "ProfileTypes", {"start": 1, "end": int(time.time() * 1000)},
                           accept_gzip=True)
        self.assertStatus(r, 200, "ProfileTypes with Accept-Encoding: gzip")
        if len(L.connect_body(r)) > 1024:
            self.assertEqual(r.header("Content-Encoding"), "gzip")
        json.loads(L.connect_body(r))


# ---------------------------------------------------------------------------
# SelectSeries, render timeline, labels, Series, GetProfileStats
# ---------------------------------------------------------------------------

class TestSeriesAndLabels(Base):
    """Profiles at known times: start T0, step 15 s, anchors T0-15 s, T0, T0+15 s, ...

    A profile at t lands on the first anchor >= t (the bucket's right edge):
      T0        pod b  5  -> T0
      T0+1 s    pod a 10  -> T0+15 s
      T0+5 s    pod b 20  -> T0+15 s
      T0+20 s   pod a 40  -> T0+30 s
    """

    @classmethod
    def setUpClass(cls):
        cls.svc = "ser-" + RUN
        base = [("__name__", "process_cpu"), ("service_name", cls.svc)]
        plan = [(0, "b", 5), (1000, "a", 10), (5000, "b", 20), (20000, "a", 40)]
        series = []
        for off, pod, v in plan:
            series.append((base + [("pod", pod), ("process.runtime.name", "go")],
                           [build({"main;work": v}, T0 + off)]))
        # The first profile sits exactly at T0: its time must not carry
        # sub-millisecond parts that move it past the anchor.
        b = L.PprofBuilder(time_nanos=T0 * 1000000)
        b.sample(b.stack("main", "work"), [5])
        series[0] = (series[0][0], [b.encode_gz()])
        r = L.connect_call(H, PUSH, enc_push(series), codec="proto")
        assert r.status == 200, r.text()
        cls.sel = '{service_name="%s"}' % cls.svc

    def series(self, body_extra, codec="json"):
        body = {"profileTypeID": CPU, "labelSelector": self.sel, "start": T0, "end": T0 + 60000, "step": 15}
        body.update(body_extra)
        if codec == "json":
            got = self.call_json("SelectSeries", body)
            return [({l["name"]: l["value"] for l in s.get("labels", [])},
                     [(int(p["timestamp"]), p["value"]) for p in s.get("points", [])])
                    for s in got.get("series", [])]
        enc = pb_bytes(1, CPU) + pb_bytes(2, self.sel) + pb_uint(3, T0) + pb_uint(4, T0 + 60000) + \
            b"".join(pb_bytes(5, g) for g in body.get("groupBy", [])) + pb_double(6, body["step"])
        if "aggregation" in body:
            enc += pb_uint(7, body["aggregation"])
        if "limit" in body:
            enc += pb_uint(9, body["limit"])
        got = self.call_proto("SelectSeries", enc, SELECT_SERIES_RESPONSE)
        return [({l["name"]: l["value"] for l in s.get("labels", [])},
                 [(p.get("timestamp", 0), p.get("value", 0.0)) for p in s.get("points", [])])
                for s in got.get("series", [])]

    def test_buckets_right_edge_both_codecs(self):
        want = [({}, [(T0, 5), (T0 + 15000, 30), (T0 + 30000, 40)])]
        self.assertEqual(self.series({}), want)
        self.assertEqual(self.series({}, codec="proto"), want)

    def test_group_by_and_average_and_limit(self):
        self.assertEqual(self.series({"groupBy": ["pod"]}), [
            ({"pod": "a"}, [(T0 + 15000, 10), (T0 + 30000, 40)]),
            ({"pod": "b"}, [(T0, 5), (T0 + 15000, 20)])])
        self.assertEqual(self.series({"aggregation": "TIME_SERIES_AGGREGATION_TYPE_AVERAGE"}),
                         [({}, [(T0, 5), (T0 + 15000, 15), (T0 + 30000, 40)])])
        self.assertEqual(self.series({"aggregation": 1}, codec="proto"),
                         [({}, [(T0, 5), (T0 + 15000, 15), (T0 + 30000, 40)])])
        self.assertEqual(self.series({"groupBy": ["pod"], "limit": 1}, codec="proto"),
                         [({"pod": "a"}, [(T0 + 15000, 10), (T0 + 30000, 40)])])
        # a group-by label nobody has: one series without labels
        self.assertEqual(self.series({"groupBy": ["nope"]}),
                         [({}, [(T0, 5), (T0 + 15000, 30), (T0 + 30000, 40)])])

    def test_render_timeline_equals_select_series(self):
        fb = H.render(CPU + self.sel, T0, T0 + 60000)
        tl = fb["timeline"]
        self.assertEqual(tl["durationDelta"], 15)
        self.assertEqual(tl["startTime"], T0 // 1000)
        pts = dict(self.series({})[0][1])
        want = [pts.get(T0 + 15000 * k, 0) for k in range(4)]
        self.assertEqual(tl["samples"], want)
        groups = H.render(CPU + self.sel, T0, T0 + 60000, groupBy="pod")["groups"]
        for labels, points in self.series({"groupBy": ["pod"]}):
            pts = dict(points)
            self.assertEqual(groups[labels["pod"]]["samples"], [pts.get(T0 + 15000 * k, 0) for k in range(4)])

    def test_label_names_values_and_utf8_names(self):
        body = {"matchers": [self.sel], "start": T0, "end": T0 + 60000}
        names = self.call_json("LabelNames", body)["names"]
        self.assertEqual(names, sorted(set(names)))
        for n in ("__name__", "__profile_type__", "pod", "service_name"):
            self.assertIn(n, names)
        self.assertNotIn("process.runtime.name", names, "non-legacy names are hidden by default")
        names = self.call_json("LabelNames", body, headers={
            "Accept": "application/json; allow-utf8-labelnames=true"})["names"]
        self.assertIn("process.runtime.name", names)
        vals = self.call_json("LabelValues", dict(body, name="pod"))["names"]
        self.assertEqual(vals, ["a", "b"])
        enc = pb_bytes(1, "pod") + pb_bytes(2, self.sel) + pb_uint(3, T0) + pb_uint(4, T0 + 60000)
        self.assertEqual(self.call_proto("LabelValues", enc, NAMES_RESPONSE)["names"], ["a", "b"])
        # matchers are a union
        two = dict(body, name="pod", matchers=[self.sel + "", '{service_name="%s",pod="a"}' % self.svc])
        self.assertEqual(self.call_json("LabelValues", two)["names"], ["a", "b"])

    def test_series_label_sets(self):
        got = self.call_json("Series", {"matchers": [self.sel], "labelNames": ["service_name", "pod"],
                                        "start": T0, "end": T0 + 60000})
        sets = [[(l["name"], l["value"]) for l in s["labels"]] for s in got["labelsSet"]]
        self.assertEqual(sets, [[("pod", "a"), ("service_name", self.svc)],
                                [("pod", "b"), ("service_name", self.svc)]])
        enc = pb_bytes(1, self.sel) + pb_bytes(2, "__profile_type__") + pb_uint(3, T0) + pb_uint(4, T0 + 60000)
        got = self.call_proto("Series", enc, SERIES_RESPONSE)
        self.assertEqual([[(l["name"], l["value"]) for l in s["labels"]] for s in got["labels_set"]],
                         [[("__profile_type__", CPU)]])


class TestProfileStats(Base):

    def test_oldest_and_newest_per_tenant(self):
        tenant = "stats-" + RUN
        t1, t2 = T0 + 1234, T0 + 98765
        for t in (t1, t2):
            self.push_json([("__name__", "process_cpu"), ("service_name", "s")],
                           [build({"main": 7}, t)], h=HMT, tenant=tenant)
        got = self.call_json("GetProfileStats", {}, h=HMT, tenant=tenant)
        self.assertEqual(got, {"dataIngested": True, "oldestProfileTime": str(t1),
                               "newestProfileTime": str(t2)})
        got = self.call_proto("GetProfileStats", b"", STATS_RESPONSE, h=HMT, tenant=tenant)
        self.assertEqual(got, {"data_ingested": True, "oldest_profile_time": t1, "newest_profile_time": t2})
        # A tenant without data: every field at its default, omitted.
        self.assertEqual(self.call_json("GetProfileStats", {}, h=HMT, tenant="empty-" + RUN), {})


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

class TestErrors(Base):

    def test_bad_selector_is_invalid_argument(self):
        r = L.connect_call(H, Q + "SelectMergeStacktraces", {
            "profileTypeID": CPU, "labelSelector": "{service_name=}", "start": 1, "end": 2})
        self.assertConnectError(r, 400, "invalid_argument", "bad selector", "label_selector")
        r = L.connect_call(H, Q + "LabelNames", pb_bytes(1, "{a=~\"(\"}") + pb_uint(2, 1) + pb_uint(3, 2),
                           codec="proto")
        self.assertConnectError(r, 400, "invalid_argument", "bad matcher regex", "matchers[0]")

    def test_unknown_method_is_unimplemented(self):
        for path in (Q + "NoSuchMethod", Q + "SelectHeatmap", "/push.v1.PusherService/Nope"):
            r = L.connect_call(H, path, {})
            self.assertConnectError(r, 501, "unimplemented", path)
        # The heatmap says why (its bucketing is not specified), in both codecs.
        for codec in ("json", "proto"):
            r = L.connect_call(H, Q + "SelectHeatmap", {} if codec == "json" else b"", codec=codec)
            self.assertConnectError(r, 501, "unimplemented", "SelectHeatmap " + codec, "bucket")

    def test_settings_set_get_delete(self):
        # Profiles Drilldown keeps its preferences here (connect-apis.md §5).
        S = "/settings.v1.SettingsService/"
        name = L.unique("pluginSettings")

        def listed(h=None, **kw):
            got = self.call_json(S + "Get", {}, h=h, **kw).get("settings", [])
            return {x["name"]: x for x in got}

        self.assertNotIn(name, listed())
        # Without modifiedAt the server's clock stamps it (ms, a JSON string),
        # or just after the newest version stored when that is ahead.
        before = int(time.time() * 1000)
        r = self.call_json(S + "Set", {"setting": {"name": name, "value": '{"maxNodes":128}'}})
        self.assertEqual((r["setting"]["name"], r["setting"]["value"]), (name, '{"maxNodes":128}'))
        self.assertGreaterEqual(int(r["setting"]["modifiedAt"]), before)
        self.assertEqual(listed()[name], r["setting"])
        # The binary codec; the client's own modifiedAt is kept; a write
        # older than what is stored changes nothing and answers the stored.
        t = int(r["setting"]["modifiedAt"]) + 1000
        body = pb_msg(1, pb_bytes(1, name), pb_bytes(2, "v2"), pb_uint(3, t))
        self.call(S + "Set", body, "proto")
        self.assertEqual(listed()[name], {"name": name, "value": "v2", "modifiedAt": str(t)})
        r = self.call_json(S + "Set", {"setting": {"name": name, "value": "stale", "modifiedAt": str(t - 1)}})
        self.assertEqual(r["setting"]["value"], "v2")
        # Delete: gone from Get; a write dated before the delete is refused.
        self.assertEqual(self.call_json(S + "Delete", {"name": name}), {})
        self.assertNotIn(name, listed())
        r = L.connect_call(H, S + "Set", {"setting": {"name": name, "value": "x", "modifiedAt": str(t)}})
        self.assertConnectError(r, 409, "aborted", "write older than the delete", "deleted after")
        r = self.call_json(S + "Set", {"setting": {"name": name, "value": "back"}})
        self.assertEqual(listed()[name]["value"], "back")
        self.assertEqual(int(r["setting"]["modifiedAt"]), t + 2)   # delete at t + 1
        # Bad requests name the problem.
        for body, why in (({}, "without a setting"), ({"setting": {"name": "", "value": "x"}}, "needs a name"),
                          ({"setting": {"name": "a\tb", "value": "x"}}, "control character"),
                          ({"setting": {"name": "n" * 257, "value": "x"}}, "at most 256")):
            self.assertConnectError(L.connect_call(H, S + "Set", body), 400, "invalid_argument", why, why)
        r = L.connect_call(H, S + "Set", {"setting": {"name": "big", "value": "v" * (64 * 1024)}})
        self.assertConnectError(r, 400, "invalid_argument", "setting too large", "at most 65536")
        # Per tenant: another tenant sees none of them; a|b is refused.
        self.call_json(S + "Set", {"setting": {"name": name, "value": "team-a"}}, h=HMT, tenant="team-a")
        self.assertEqual(listed(h=HMT, tenant="team-a")[name]["value"], "team-a")
        self.assertNotIn(name, listed(h=HMT, tenant="team-b"))
        r = L.connect_call(HMT, S + "Get", {}, tenant="team-a|team-b")
        self.assertConnectError(r, 400, "invalid_argument", "a|b", "one tenant")
        self.assertConnectError(L.connect_call(HMT, S + "Get", {}), 401, "unauthenticated", "no tenant")

    def test_settings_survive_a_restart(self):
        data = tempfile.mkdtemp(prefix="hearth-settings-")
        try:
            with L.HearthProcess(name="hearth-settings", data_dir=data) as h:
                self.call("/settings.v1.SettingsService/Set",
                          {"setting": {"name": "keep", "value": "me", "modifiedAt": "42"}}, h=h)
            with L.HearthProcess(name="hearth-settings-2", data_dir=data) as h:
                got = self.call_json("/settings.v1.SettingsService/Get", {}, h=h)
                self.assertEqual(got, {"settings": [{"name": "keep", "value": "me", "modifiedAt": "42"}]})
        finally:
            shutil.rmtree(data, ignore_errors=True)

    def test_version_and_feature_flags(self):
        # connect-apis.md §5: the querier API version (1, querier.v1) and no
        # optional features, in both codecs (uint64 is a JSON string).
        self.assertEqual(self.call_json("/version.v1.Version/Version", {}), {"QuerierAPI": "1"})
        self.assertEqual(L.connect_body(self.call("/version.v1.Version/Version", b"", "proto")),
                         pb_uint(1, 1))
        path = "/capabilities.v1.FeatureFlagsService/GetFeatureFlags"
        self.assertEqual(self.call_json(path, {}), {})
        self.assertEqual(L.connect_body(self.call(path, b"", "proto")), b"")
        # Like every read, they need the tenant when multitenancy is on.
        for p in ("/version.v1.Version/Version", path):
            self.assertConnectError(L.connect_call(HMT, p, {}), 401, "unauthenticated", p)

    def test_missing_tenant_with_multitenancy_is_unauthenticated(self):
        for path in (Q + "LabelNames", Q + "SelectMergeStacktraces", PUSH):
            r = L.connect_call(HMT, path, {"start": 1, "end": 2})
            self.assertConnectError(r, 401, "unauthenticated", path)
        r = L.connect_call(HMT, Q + "LabelNames", {"start": 1, "end": 2}, tenant="a b")
        self.assertConnectError(r, 400, "invalid_argument", "invalid tenant")

    def test_protocol_errors(self):
        r = H.post(Q + "LabelNames", body=b"{}", headers={"Content-Type": "text/plain"})
        self.assertStatus(r, 415, "text/plain body")
        self.assertIn("application/proto", r.header("Accept-Post") or "")
        r = H.get(Q + "LabelNames")
        self.assertStatus(r, 405, "GET on a Connect method")
        self.assertIn("POST", r.header("Allow") or "")
        r = L.connect_call(H, Q + "LabelNames", b"\x0a\xff", codec="proto")
        self.assertConnectError(r, 400, "invalid_argument", "malformed protobuf", "malformed protobuf")
        r = L.connect_call(H, Q + "LabelNames", "{\"start\":", codec="json")
        self.assertConnectError(r, 400, "invalid_argument", "malformed JSON", "json: ")
        r = L.connect_call(H, Q + "LabelNames", {}, headers={"Content-Encoding": "br"})
        self.assertConnectError(r, 501, "unimplemented", "unsupported compression", "br")
        # JSON with charset is the JSON codec; Connect-Protocol-Version not required
        r = L.connect_call(H, Q + "ProfileTypes", {}, headers={
            "Content-Type": "application/json; charset=utf-8", "Connect-Protocol-Version": "1"})
        self.assertStatus(r, 200, "charset parameter")

    def test_query_validation(self):
        cases = [
            ({"profileTypeID": CPU, "labelSelector": "{}"}, "missing time range"),
            ({"profileTypeID": CPU, "labelSelector": "{}", "start": 5, "end": 2}, "after"),
            ({"profileTypeID": "cpu:nanoseconds", "labelSelector": "{}", "start": 1, "end": 2}, "5 parts"),
            ({"profileTypeID": CPU, "labelSelector": "{}", "start": 1, "end": 2, "maxNodes": -1}, "max_nodes"),
        ]
        for body, msg in cases:
            r = L.connect_call(H, Q + "SelectMergeStacktraces", body)
            self.assertConnectError(r, 400, "invalid_argument", json.dumps(body), msg)
        r = L.connect_call(H, Q + "SelectSeries", {"profileTypeID": CPU, "labelSelector": "{}",
                                                  "start": 1, "end": 2, "step": 0.0001})
        self.assertConnectError(r, 400, "invalid_argument", "tiny step", "step")
        # Span selectors are served (tests/integration/test_spans.py); a
        # malformed span id is invalid_argument, trace ids unimplemented.
        r = L.connect_call(H, Q + "SelectMergeStacktraces", {
            "profileTypeID": CPU, "labelSelector": "{}", "start": 1, "end": 2, "spanSelector": ["0123456789abcdef"]})
        self.assertStatus(r, 200, "span selector")
        r = L.connect_call(H, Q + "SelectMergeStacktraces", {
            "profileTypeID": CPU, "labelSelector": "{}", "start": 1, "end": 2, "spanSelector": ["0123"]})
        self.assertConnectError(r, 400, "invalid_argument", "short span id", "span_selector[0]")
        r = L.connect_call(H, Q + "SelectMergeStacktraces", {
            "profileTypeID": CPU, "labelSelector": "{}", "start": 1, "end": 2,
            "traceIdSelector": ["0123456789abcdef0123456789abcdef"]})
        self.assertConnectError(r, 501, "unimplemented", "trace selector", "trace_id_selector")

    def test_push_validation(self):
        r = L.connect_call(H, PUSH, {"series": []})
        self.assertConnectError(r, 400, "invalid_argument", "empty push", "no profiles received")
        ok = build({"main": 1}, int(time.time() * 1000))
        r = self.push_json([("service_name", "x")], [ok], expect=400)
        self.assertConnectError(r, 400, "invalid_argument", "no __name__", "__name__")
        r = self.push_json([("__name__", "process_cpu")], [b"not a pprof"], expect=400)
        self.assertConnectError(r, 400, "invalid_argument", "bad pprof", "series 0 sample 0")
        r = L.connect_call(H, PUSH, {"series": [{"labels": [{"name": "__name__", "value": "process_cpu"}],
                                                 "samples": [{"rawProfile": "***"}]}]})
        self.assertConnectError(r, 400, "invalid_argument", "bad base64", "base64")

    def test_push_defaults_service_name_and_drops_control_labels(self):
        svc_less = [("__name__", "process_cpu"), ("__delta__", "false"), ("marker", RUN)]
        now = int(time.time() * 1000)
        self.push_json(svc_less, [build({"main;x": 3}, now)])
        vals = self.call_json("LabelValues", {"name": "service_name", "matchers": ['{marker="%s"}' % RUN],
                                              "start": now - 60000, "end": now + 60000})["names"]
        self.assertEqual(vals, ["unknown_service"])
        names = self.call_json("LabelNames", {"matchers": ['{marker="%s"}' % RUN],
                                              "start": now - 60000, "end": now + 60000})["names"]
        self.assertNotIn("__delta__", names)



# ---------------------------------------------------------------------------
# Server-side delta of cumulative allocation profiles (model.md §5)
# ---------------------------------------------------------------------------

MEM_TYPES = (("alloc_objects", "count"), ("alloc_space", "bytes"),
             ("inuse_objects", "count"), ("inuse_space", "bytes"))
TD = T0 + 30 * 60000     # 15 s aligned, away from the other classes' times
ALLOC = ("alloc_objects", "alloc_space")


def mem_ptype(sample_type, unit):
    return "memory:%s:%s:space:bytes" % (sample_type, unit)


def mem_pprof(stacks, time_ms):
    """A Go-heap-like pprof: {"main;a": [alloc_objects, alloc_space, inuse_objects, inuse_space]}."""
    b = L.PprofBuilder(sample_types=MEM_TYPES, period_type=("space", "bytes"), period=524288,
                       time_nanos=time_ms * 1000000)
    for folded, v in stacks.items():
        b.sample(b.stack(*folded.split(";")), v)
    return b.encode_gz()


class TestServerSideDelta(Base):
    """Cumulative memory profiles through Push: alloc_* stored as differences.

    Values are [alloc_objects, alloc_space, inuse_objects, inuse_space],
    cumulative for alloc_* (what a Go heap profile holds), one Push each,
    15 s apart:
      TD        main;a [1, 100, 1, 100]   main;b [2, 200, 2, 200]
      TD+15 s   main;a [3, 300, 1,  50]   main;b [2, 200, 5, 500]
      TD+30 s   main;a [4, 400, 7, 700]   main;b [6, 600, 1,  10]
    alloc_*: the first profile only seeds the series' state (not stored);
    then a: 2 / 200, b: nothing (unchanged); then a: 1 / 100, b: 4 / 400.
    inuse_* are gauges: every profile stored as sent. With
    __delta__="false" (and for godeltaprof_memory, which upstream marks so)
    nothing is subtracted. A counter reset (the process restarted, values
    went down) re-seeds: that profile is not stored.
    """

    PUSHES = [{"main;a": [1, 100, 1, 100], "main;b": [2, 200, 2, 200]},
              {"main;a": [3, 300, 1, 50], "main;b": [2, 200, 5, 500]},
              {"main;a": [4, 400, 7, 700], "main;b": [6, 600, 1, 10]}]

    @classmethod
    def push_series(cls, labels, pushes):
        for i, stacks in enumerate(pushes):
            body = enc_push([(labels, [mem_pprof(stacks, TD + 15000 * i)])])
            r = L.connect_call(H, PUSH, body, codec="proto")
            assert r.status == 200, r.text()

    @classmethod
    def setUpClass(cls):
        cls.svc = "delta-" + RUN
        cls.svc_off = "delta-off-" + RUN
        cls.svc_go = "delta-go-" + RUN
        cls.svc_reset = "delta-reset-" + RUN
        cls.seeded_before = H.metric("hearth_ingester_delta_profiles_total", result="seeded") or 0
        cls.push_series([("__name__", "memory"), ("service_name", cls.svc)], cls.PUSHES)
        cls.push_series([("__name__", "memory"), ("service_name", cls.svc_off), ("__delta__", "false")],
                        cls.PUSHES)
        cls.push_series([("__name__", "godeltaprof_memory"), ("service_name", cls.svc_go)], cls.PUSHES)
        cls.push_series([("__name__", "memory"), ("service_name", cls.svc_reset)], [
            {"main;a": [10, 1000, 1, 1]},
            {"main;a": [12, 1200, 1, 1]},
            {"main;a": [3, 300, 1, 1]},       # restarted: lower than remembered
            {"main;a": [5, 500, 1, 1]}])

    def leaves(self, ptype, svc):
        """{leaf: self} of SelectMergeStacktraces over the pushes, and the total."""
        got = self.call_json("SelectMergeStacktraces", {
            "profileTypeID": ptype, "labelSelector": '{service_name="%s"}' % svc,
            "start": TD - 60000, "end": TD + 120000, "maxNodes": MAX_NODES})
        tree, total = fg_tree(got["flamegraph"])
        return {path[-1]: v[1] for path, v in tree.items() if v[1]}, total

    def points(self, ptype, svc):
        got = self.call_json("SelectSeries", {
            "profileTypeID": ptype, "labelSelector": '{service_name="%s"}' % svc,
            "start": TD, "end": TD + 120000, "step": 15})
        return [(int(p["timestamp"]), p["value"]) for s in got.get("series", []) for p in s.get("points", [])]

    def test_alloc_types_store_exactly_the_deltas(self):
        for i, (st, unit) in enumerate(MEM_TYPES[:2]):
            ptype = mem_ptype(st, unit)
            scale = 1 if i == 0 else 100
            self.assertEqual(self.leaves(ptype, self.svc), ({"a": 3 * scale, "b": 4 * scale}, 7 * scale),
                             "%s: differences of pushes 2 and 3 only" % st)
            self.assertEqual(self.points(ptype, self.svc),
                             [(TD + 15000, 2 * scale), (TD + 30000, 5 * scale)],
                             "%s: the first push seeds and is not stored" % st)

    def test_inuse_types_store_every_push(self):
        for i, (st, unit) in enumerate(MEM_TYPES[2:]):
            ptype = mem_ptype(st, unit)
            want = {k: sum(p["main;" + k][2 + i] for p in self.PUSHES) for k in ("a", "b")}
            got, total = self.leaves(ptype, self.svc)
            self.assertEqual(got, want, st)
            self.assertEqual(total, sum(want.values()), st)
            self.assertEqual([t for t, _v in self.points(ptype, self.svc)],
                             [TD, TD + 15000, TD + 30000], "%s: every push is a point" % st)

    def test_delta_false_and_godeltaprof_subtract_nothing(self):
        for svc in (self.svc_off, self.svc_go):
            for i, (st, unit) in enumerate(MEM_TYPES):
                want = {k: sum(p["main;" + k][i] for p in self.PUSHES) for k in ("a", "b")}
                self.assertEqual(self.leaves(mem_ptype(st, unit), svc), (want, sum(want.values())),
                                 "%s %s: stored as sent" % (svc, st))
        names = self.call_json("LabelValues", {"name": "__name_replaced__",
                                               "matchers": ['{service_name="%s"}' % self.svc_go],
                                               "start": TD - 60000, "end": TD + 120000})["names"]
        self.assertEqual(names, ["godeltaprof_memory"])

    def test_counter_reset_reseeds_and_is_not_stored(self):
        self.assertEqual(self.points(mem_ptype("alloc_objects", "count"), self.svc_reset),
                         [(TD + 15000, 2), (TD + 45000, 2)])
        self.assertEqual(self.leaves(mem_ptype("alloc_space", "bytes"), self.svc_reset), ({"a": 400}, 400))
        self.assertEqual(len(self.points(mem_ptype("inuse_space", "bytes"), self.svc_reset)), 4)

    def test_delta_metrics(self):
        seeded = H.metric("hearth_ingester_delta_profiles_total", result="seeded")
        # two alloc types of svc and of svc_reset seed once each
        self.assertGreaterEqual(seeded - self.seeded_before, 4)
        self.assertGreaterEqual(H.metric("hearth_ingester_delta_profiles_total", result="reset"), 2)
        self.assertGreaterEqual(H.metric("hearth_ingester_delta_series"), 4)
        self.assertGreater(H.metric("hearth_ingester_delta_bytes"), 0)

if __name__ == "__main__":
    L.run_tests()
