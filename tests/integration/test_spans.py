#!/usr/bin/env python3
"""Span profiles (traces to profiles): SelectMergeSpanProfile and span_selector.

The shared testdata cpu-exemplars.pb.gz is a Go CPU profile whose samples
carry a `profile_id` pprof label (a span id, e.g. f9666c0d6bffec33 = 40 ms;
`go tool pprof -tags` lists them). It is pushed (Connect Push, binary
codec) into one service together with cpu.pb.gz, which has no span labels.
The expected flame graph of any set of span ids is computed here from the
file alone (hearth_test_lib's independent pprof decoder: the samples whose
profile_id is one of the ids), and every check is repeated in four states
of one data directory:

  1. head      the profiles were just pushed;
  2. wal       after SIGKILL and a restart: the head rebuilt from the WAL;
  3. block     after SIGTERM (the head is flushed to a block) and a restart
               with an empty WAL: the answers come from the block;
  4. compacted a later profile makes the old 2-hour window complete, the
               block is compacted into a level-1 block (with rollups, which
               span queries must not use).

Checks: SelectMergeSpanProfile with one id and with several (JSON and
binary codecs) equals the file's samples of those spans; SelectMergeStack-
traces with span_selector gives the same; without a selector the flame
graph still holds every sample (spans change no total); an unknown span
gives the empty graph; a malformed span id, more than 1000 ids, and span +
trace selectors are 400 invalid_argument; a trace selector alone is 501
unimplemented.
"""

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402
from hearth_test_lib import pb_bytes, pb_msg, pb_uint  # noqa: E402

RUN = L.unique("sp")
SVC = "spans-%s" % RUN
CPU = L.CPU_TYPE
Q = "/querier.v1.QuerierService/"
PUSH = "/push.v1.PusherService/Push"
MAX_NODES = 1048576
COMMON = ["-limits.retention-period=0"]
SLOW_CUTS = COMMON + ["-ingester.block-duration=1h"]
FAST_CUTS = COMMON + ["-ingester.block-duration=2s", "-ingester.compaction-interval=1s"]
ONE = "f9666c0d6bffec33"          # 40 ms in the file
UNKNOWN = "0123456789abcdef"      # no sample has it

LEVEL = {1: ("values[]", "int64")}
FLAMEGRAPH = {1: ("names[]", "string"), 2: ("levels[]", "msg", LEVEL),
              3: ("total", "int64"), 4: ("max_self", "int64")}
SPAN_RESPONSE = {1: ("flamegraph", "msg", FLAMEGRAPH), 2: ("tree", "bytes")}


def read(path):
    with open(path, "rb") as f:
        return f.read()


def testdata(name):
    return os.path.join(L.testdata_dir(), "pprof", name)


class Expect:
    """Per span id: the file's CPU (nanoseconds) samples as {path: [total, self]}."""

    def __init__(self):
        self.raw = read(testdata("cpu-exemplars.pb.gz"))
        self.plain = read(testdata("cpu.pb.gz"))
        p = L.decode_pprof(self.raw)
        q = L.decode_pprof(self.plain)
        self.t_ms = p.time_nanos // 1000000
        ti = [t for t, _u in p.sample_types].index("cpu")
        self.samples = {}             # span -> [(frames, value)]
        for s in p.samples:
            if not L.sample_kept(s) or s.values[ti] == 0:
                continue
            for k, sv, _n, _u in s.labels:
                if p.strings[k] in ("profile_id", "span_id") and sv != 0:
                    self.samples.setdefault(p.strings[sv], []).append(
                        (L.sample_frames(p, s), s.values[ti]))
        self.spans = sorted(self.samples)
        # Everything (no span selector): both files' CPU samples.
        self.all_tree = {}
        self.all_total = 0
        for pp in (p, q):
            i = [t for t, _u in pp.sample_types].index("cpu")
            for s in pp.samples:
                if L.sample_kept(s) and s.values[i] != 0:
                    L.add_stack(self.all_tree, L.sample_frames(pp, s), s.values[i])
                    self.all_total += s.values[i]
        lo = min(self.t_ms, q.time_nanos // 1000000)
        hi = max(self.t_ms, q.time_nanos // 1000000)
        self.range = (lo - 3600000, hi + 3600000)

    def tree(self, spans):
        tree, total = {}, 0
        for sp in spans:
            for frames, v in self.samples.get(sp, []):
                L.add_stack(tree, frames, v)
                total += v
        return tree, total


E = None


class S:
    data_dir = None
    proc = None


def setUpModule():
    global E
    E = Expect()
    S.data_dir = tempfile.mkdtemp(prefix="hearth-spans-")


def tearDownModule():
    if S.proc is not None:
        try:
            S.proc.stop_checked()
        finally:
            S.proc.cleanup()
    if S.data_dir and os.environ.get("HEARTH_KEEP_TMP") != "1":
        shutil.rmtree(S.data_dir, ignore_errors=True)


def start(flags, name):
    S.proc = L.HearthProcess(name=name, flags=flags, data_dir=S.data_dir).start()
    L.HearthTestCase.hearth = S.proc
    return S.proc


def enc_push(series):
    """PushRequest: series [(labels, [raw pprof, ...])] (connect-apis.md push.v1)."""
    out = b""
    for labels, raws in series:
        body = b"".join(pb_msg(1, pb_bytes(1, n), pb_bytes(2, v)) for n, v in labels)
        for i, raw in enumerate(raws):
            body += pb_msg(2, pb_bytes(1, raw), pb_bytes(2, "id-%d" % i))
        out += pb_msg(1, body)
    return out


def enc_span_query(spans, lo, hi, fmt=0):
    """SelectMergeSpanProfileRequest: type 1, selector 2, spans 3, start 4, end 5,
    max_nodes 6, format 7."""
    b = pb_bytes(1, CPU) + pb_bytes(2, '{service_name="%s"}' % SVC)
    for s in spans:
        b += pb_bytes(3, s)
    b += pb_uint(4, lo) + pb_uint(5, hi) + pb_uint(6, MAX_NODES)
    if fmt:
        b += pb_uint(7, fmt)
    return b


def enc_stacktraces(lo, hi, spans=(), traces=()):
    """SelectMergeStacktracesRequest with span_selector 11 / trace_id_selector 10."""
    b = (pb_bytes(1, CPU) + pb_bytes(2, '{service_name="%s"}' % SVC) + pb_uint(3, lo) +
         pb_uint(4, hi) + pb_uint(5, MAX_NODES))
    for t in traces:
        b += pb_bytes(10, t)
    for s in spans:
        b += pb_bytes(11, s)
    return b


def fg_tree(fg):
    levels = [[int(x) for x in lv.get("values", [])] for lv in fg.get("levels", [])]
    return L.flamebearer_tree({"names": fg.get("names", []), "levels": levels})


class SpanChecks(L.HearthTestCase):
    """The checks every state must pass; the states run in order."""

    def call(self, method, body, codec, expect=200):
        r = L.connect_call(S.proc, Q + method, body, codec=codec)
        self.assertStatus(r, expect, "%s (%s)" % (method, codec))
        return r

    def span_proto(self, spans, what):
        lo, hi = E.range
        r = self.call("SelectMergeSpanProfile", enc_span_query(spans, lo, hi), "proto")
        return L.pb_decode(L.connect_body(r), SPAN_RESPONSE)["flamegraph"]

    def span_json(self, spans):
        lo, hi = E.range
        import json
        r = self.call("SelectMergeSpanProfile", {
            "profileTypeID": CPU, "labelSelector": '{service_name="%s"}' % SVC,
            "spanSelector": list(spans), "start": str(lo), "end": hi, "maxNodes": MAX_NODES},
            "json")
        return json.loads(L.connect_body(r))["flamegraph"]

    def assertSpans(self, spans, state):
        want_tree, want_total = E.tree(spans)
        what = "%s: spans %s" % (state, ",".join(spans)[:80])
        fg = self.span_proto(spans, what)
        tree, total = fg_tree(fg)
        self.assertEqual(total, want_total, "%s: total" % what)
        self.assertEqual(tree, want_tree, "%s: tree (expected vs got):\n%s" % (
            what, L.diff_dicts(want_tree, tree)))
        tj, totj = fg_tree(self.span_json(spans))
        self.assertEqual((tj, totj), (tree, total), "%s: JSON and binary differ" % what)
        lo, hi = E.range
        r = self.call("SelectMergeStacktraces", enc_stacktraces(lo, hi, spans=spans), "proto")
        got = L.pb_decode(L.connect_body(r), {1: ("flamegraph", "msg", FLAMEGRAPH)})
        self.assertEqual(fg_tree(got["flamegraph"]), (tree, total),
                         "%s: SelectMergeStacktraces span_selector differs" % what)
        return total

    def check_state(self, state):
        self.assertGreater(len(E.spans), 100, "the file has its span labels")
        self.assertEqual(self.assertSpans([ONE], state), 40000000, "%s: %s is 40 ms" % (state, ONE))
        several = E.spans[:3] + E.spans[-3:] + [UNKNOWN]
        self.assertSpans(several, state)
        # Upper-case hex names the same span.
        fg = self.span_proto([ONE.upper()], state)
        self.assertEqual(fg_tree(fg)[1], 40000000, "%s: upper-case span id" % state)
        # Every span of the file: all samples that carried one.
        self.assertSpans(E.spans, state)
        # Unknown span / no span: the empty graph.
        for spans in ([UNKNOWN], []):
            fg = self.span_json(spans)
            self.assertEqual(fg, {"names": ["total"], "levels": [{"values": ["0", "0", "0", "0"]}]},
                             "%s: spans %s give the empty graph" % (state, spans))
        # Span rows are a side table: the whole graph is unchanged.
        lo, hi = E.range
        r = self.call("SelectMergeStacktraces", enc_stacktraces(lo, hi), "proto")
        tree, total = fg_tree(L.pb_decode(L.connect_body(r),
                                          {1: ("flamegraph", "msg", FLAMEGRAPH)})["flamegraph"])
        self.assertEqual(total, E.all_total, "%s: total without a span selector" % state)
        self.assertEqual(tree, E.all_tree, "%s: tree without a span selector" % state)

    def check_errors(self):
        lo, hi = E.range
        import json
        for bad in ("xyz", ONE[:15], ONE + "0", "g" + ONE[1:], ""):
            r = self.call("SelectMergeSpanProfile", enc_span_query([ONE, bad], lo, hi), "proto",
                          expect=400)
            body = json.loads(r.body)
            self.assertEqual(body.get("code"), "invalid_argument", "span %r: %s" % (bad, body))
            self.assertIn("span_selector[1]", body.get("message", ""), "span %r: %s" % (bad, body))
        r = self.call("SelectMergeStacktraces", enc_stacktraces(lo, hi, spans=["zz"]), "proto",
                      expect=400)
        self.assertEqual(json.loads(r.body).get("code"), "invalid_argument")
        many = ["%016x" % (i + 1) for i in range(1001)]
        r = self.call("SelectMergeSpanProfile", enc_span_query(many, lo, hi), "proto", expect=400)
        self.assertIn("limit of 1000", json.loads(r.body).get("message", ""))
        trace = "0123456789abcdef0123456789abcdef"
        r = self.call("SelectMergeStacktraces", enc_stacktraces(lo, hi, spans=[ONE], traces=[trace]),
                      "proto", expect=400)
        self.assertEqual(json.loads(r.body).get("code"), "invalid_argument")
        r = self.call("SelectMergeStacktraces", enc_stacktraces(lo, hi, traces=[trace]), "proto",
                      expect=501)
        self.assertEqual(json.loads(r.body).get("code"), "unimplemented")

    # -- the states, in order ----------------------------------------------
    def test_1_head(self):
        h = start(SLOW_CUTS, "hearth-head")
        body = enc_push([([("__name__", "process_cpu"), ("service_name", SVC)],
                          [E.raw, E.plain])])
        r = L.connect_call(h, PUSH, body, codec="proto")
        self.assertStatus(r, 200, "Push")
        self.check_state("head")
        self.check_errors()
        # format TREE (2): tree bytes naming the span's functions
        lo, hi = E.range
        r = self.call("SelectMergeSpanProfile", enc_span_query([ONE], lo, hi, fmt=2), "proto")
        got = L.pb_decode(L.connect_body(r), SPAN_RESPONSE)
        self.assertNotIn("flamegraph", got)
        for path in E.tree([ONE])[0]:
            self.assertIn(path[-1].encode(), got.get("tree", b""), "TREE names %s" % path[-1])

    def test_2_wal_replay(self):
        S.proc.kill9()
        S.proc.cleanup()
        start(SLOW_CUTS, "hearth-wal")
        self.check_state("wal replay")

    def test_3_block(self):
        S.proc.stop_checked()   # SIGTERM cuts and flushes the head
        S.proc.cleanup()
        h = start(FAST_CUTS, "hearth-block")
        lines = h.wait_log('msg="wal replay done"', timeout=30)
        self.assertIn("records=0", lines[0], "the head was flushed at the stop")
        self.check_state("block")

    def test_4_compacted(self):
        h = S.proc
        # A profile of now: a later block makes the old window complete.
        now_ms = int(time.time() * 1000)
        b = L.PprofBuilder(sample_types=(("cpu", "nanoseconds"),), time_nanos=now_ms * 1000000)
        b.sample(b.stack("later", "work"), [10000000])
        body = enc_push([([("__name__", "process_cpu"), ("service_name", SVC + "-later")],
                          [b.encode_gz()])])
        self.assertStatus(L.connect_call(h, PUSH, body, codec="proto"), 200, "Push")
        # level 0 -> 1 (2-hour window), then 1 -> 2 (its day): both done.
        h.wait_log('msg="compaction done" tenant="anonymous" level=1', timeout=60)
        h.wait_log('msg="compaction done" tenant="anonymous" level=2', timeout=60)
        self.check_state("compacted")


if __name__ == "__main__":
    L.run_tests()
