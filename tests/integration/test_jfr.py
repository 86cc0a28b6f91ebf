#!/usr/bin/env python3
"""JFR ingestion (POST /ingest?format=jfr, ingest-http.md §5.4): pyroscope-java's path.

Two recordings:

1. tests/data/jfr/burn.jfr.gz, recorded by a real JVM (make_fixture.sh):
   execution samples, allocation samples, monitor enters and thread parks
   of a small workload. What it holds was read with the JDK's own parser
   (`jfr print --json`) into burn.expected.json; hearth's flame graphs must
   agree: per profile type the total and the self value of every leaf
   frame ("<class>.<method>"), cpu samples worth 1e9/sampleRate ns.
2. A recording written here (jfr_chunk below) the way async-profiler
   lays one out for pyroscope-java: event fields in another order, extra
   fields hearth does not read, a contextId per sample, the constant pool
   after the events, UTF-16 and Latin-1 strings, and the profiler's
   settings (event=itimer becomes the jfr_event label, as upstream). With a
   LabelsSnapshot `labels` part, each context's labels make their own
   series.

Also: the raw body and the multipart form give the same answer, a name
with its own service_name keeps it (the app name becomes app_name), and
bad recordings or parts get a 422 naming what is wrong.
"""

import gzip
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402
from hearth_test_lib import pb_bytes, pb_msg, pb_uint  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "jfr")
RUN = L.unique("jfr")
T0 = L.now_s() - 120
RANGE = ((T0 - 600) * 1000, (T0 + 600) * 1000)
RATE = 100
PERIOD = 10 ** 9 // RATE

# event type -> [(profile type id, what to sum from the expected file)]
TYPES = {
    "jdk.ExecutionSample": [("process_cpu:cpu:nanoseconds:cpu:nanoseconds", "cpu")],
    "jdk.ObjectAllocationSample": [
        ("memory:alloc_sample_objects:count:space:bytes", "count"),
        ("memory:alloc_sample_bytes:bytes:space:bytes", "weight")],
    "jdk.JavaMonitorEnter": [
        ("mutex:contentions:count:mutex:count", "count"),
        ("mutex:delay:nanoseconds:mutex:count", "duration")],
    "jdk.ThreadPark": [
        ("block:contentions:count:block:count", "count"),
        ("block:delay:nanoseconds:block:count", "duration")],
}


def read(path):
    with open(path, "rb") as f:
        return f.read()


def pick(row, what):
    """row = [count, duration_ns, weight] of the expected file."""
    return {"cpu": row[0] * PERIOD, "count": row[0], "duration": row[1], "weight": row[2]}[what]


def leaf_self(fb):
    """{leaf name: self} of a flamebearer answer, "" for the root's own value."""
    tree, total = L.flamebearer_tree(fb)
    out = {}
    for path, (_t, s) in tree.items():
        if s:
            out[path[-1]] = out.get(path[-1], 0) + s
    rest = total - sum(t for p, (t, _s) in tree.items() if len(p) == 1)
    if rest:
        out[""] = rest
    return out, total


# -- a recording written here --------------------------------------------------

def jv(n):
    """JFR compressed integer: 7 bits a byte, low first; the 9th byte whole."""
    n &= (1 << 64) - 1
    out = bytearray()
    for _ in range(8):
        if n < 0x80:
            out.append(n)
            return bytes(out)
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def js(s, enc=3):
    if enc == 3:
        b = s.encode()
        return bytes([3]) + jv(len(b)) + b
    if enc == 4:
        units = s.encode("utf-16-le")
        cps = [units[i] | units[i + 1] << 8 for i in range(0, len(units), 2)]
        return bytes([4]) + jv(len(cps)) + b"".join(jv(c) for c in cps)
    b = s.encode("latin-1")
    return bytes([5]) + jv(len(b)) + b


def jevent(type_id, payload):
    body = jv(type_id) + payload
    size = len(body) + 1
    while len(jv(size)) + len(body) != size:
        size += 1
    return jv(size) + body


def jfr_chunk(samples, start_ns):
    """One chunk. samples: [(stack index, context id)] of profiler-style
    jdk.ExecutionSample events over the stacks of STACKS."""
    strings = []

    def sid(s):
        if s not in strings:
            strings.append(s)
        return strings.index(s)

    def elem(name, attrs, children=()):
        out = jv(sid(name)) + jv(len(attrs))
        for k, v in attrs:
            out += jv(sid(k)) + jv(sid(v))
        return out + jv(len(children)) + b"".join(children)

    def field(name, cls, cp=False, array=False):
        a = [("name", name), ("class", str(cls))]
        if cp:
            a.append(("constantPool", "true"))
        if array:
            a.append(("dimension", "1"))
        return elem("field", a)

    def klass(cid, name, fields=(), super_type=None):
        a = [("name", name), ("id", str(cid))]
        if super_type:
            a.append(("superType", super_type))
        return elem("class", a, fields)

    classes = [
        klass(10, "long"), klass(11, "int"), klass(12, "boolean"), klass(13, "java.lang.String"),
        klass(14, "double"),
        klass(20, "jdk.types.Symbol", [field("string", 13)]),
        klass(21, "java.lang.Class", [field("package", 13), field("name", 20, cp=True),
                                      field("modifiers", 11)]),
        klass(22, "jdk.types.Method", [field("descriptor", 20, cp=True), field("type", 21, cp=True),
                                       field("name", 20, cp=True), field("hidden", 12)]),
        klass(23, "jdk.types.StackFrame", [field("lineNumber", 11), field("method", 22, cp=True),
                                           field("ratio", 14)]),
        klass(24, "jdk.types.StackTrace", [field("frames", 23, array=True), field("truncated", 12)]),
        klass(120, "jdk.ExecutionSample", [field("startTime", 10), field("tags", 13, array=True),
                                           field("contextId", 10), field("stackTrace", 24, cp=True),
                                           field("state", 11)], "jdk.jfr.Event"),
        klass(130, "jdk.ActiveSetting", [field("startTime", 10), field("duration", 10), field("id", 10),
                                         field("name", 13), field("value", 13)], "jdk.jfr.Event"),
    ]
    root = elem("root", [], [elem("metadata", [], classes), elem("region", [("locale", "en_US")])])
    # The event holds the string table, then the tree: the tree is built
    # first so that every string it uses is in the table.
    table = b"".join(js(s) for s in strings)
    metadata = jevent(0, jv(start_ns) + jv(0) + jv(1) + jv(len(strings)) + table + root)

    # constant pools: symbols 1.., classes 100.., methods 200.., stacks 300..
    sym, cls, meth = {}, {}, {}
    sym_entries, cls_entries, meth_entries, st_entries = [], [], [], []
    for frames in STACKS:
        for f in frames:
            c, m = f.rsplit(".", 1)
            for s in (c, m, "()V"):
                if s not in sym:
                    sym[s] = len(sym) + 1
                    enc = 4 if "\u00e9" in s else (5 if s == "()V" else 3)
                    sym_entries.append(jv(sym[s]) + js(s, enc))
            if c not in cls:
                cls[c] = 100 + len(cls)
                cls_entries.append(jv(cls[c]) + js("pkg") + jv(sym[c]) + jv(1))
            if f not in meth:
                meth[f] = 200 + len(meth)
                meth_entries.append(jv(meth[f]) + jv(sym["()V"]) + jv(cls[c]) + jv(sym[m]) + b"\x00")
    for i, frames in enumerate(STACKS):
        leaf_first = list(reversed(frames))
        fr = b"".join(jv(7) + jv(meth[f]) + struct.pack(">d", 0.5) for f in leaf_first)
        st_entries.append(jv(300 + i) + jv(len(leaf_first)) + fr + b"\x00")
    pools = [(20, sym_entries), (21, cls_entries), (22, meth_entries), (24, st_entries)]
    cp = jv(start_ns) + jv(0) + jv(0) + b"\x01" + jv(len(pools))
    for t, entries in pools:
        cp += jv(t) + jv(len(entries)) + b"".join(entries)
    checkpoint = jevent(1, cp)

    # async-profiler records its options as settings; "event" is the
    # profiling mode that becomes the jfr_event label.
    settings = b"".join(jevent(130, jv(start_ns) + jv(0) + jv(1) + js(k) + js(v))
                        for k, v in (("interval", "10ms"), ("event", "itimer")))
    events = settings + b"".join(
        jevent(120, jv(start_ns + k) + jv(1) + js("x") + jv(ctx) + jv(300 + st) + jv(3))
        for k, (st, ctx) in enumerate(samples))
    header_len = 68
    body = events + checkpoint + metadata
    size = header_len + len(body)
    cp_off = header_len + len(events)
    meta_off = cp_off + len(checkpoint)
    hdr = (b"FLR\x00" + struct.pack(">HHqqqqqqqi", 2, 1, size, cp_off, meta_off,
                                      start_ns, 10 ** 9, 0, 10 ** 9, 1))
    assert len(hdr) == header_len
    return hdr + body


STACKS = [
    ["java/lang/Thread.run", "com/shop/Checkout.handle", "com/shop/Pricing.total"],
    ["java/lang/Thread.run", "com/shop/Cart.show", "com/shop/Caf\u00e9.render"],
    ["java/lang/Thread.run", "com/shop/Idle.sleep"],
]
# (stack, context): context 1 = /checkout, 2 = /cart, 0 = none, 9 = unknown;
# stack 7 is in no constant pool: that sample is left out, as upstream.
SAMPLES = [(0, 1)] * 5 + [(1, 2)] * 3 + [(2, 0)] * 2 + [(0, 9), (7, 1)]


def labels_snapshot():
    """LabelsSnapshot: contexts {1: endpoint=/checkout, 2: endpoint=/cart}."""
    def ctx(k, v):
        return pb_msg(1, pb_uint(1, k), pb_uint(2, v))
    out = b""
    for cid, val in ((1, 11), (2, 12)):
        out += pb_msg(1, pb_uint(1, cid), pb_msg(2, ctx(10, val)))
    for k, s in ((10, "endpoint"), (11, "/checkout"), (12, "/cart")):
        out += pb_msg(2, pb_uint(1, k), pb_bytes(2, s))
    return out


class JfrTest(L.HearthTestCase):
    @classmethod
    def setUpClass(cls):
        cls.hearth = L.HearthProcess(name="hearth-jfr").start()
        L.HearthTestCase.hearth = cls.hearth
        cls.expected = json.loads(read(os.path.join(DATA, "burn.expected.json")))
        cls.recording = read(os.path.join(DATA, "burn.jfr.gz"))

    @classmethod
    def tearDownClass(cls):
        cls.hearth.stop_checked()
        cls.hearth.cleanup()

    def params(self, name, **extra):
        p = [("name", name), ("format", "jfr"), ("spyName", "javaspy"),
             ("sampleRate", str(RATE)), ("from", str(T0)), ("until", str(T0 + 10))]
        return p + list(extra.items())

    def check_recording(self, service):
        for event, types in TYPES.items():
            exp = self.expected[event]
            for ptype, what in types:
                fb = self.hearth.render('%s{service_name="%s"}' % (ptype, service), *RANGE)
                got, total = leaf_self(fb["flamebearer"])
                want = {leaf: pick(row, what) for leaf, row in exp["self"].items()}
                want = {k: v for k, v in want.items() if v}
                want_total = pick([exp["count"], exp["duration_ns"], exp["weight"]], what)
                self.assertEqual(total, want_total, "%s total (%s)" % (ptype, service))
                self.assertEqual(got, want, "%s self per leaf frame (%s)" % (ptype, service))

    def test_real_recording_raw_body(self):
        svc = "burn-raw-%s" % RUN
        r = self.hearth.ingest(self.params(svc + "{env=test}"), self.recording)
        self.assertStatus(r, 200, "raw JFR body")
        self.check_recording(svc)
        ids = self.hearth.get_json("/pyroscope/label-values", [
            ("label", "__profile_type__"), ("query", '{service_name="%s"}' % svc)] +
            [("from", str(RANGE[0])), ("until", str(RANGE[1]))])
        self.assertEqual(sorted(ids), sorted(t for ts in TYPES.values() for t, _w in ts))
        # A JDK recording has no profiler "event" setting: no jfr_event.
        for label, want in (("jfr_event", []), ("pyroscope_spy", ["javaspy"]),
                            ("env", ["test"])):
            got = self.hearth.get_json("/pyroscope/label-values", [
                ("label", label), ("query", '{service_name="%s"}' % svc),
                ("from", str(RANGE[0])), ("until", str(RANGE[1]))])
            self.assertEqual(sorted(got), want, label)

    def test_real_recording_multipart_and_service_name_label(self):
        ct, body = L.multipart_encode([("jfr", "jfr", None, self.recording)])
        svc = "burn-mp-%s" % RUN
        r = self.hearth.ingest(self.params("javaapp{service_name=%s}" % svc), body,
                               headers={"Content-Type": ct})
        self.assertStatus(r, 200, "multipart JFR")
        self.check_recording(svc)
        apps = self.hearth.get_json("/pyroscope/label-values", [
            ("label", "app_name"), ("query", '{service_name="%s"}' % svc),
            ("from", str(RANGE[0])), ("until", str(RANGE[1]))])
        self.assertEqual(apps, ["javaapp"])

    def test_profiler_recording_with_context_labels(self):
        svc = "ctx-%s" % RUN
        rec = gzip.compress(jfr_chunk(SAMPLES[:6], T0 * 10 ** 9) + jfr_chunk(SAMPLES[6:], (T0 + 1) * 10 ** 9))
        ct, body = L.multipart_encode([("jfr", "jfr", None, rec),
                                       ("labels", "labels", "application/x-protobuf",
                                        gzip.compress(labels_snapshot()))])
        before = self.hearth.metric("hearth_distributor_unresolved_samples_total", format="jfr") or 0
        r = self.hearth.ingest(self.params(svc), body, headers={"Content-Type": ct})
        self.assertStatus(r, 200, "profiler-style JFR with labels")
        self.assertIn("1 JFR samples left out", r.header("Warning") or "",
                      "the sample whose stack trace no pool holds is reported")
        self.assertEqual(self.hearth.metric("hearth_distributor_unresolved_samples_total", format="jfr"),
                         before + 1, "and counted")
        cpu = L.CPU_TYPE

        def tree(sel):
            fb = self.hearth.render('%s{service_name="%s"%s}' % (cpu, svc, sel), *RANGE)
            t, total = L.flamebearer_tree(fb["flamebearer"])
            return {p: v[1] for p, v in t.items() if v[1]}, total

        want_checkout = {tuple(STACKS[0]): 5 * PERIOD}
        self.assertEqual(tree(',endpoint="/checkout"'), (want_checkout, 5 * PERIOD))
        self.assertEqual(tree(',endpoint="/cart"'), ({tuple(STACKS[1]): 3 * PERIOD}, 3 * PERIOD))
        # No context and an unknown one: no endpoint label.
        rest = {tuple(STACKS[2]): 2 * PERIOD, tuple(STACKS[0]): PERIOD}
        self.assertEqual(tree(',endpoint=""'), (rest, 3 * PERIOD))
        all_t, total = tree("")
        self.assertEqual(total, 11 * PERIOD)
        values = self.hearth.get_json("/pyroscope/label-values", [
            ("label", "endpoint"), ("query", '{service_name="%s"}' % svc),
            ("from", str(RANGE[0])), ("until", str(RANGE[1]))])
        self.assertEqual(sorted(values), ["/cart", "/checkout"])
        modes = self.hearth.get_json("/pyroscope/label-values", [
            ("label", "jfr_event"), ("query", '{service_name="%s"}' % svc),
            ("from", str(RANGE[0])), ("until", str(RANGE[1]))])
        self.assertEqual(modes, ["itimer"], "async-profiler's event setting")

    def test_bad_recordings(self):
        good = jfr_chunk(SAMPLES, T0 * 10 ** 9)
        ct, no_jfr = L.multipart_encode([("profile", "p", None, b"x")])
        ct2, bad_labels = L.multipart_encode([("jfr", "jfr", None, good), ("labels", "l", None, b"\xff\xff")])
        snap_bad = pb_msg(1, pb_uint(1, 1), pb_msg(2, pb_msg(1, pb_uint(1, 77), pb_uint(2, 78))))
        ct3, dangling = L.multipart_encode([("jfr", "jfr", None, good), ("labels", "l", None, snap_bad)])
        newer = bytearray(good)
        newer[4:6] = b"\x00\x03"
        cases = [
            ("not JFR", b"hello world", None, "no chunk header"),
            ("truncated", good[: len(good) // 2], None, "jfr:"),
            ("header only", good[:68], None, "jfr:"),
            ("version 3", bytes(newer), None, "not supported"),
            ("truncated gzip", gzip.compress(good)[:40], None, "gzip"),
            ("multipart without jfr", no_jfr, ct, "part named jfr"),
            ("garbage labels", bad_labels, ct2, "LabelsSnapshot"),
            ("labels naming missing strings", dangling, ct3, "does not hold"),
        ]
        for what, body, ctype, msg in cases:
            hdrs = {"Content-Type": ctype} if ctype else None
            r = self.hearth.ingest(self.params("bad-%s" % RUN), body, headers=hdrs, expect=None)
            self.assertStatus(r, 422, what)
            self.assertIn(msg, r.text(), what)


if __name__ == "__main__":
    L.run_tests()
