#!/usr/bin/env python3
"""Restart test (issue 3): SIGTERM, start again, every earlier query answers the same.

One data directory, four processes in a row:

  P1  block duration 1 h (nothing is cut on time): every testdata pprof
      (tenant t1, one service per file) and a labelled folded data set
      (tenant t2, two services, env/region labels, timestamps spread over
      six hours a few days back) are ingested; a fixed list of queries is
      answered from the head alone (R1). The testdata answers are also
      checked against the independent decoder, so R1 is right, not just
      stable. SIGTERM must exit 0 after cutting and flushing the head.
  P2  block duration 2 s, compaction every 1 s: the WAL must be empty
      (`wal replay done` records=0) and R1 must come back identical, now
      from blocks. A third data set is pushed over several cuts, more is
      pushed right before the stop (so some of it is in the head), and the
      extended query list is answered (R2). Then SIGTERM while client
      threads are still pushing: in-flight pushes are finished, and every
      acknowledged one must be there after the restart.
  P3  R2 identical; the pushes acknowledged around the SIGTERM are all
      there, each counted once.
  P4  (after another SIGTERM) R2 identical once more.

Queries: /pyroscope/render per service and profile type (whole tree,
timeline, metadata), with selectors, groupBy, a small maxNodes, a narrow
range, render-diff, label-names and label-values. Retention is off
(-limits.retention-period=0) because the testdata is years old.
"""

import gzip
import json
import os
import re
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

COMMON = ["-auth.multitenancy-enabled=true", "-limits.retention-period=0",
          "-storage.write-buffer-bytes=4194304", "-storage.block-cache-bytes=16777216"]
P1_FLAGS = COMMON + ["-ingester.block-duration=1h"]
P2_FLAGS = COMMON + ["-ingester.block-duration=2s", "-ingester.compaction-interval=1s"]

T1 = {"X-Scope-OrgID": "t1"}
T2 = {"X-Scope-OrgID": "t2"}
RUN = L.unique("rs")
BASE = (L.now_s() - 4 * 86400) // 3600 * 3600       # an hour boundary 4 days back
CPU = L.CPU_TYPE

REPLAY_DONE = 'msg="wal replay done"'
FLUSH_DONE = 'msg="block flush done"'


class S:
    data_dir = None
    procs = []
    testdata = []      # (service, profile type id, from_ms, until_ms, TypeExpectation)
    queries1 = []      # (label, path, params, headers)
    queries2 = []
    r1 = None
    r2 = None
    ledger = None


def setUpModule():
    S.data_dir = tempfile.mkdtemp(prefix="hearth-restart-")


def tearDownModule():
    for h in S.procs:
        h.cleanup()
    if os.environ.get("HEARTH_KEEP_TMP") != "1":
        shutil.rmtree(S.data_dir, ignore_errors=True)


def start(flags, name):
    h = L.HearthProcess(flags=flags, data_dir=S.data_dir, name=name)
    S.procs.append(h)
    return h.start()


# ---------------------------------------------------------------------------
# Data sets
# ---------------------------------------------------------------------------

def ingest_testdata(h):
    """Every testdata pprof as gzip for tenant t1; returns the per-type expectations."""
    out = []
    for path in L.pprof_files():
        with open(path, "rb") as f:
            data = f.read()
        base = os.path.basename(path)
        spy = "dotnetspy" if "dotnet" in base else None
        p = L.decode_pprof(data, spy)
        svc = "rs-%s-%s" % (re.sub(r"[^a-z0-9]", "", base.lower())[:20], RUN)
        gz = data if data[:2] == b"\x1f\x8b" else gzip.compress(data)
        frm = BASE
        params = [("name", svc), ("format", "pprof"), ("from", str(frm)), ("until", str(frm + 10)),
                  ("spyName", spy or "gospy")]
        h.ingest(params, gz, T1)
        ts = p.time_nanos // 10 ** 9 if p.time_nanos >= 365 * 86400 * 10 ** 9 else frm
        for exp, ptid in zip(L.expected_per_type(p), L.profile_type_ids(p)):
            out.append((svc, ptid, (ts - 60) * 1000, (ts + 60) * 1000, exp))
    return out


FOLDED_STACKS = [
    ("main;http;handler;db;query", 7), ("main;http;handler;db;scan", 3),
    ("main;http;handler;render", 5), ("main;http;auth", 2), ("main;gc;mark", 4),
    ("main;gc;sweep", 1), ("main;worker;job;encode", 6), ("main;worker;job;compress;zstd", 9),
]


def folded_body(k):
    """Deterministic folded body number k (values vary with k)."""
    lines = []
    for j, (stack, v) in enumerate(FOLDED_STACKS):
        c = v + (k * (j + 3)) % 11
        lines.append("%s %d" % (stack, c))
    lines.append("main;worker;job;task_%d %d" % (k % 13, 1 + k % 5))
    return ("\n".join(lines) + "\n").encode()


def folded_ts(k):
    """Upload k's time: spread over the six hours from BASE, in no particular order."""
    return BASE + (k * 997) % (6 * 3600)


def ingest_folded(h, service, ks):
    """Uploads number k in ks for tenant t2, labelled env/region/pod by k."""
    for k in ks:
        ts = folded_ts(k)
        env = ("prod", "staging")[k % 2]
        region = ("us-east", "eu-west", "ap-south")[k % 3]
        params = [("name", "%s.cpu{env=%s,region=%s,pod=pod-%d}" % (service, env, region, k % 4)),
                  ("from", str(ts)), ("until", str(ts + 10))]
        h.ingest(params, folded_body(k), T2)


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------

def render_q(label, query, frm, until, headers, **extra):
    params = [("query", query), ("from", str(frm)), ("until", str(until))]
    for k, v in extra.items():
        params.append((k, str(v)))
    return (label, "/pyroscope/render", params, headers)


def query_list(services, testdata, hours):
    """The fixed query list over the t2 services and the t1 testdata."""
    q = []
    frm, until = (BASE - 60) * 1000, (BASE + hours * 3600 + 60) * 1000
    for svc, ptid, f, u, _exp in testdata:
        q.append(render_q("testdata %s %s" % (svc, ptid), '%s{service_name="%s"}' % (ptid, svc),
                          f, u, T1, maxNodes=65536))
    q.append(render_q("testdata, small maxNodes", '%s{service_name="%s"}' % (
        testdata[0][1], testdata[0][0]), testdata[0][2], testdata[0][3], T1, maxNodes=5))
    for svc in services:
        sel = '%s{service_name="%s"}' % (CPU, svc)
        q.append(render_q("%s whole range" % svc, sel, frm, until, T2))
        q.append(render_q("%s groupBy env" % svc, sel, frm, until, T2, groupBy="env"))
        q.append(render_q("%s groupBy region, avg" % svc, sel, frm, until, T2, groupBy="region",
                          aggregation="avg"))
        q.append(render_q("%s region=~eu.*|ap.*" % svc,
                          '%s{service_name="%s",region=~"eu.*|ap.*"}' % (CPU, svc), frm, until, T2))
        q.append(render_q("%s env!=prod, maxNodes 4" % svc,
                          '%s{service_name="%s",env!="prod"}' % (CPU, svc), frm, until, T2, maxNodes=4))
        q.append(render_q("%s first 25 min" % svc, sel, frm, (BASE + 1500) * 1000, T2))
        q.append(render_q("%s hour 2 to 3:30" % svc, sel, (BASE + 7200) * 1000, (BASE + 12600) * 1000, T2))
        q.append(("%s diff hour 1 vs hour 2" % svc, "/pyroscope/render-diff", [
            ("leftQuery", sel), ("leftFrom", str(BASE * 1000)), ("leftUntil", str((BASE + 3600) * 1000)),
            ("rightQuery", sel), ("rightFrom", str((BASE + 3600) * 1000)),
            ("rightUntil", str((BASE + 7200) * 1000))], T2))
        q.append(("%s label-values region" % svc, "/pyroscope/label-values", [
            ("label", "region"), ("query", '{service_name="%s"}' % svc),
            ("from", str(frm)), ("until", str(until))], T2))
    rng = [("from", str(frm)), ("until", str(until))]
    q.append(("t2 label-names", "/pyroscope/label-names", rng, T2))
    q.append(("t2 label-values service_name", "/pyroscope/label-values", [("label", "service_name")] + rng, T2))
    q.append(("t2 label-values __name__", "/pyroscope/label-values", [("label", "__name__")] + rng, T2))
    wide = [("from", str((BASE - 20 * 365 * 86400) * 1000)), ("until", str((L.now_s() + 3600) * 1000))]
    q.append(("t1 label-values service_name", "/pyroscope/label-values", [("label", "service_name")] + wide, T1))
    q.append(("t1 label-names", "/pyroscope/label-names", wide, T1))
    return q


def answer_all(h, queries):
    out = {}
    for label, path, params, headers in queries:
        r = h.get(path, params, headers=headers)
        out[label] = (r.status, r.body)
    return out


def describe(h, q):
    label, path, params, headers = q
    return "GET %s?%s (X-Scope-OrgID: %s)" % (path, L.encode_query(params), headers.get("X-Scope-OrgID"))


def json_diff(a, b, path="", out=None, limit=12):
    """Where two JSON values differ (paths), for failure messages."""
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    if type(a) != type(b):
        out.append("%s: %r vs %r" % (path or "$", str(a)[:200], str(b)[:200]))
    elif isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append("%s.%s only in %s" % (path, k, "before" if k in a else "after"))
            else:
                json_diff(a[k], b[k], "%s.%s" % (path, k), out, limit)
    elif isinstance(a, list):
        if len(a) != len(b):
            out.append("%s: length %d vs %d (before %s... after %s...)" % (
                path, len(a), len(b), str(a)[:150], str(b)[:150]))
        else:
            for i, (x, y) in enumerate(zip(a, b)):
                json_diff(x, y, "%s[%d]" % (path, i), out, limit)
    elif a != b:
        out.append("%s: %r vs %r" % (path or "$", a, b))
    return out


class TestStorageRestart(L.HearthTestCase):

    def assertSameAnswers(self, h, queries, before, what):
        now = answer_all(h, queries)
        bad = []
        for q in queries:
            label = q[0]
            (s0, b0), (s1, b1) = before[label], now[label]
            if s0 == s1 and b0 == b1:
                continue
            detail = ""
            try:
                detail = "\n      ".join(json_diff(json.loads(b0), json.loads(b1)))
            except ValueError:
                detail = "before %r\n      after %r" % (b0[:300], b1[:300])
            bad.append("  %s\n    %s\n    before: HTTP %d (%d bytes), after: HTTP %d (%d bytes)\n      %s" % (
                label, describe(h, q), s0, len(b0), s1, len(b1), detail))
        if bad:
            self.fail("%s: %d of %d queries answer differently:\n%s\n%s" % (
                what, len(bad), len(queries), "\n".join(bad[:10]), h.stderr_tail(30)))

    def check_replay_empty(self, h, what):
        line = h.wait_log(REPLAY_DONE, timeout=10)[-1]
        records = L.logfmt_parse(line).get("records")
        self.assertEqual(records, "0", "%s: after a clean SIGTERM the WAL must be empty (the head is "
                         "flushed into blocks), but the restart replayed: %s" % (what, line))

    def test_restart_answers_same(self):
        # -- P1: head only ------------------------------------------------------
        h = start(P1_FLAGS, "hearth P1")
        S.testdata = ingest_testdata(h)
        svcs = ["rs-a-" + RUN, "rs-b-" + RUN]
        ingest_folded(h, svcs[0], range(0, 60))
        ingest_folded(h, svcs[1], range(1000, 1025))
        S.queries1 = query_list(svcs, S.testdata, 6)
        r1 = answer_all(h, S.queries1)
        for (svc, ptid, f, u, exp), q in zip(S.testdata, S.queries1):
            status, body = r1[q[0]]
            self.assertEqual(status, 200, "%s -> %d: %s" % (describe(h, q), status, body[:500]))
            fb = json.loads(body)["flamebearer"]
            tree, _ = L.flamebearer_tree(fb)
            self.assertEqual(fb["numTicks"], exp.total, "%s: numTicks" % describe(h, q))
            self.assertEqual(tree, exp.tree, "%s: tree differs from the pprof:\n%s" % (
                describe(h, q), L.diff_dicts(exp.tree, tree)))
        for label, (status, body) in r1.items():
            self.assertEqual(status, 200, "P1 query %s -> %d: %s" % (label, status, body[:300]))
        n0 = len(h.log_lines())
        h.stop_checked()
        self.assertTrue(h.log_matches(FLUSH_DONE, n0),
                        "P1: no %s after SIGTERM: the head must be cut and flushed on shutdown\n%s" % (
                            FLUSH_DONE, h.stderr_tail(30)))

        # -- P2: same answers from blocks; more data over several cuts ---------------
        h = start(P2_FLAGS, "hearth P2")
        self.check_replay_empty(h, "P2")
        self.assertSameAnswers(h, S.queries1, r1, "P2 (P1's data now read from blocks) vs P1 (head)")
        svcs2 = svcs + ["rs-c-" + RUN]
        n0 = len(h.log_lines())
        for part in range(4):   # rs-c over four cuts
            ingest_folded(h, svcs2[2], range(2000 + part * 30, 2030 + part * 30))
            h.wait_log(FLUSH_DONE, timeout=30, start=n0, count=part + 1)
        ingest_folded(h, svcs2[2], range(2120, 2160))       # some of it is still in the head
        ingest_folded(h, svcs2[0], range(60, 80))
        S.queries2 = query_list(svcs2, S.testdata, 6)
        r2 = answer_all(h, S.queries2)
        for label, (status, body) in r2.items():
            self.assertEqual(status, 200, "P2 query %s -> %d: %s" % (label, status, body[:300]))
        # SIGTERM while pushes are in flight.
        S.ledger = L.PushLedger([L.PushScheme("folded", "rs-live-" + RUN, "lv", BASE + 7 * 3600, 1,
                                              tenant="t2")])
        pusher = L.Pusher(S.ledger, h.port, threads=3).start()
        time.sleep(1.0)
        h.stop_checked()
        pusher.stop()
        counts = S.ledger.counts()
        self.assertGreater(counts.get("acked", 0), 0, "no live push was acknowledged: %r" % counts)

        # -- P3 -----------------------------------------------------------------
        h = start(P2_FLAGS, "hearth P3")
        self.check_replay_empty(h, "P3")
        self.assertSameAnswers(h, S.queries2, r2, "P3 vs P2")
        problems = S.ledger.verify(h)
        self.assertFalse(problems, "pushes made while SIGTERM arrived (%r):\n%s" % (
            counts, "\n".join(problems)))
        h.stop_checked()

        # -- P4 -----------------------------------------------------------------
        h = start(P2_FLAGS, "hearth P4")
        self.check_replay_empty(h, "P4")
        self.assertSameAnswers(h, S.queries2, r2, "P4 vs P2")
        self.assertFalse(S.ledger.verify(h), "P4: live pushes changed")
        h.stop_checked()


if __name__ == "__main__":
    L.run_tests()
