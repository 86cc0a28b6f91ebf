#!/usr/bin/env python3
"""The tree-path formats besides folded text (ingest-http.md §5.1): speedscope
JSON and the legacy binary trie and tree formats.

trie and tree bodies are encoded here (uvarint name length, name, uvarint
value, uvarint child count, pre-order) from a list of (stack, count), and the
flame graph must give back exactly those counts (× 1e9/sampleRate ns).

speedscope files are written here by the file-format schema (shared frames,
sampled and evented profiles), and what hearth must answer is computed from
the same Python data independently: per stack (root-first path) the
weights, converted to nanoseconds for time units, or scaled by sampleRate
for unit "none" (counts), or as they are for bytes.

Checks: one sampled profile (milliseconds, fractional weights) stored under
the name as sent with its profile_name label; one evented profile (open and
close events, microseconds); a file with several profiles (two threads in
unit none, a bytes profile) stored per unit as <app>.cpu and <app>.bytes
with one series per profile_name, same-name profiles merged; gzip bodies;
bad files get a 422 naming the problem while hearth keeps serving;
`hearth-cli upload --format trie|tree` sends such bodies (gzip'd ones with
Content-Encoding, which the server needs for them) and does not guess them.
"""

import gzip
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

RUN = L.unique("ss")
T0 = L.now_s() - 120
RANGE = ((T0 - 600) * 1000, (T0 + 600) * 1000)
SCHEMA = "https://www.speedscope.app/file-format-schema.json"
NS = {"nanoseconds": 1, "microseconds": 10 ** 3, "milliseconds": 10 ** 6, "seconds": 10 ** 9}
FRAMES = ["main", "serve", "parse", "render", "gc", "io.read"]


def sampled(name, unit, stacks, weights):
    return {"type": "sampled", "name": name, "unit": unit, "startValue": 0,
            "endValue": sum(weights), "samples": stacks, "weights": weights}


def evented(name, unit, events, start=0):
    return {"type": "evented", "name": name, "unit": unit, "startValue": start,
            "endValue": events[-1][2], "events": [
                {"type": t, "frame": f, "at": at} for t, f, at in events]}


def speedscope_file(profiles):
    # Keys out of the usual order on purpose: profiles before shared.
    return json.dumps({"exporter": "hearth-test", "profiles": profiles,
                       "shared": {"frames": [{"name": n, "file": "x.py"} for n in FRAMES]},
                       "$schema": SCHEMA, "activeProfileIndex": 0}).encode()


def expected(profiles, scale):
    """{root-first path of names: value} summed over profiles, the weight
    of each stack times scale (a float, rounded at the end per path)."""
    out = {}
    for p in profiles:
        if p["type"] == "sampled":
            for st, w in zip(p["samples"], p["weights"]):
                path = tuple(FRAMES[f] for f in st)
                out[path] = out.get(path, 0) + w * scale
        else:
            stack, last = [], p["startValue"]
            for ev in p["events"]:
                if stack:
                    path = tuple(FRAMES[f] for f in stack)
                    out[path] = out.get(path, 0) + (ev["at"] - last) * scale
                last = ev["at"]
                if ev["type"] == "O":
                    stack.append(ev["frame"])
                else:
                    stack.pop()
    return {k: round(v) for k, v in out.items() if round(v)}


def uvarint(x):
    out = b""
    while x >= 0x80:
        out += bytes([x & 0x7f | 0x80])
        x >>= 7
    return out + bytes([x])


def node(name, value, children):
    n = name.encode()
    return uvarint(len(n)) + n + uvarint(value) + uvarint(children)


def tree_body(samples):
    """The tree format of {root-first frame tuple: self count}: a synthetic
    root, then each node with its self value and children, pre-order."""
    kids = {}
    for path in samples:
        for d in range(1, len(path) + 1):
            kids.setdefault(path[:d - 1], set()).add(path[:d])

    def emit(path):
        ch = sorted(kids.get(path, ()))
        out = node(path[-1] if path else "", samples.get(path, 0), len(ch))
        return out + b"".join(emit(c) for c in ch)
    return emit(())


def trie_body(samples):
    """The trie format of {folded key: count}, keys split into two-byte
    pieces so that labels are not whole frames (as tries store them)."""
    kids = {}
    for key in samples:
        pieces = [key[i:i + 2] for i in range(0, len(key), 2)]
        for d in range(1, len(pieces) + 1):
            parent, child = "".join(pieces[:d - 1]), "".join(pieces[:d])
            siblings = kids.setdefault(parent, [])
            if child not in siblings:
                siblings.append(child)

    def emit(key, label):
        ch = kids.get(key, [])
        out = node(label, samples.get(key, 0), len(ch))
        return out + b"".join(emit(c, c[len(key):]) for c in ch)
    return emit("", "")


class TreeFormatsTest(L.HearthTestCase):
    @classmethod
    def setUpClass(cls):
        cls.hearth = L.HearthProcess(name="hearth-tree-formats").start()
        L.HearthTestCase.hearth = cls.hearth

    @classmethod
    def tearDownClass(cls):
        cls.hearth.stop_checked()
        cls.hearth.cleanup()

    def params(self, name, **extra):
        p = [("name", name), ("format", "speedscope"), ("spyName", "pyspy"),
             ("from", str(T0)), ("until", str(T0 + 10))]
        return p + list(extra.items())

    def tree(self, query):
        fb = self.hearth.render(query, *RANGE)["flamebearer"]
        tree, total = L.flamebearer_tree(fb)
        return {p: s for p, (_t, s) in tree.items() if s}, total

    def label_values(self, label, query):
        return sorted(self.hearth.get_json("/pyroscope/label-values", [
            ("label", label), ("query", query),
            ("from", str(RANGE[0])), ("until", str(RANGE[1]))]))

    def test_sampled_milliseconds(self):
        svc = "sampled-%s" % RUN
        prof = sampled("MainThread", "milliseconds",
                       [[0, 1, 2], [0, 1, 3], [0, 1, 2], [0, 4], [0, 1, 5, 2]],
                       [1.5, 2, 0.25, 3, 0.001])
        r = self.hearth.ingest(self.params(svc + ".cpu{env=test}"), speedscope_file([prof]))
        self.assertStatus(r, 200, "speedscope, one sampled profile")
        want = expected([prof], NS["milliseconds"])
        got, total = self.tree('%s{service_name="%s"}' % (L.CPU_TYPE, svc))
        self.assertEqual(got, want)
        self.assertEqual(total, sum(want.values()))
        self.assertEqual(self.label_values("profile_name", '{service_name="%s"}' % svc), ["MainThread"])
        self.assertEqual(self.label_values("env", '{service_name="%s"}' % svc), ["test"])
        self.assertEqual(self.label_values("pyroscope_spy", '{service_name="%s"}' % svc), ["pyspy"])

    def test_evented_microseconds_gzip(self):
        svc = "evented-%s" % RUN
        prof = evented("request", "microseconds", [
            ("O", 0, 100), ("O", 1, 110), ("O", 2, 150), ("C", 2, 400), ("O", 3, 400),
            ("C", 3, 1000), ("C", 1, 1300), ("O", 4, 1300), ("C", 4, 1310), ("C", 0, 2000)],
            start=90)
        body = gzip.compress(speedscope_file([prof]))
        r = self.hearth.ingest(self.params(svc + ".wall"), body, headers={"Content-Encoding": "gzip"})
        self.assertStatus(r, 200, "gzip speedscope, one evented profile")
        want = expected([prof], NS["microseconds"])
        got, total = self.tree('wall:wall:nanoseconds:wall:nanoseconds{service_name="%s"}' % svc)
        self.assertEqual(got, want)
        self.assertEqual(total, 1900 * 1000)

    def test_several_profiles_go_per_unit_and_name(self):
        svc = "multi-%s" % RUN
        t1 = sampled("Thread 1", "none", [[0, 1, 2], [0, 4]], [3, 1])
        t2 = sampled("Thread 2", "none", [[0, 1, 3]], [5])
        t1_again = sampled("Thread 1", "none", [[0, 1, 2]], [2])
        heap = sampled("heap", "bytes", [[0, 5], [0, 1, 2]], [4096, 512])
        r = self.hearth.ingest(self.params(svc + ".cpu", sampleRate="100"),
                               speedscope_file([t1, heap, t2, t1_again]))
        self.assertStatus(r, 200, "speedscope, several profiles")
        rate_ns = 10 ** 9 // 100
        for name, profs in (("Thread 1", [t1, t1_again]), ("Thread 2", [t2])):
            got, _ = self.tree('%s{service_name="%s",profile_name="%s"}' % (L.CPU_TYPE, svc, name))
            self.assertEqual(got, expected(profs, rate_ns), name)
        got, total = self.tree('memory:samples:bytes::{service_name="%s"}' % svc)
        self.assertEqual(got, expected([heap], 1))
        self.assertEqual(total, 4608)
        self.assertEqual(self.label_values("profile_name", '{service_name="%s"}' % svc),
                         ["Thread 1", "Thread 2", "heap"])
        self.assertEqual(self.label_values("__profile_type__", '{service_name="%s"}' % svc),
                         sorted([L.CPU_TYPE, "memory:samples:bytes::"]))

    def test_trie_and_tree_bodies(self):
        stacks = {("main", "serve", "parse"): 7, ("main", "serve"): 2, ("main", "gc"): 5,
                  ("idle",): 1, ("main", "serve", "render", "write"): 11}
        want = {k: v * 10 ** 7 for k, v in stacks.items()}  # 100 Hz
        for i, (fmt, body, headers) in enumerate((
                ("tree", tree_body(stacks), {}),
                ("trie", trie_body({";".join(k): v for k, v in stacks.items()}), {}),
                (None, tree_body(stacks), {"Content-Type": "binary/octet-stream+tree"}),
                (None, trie_body({";".join(k): v for k, v in stacks.items()}),
                 {"Content-Type": "binary/octet-stream+trie"}))):
            svc = "%s-%s-%d" % (fmt or "ct", RUN, i)
            params = [p for p in self.params(svc + ".cpu") if p[0] != "format"]
            if fmt:
                params.append(("format", fmt))
            r = self.hearth.ingest(params, body, headers=headers)
            self.assertStatus(r, 200, "%s body" % (fmt or headers["Content-Type"]))
            got, total = self.tree('%s{service_name="%s"}' % (L.CPU_TYPE, svc))
            self.assertEqual(got, want, fmt or headers)
            self.assertEqual(total, sum(want.values()))
        for fmt, body, reason in (("tree", b"\x05ab", "tree: node 1: cut short"),
                                  ("trie", node("", 0, 2) + node("a", 1, 0), "trie: node 3: cut short"),
                                  ("tree", tree_body(stacks) + b"\x00", "1 bytes after the last node")):
            params = [p for p in self.params("bad-%s" % RUN) if p[0] != "format"] + [("format", fmt)]
            r = self.hearth.ingest(params, body, expect=None)
            self.assertStatus(r, 422, "bad %s body" % fmt)
            self.assertIn(reason, r.text())

    def test_cli_uploads_trie_and_tree_when_named(self):
        stacks = {("main", "serve", "parse"): 7, ("main", "gc"): 5, ("idle",): 1}
        want = {k: v * 10 ** 7 for k, v in stacks.items()}  # 100 Hz
        base = self.hearth.url("").rstrip("/")
        for fmt, body in (("tree", tree_body(stacks)),
                          ("trie", trie_body({";".join(k): v for k, v in stacks.items()})),
                          ("trie", gzip.compress(trie_body({";".join(k): v for k, v in stacks.items()})))):
            svc = "cli-%s-%s-%d" % (fmt, RUN, len(body))
            r = L.run_cli(["upload", "-", "--name", svc + ".cpu", "--format", fmt,
                           "--from", str(T0)], url=base, stdin=body)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(b"uploaded (%s" % fmt.encode(), r.stdout)
            self.assertIn(b"3 samples", r.stdout)
            got, _total = self.tree('%s{service_name="%s"}' % (L.CPU_TYPE, svc))
            self.assertEqual(got, want, fmt)
        # Not sniffed: without --format the client refuses it as no pprof
        # (exit code 4, nothing sent).
        r = L.run_cli(["upload", "-", "--name", "cli-auto-%s.cpu" % RUN], url=base,
                      stdin=tree_body(stacks))
        self.assertEqual(r.returncode, 4, r.stderr)
        self.assertIn(b"not a pprof profile nor folded text", r.stderr)

    def test_bad_files_are_refused_with_the_reason(self):
        good = sampled("t", "none", [[0]], [1])
        cases = [
            (b"main;work 3\n", "json: offset 0"),
            (json.dumps({"profiles": []}).encode(), "not a speedscope file"),
            (speedscope_file([dict(good, unit="hours")]), "unit \\\"hours\\\" is not one of"),
            (speedscope_file([dict(good, samples=[[9]])]), "frame index 9 is not one of the 6 shared frames"),
            (speedscope_file([dict(good, weights=[-2])]), "negative weight"),
            (speedscope_file([dict(good, weights=[1, 2])]), "fewer samples than weights"),
            (speedscope_file([evented("e", "none", [("O", 0, 5), ("C", 1, 6)])]),
             "not the innermost open frame"),
            (speedscope_file([good])[:-1], "unexpected end of input"),
        ]
        for body, reason in cases:
            r = self.hearth.ingest(self.params("bad-%s" % RUN), body, expect=None)
            self.assertStatus(r, 422, "bad speedscope file (%s)" % reason)
            self.assertIn(reason, r.text())
        r = self.hearth.ingest(self.params("bad-%s.purchases" % RUN), speedscope_file([good]), expect=None)
        self.assertStatus(r, 400, "unknown suffix")
        self.assertIn("unknown profile type suffix", r.text())
        self.assertEqual(self.hearth.get("/ready").status, 200)


if __name__ == "__main__":
    L.run_tests()
