#!/usr/bin/env python3
"""Per-tenant limits, with defaults from the config and a runtime overrides
file (-runtime-config.file) that hearth re-reads while it runs.

Every limit of issue 7 gets its own tenant with a tiny value in the
overrides file, and one test that asserts the status code, the message
(which names the limit and its value) and the counter in /metrics:
hearth_limit_rejections_total{tenant,limit} for refusals,
hearth_limit_truncations_total{tenant,limit} for what a limit cuts instead
(stack depth, symbol length, query lookback — those answer 200 with a
`Warning: 299` header). A tenant without overrides is unaffected by all of
it, and editing the overrides file changes a tenant's limits without a
restart.
"""

import os
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

H = None
OVERRIDES = None
CPU = L.CPU_TYPE
NOW = L.now_s()
T0 = NOW - 300
FROM_MS, UNTIL_MS = (T0 - 1800) * 1000, (T0 + 1800) * 1000
SCALE = 10 ** 7

LIMITS = {
    "t-rate": {"ingestion_rate_mb": 1, "ingestion_burst_size_mb": 1},
    "t-burst": {"ingestion_rate_mb": 1, "ingestion_burst_size_mb": 1},
    "t-series": {"max_global_series_per_tenant": 3},
    "t-labels": {"max_label_names_per_series": 5},
    "t-labelname": {"max_label_name_length": 8},
    "t-labelvalue": {"max_label_value_length": 12},  # __name__ is 11 bytes
    "t-body": {"ingestion_body_limit_mb": 1},
    "t-size": {"max_profile_size_bytes": 1000},
    "t-samples": {"max_profile_stacktrace_samples": 10},
    "t-depth": {"max_profile_stacktrace_depth": 3},
    "t-symbol": {"max_profile_symbol_value_length": 8},
    "t-qlen": {"max_query_length": "1h"},
    "t-lookback": {"max_query_lookback": "1h"},
    "t-nodes": {"max_flamegraph_nodes_max": 10, "max_flamegraph_nodes_default": 2},
    "t-timeout": {"query_timeout": "1ms", "max_profile_stacktrace_samples": 0},
    "t-conc": {"max_concurrent_queries": 1, "max_profile_stacktrace_samples": 0},
    "t-reload": {"max_label_names_per_series": 5},
}


def setUpModule():
    global H, OVERRIDES
    d = tempfile.mkdtemp(prefix="hearth-limits-")
    OVERRIDES = os.path.join(d, "overrides.yaml")
    L.write_file_atomic(OVERRIDES, L.overrides_yaml(LIMITS))
    H = L.HearthProcess(flags=["-auth.multitenancy-enabled",
                               "-runtime-config.file=" + OVERRIDES,
                               "-runtime-config.reload-period=100ms"], name="hearth").start()
    L.HearthTestCase.hearth = H


def tearDownModule():
    if H is not None:
        try:
            H.stop_checked()
        finally:
            H.cleanup()


def ingest(tenant, name, body, params=None, fmt=None):
    p = {"name": name, "from": str(T0), "until": str(T0 + 10)}
    if fmt:
        p["format"] = fmt
    p.update(params or {})
    return H.post("/ingest", p, body, headers={"X-Scope-OrgID": tenant})


def render(tenant, service, frm=FROM_MS, until=UNTIL_MS, **extra):
    params = [("query", CPU + '{service_name="%s"}' % service), ("from", str(frm)),
              ("until", str(until))] + [(k, str(v)) for k, v in extra.items()]
    return H.get("/pyroscope/render", params, headers={"X-Scope-OrgID": tenant})


def wide_body(n, width=100, prefix="f"):
    """Folded text of n distinct stacks with long function names."""
    pad = "x" * width
    return "".join("main;%s%06d_%s 1\n" % (prefix, i, pad) for i in range(n)).encode()


def rejections(tenant, limit):
    return H.metric("hearth_limit_rejections_total", tenant=tenant, limit=limit) or 0


def truncations(tenant, limit):
    return H.metric("hearth_limit_truncations_total", tenant=tenant, limit=limit) or 0


class LimitsTest(L.HearthTestCase):

    def refused(self, r, status, code, message, tenant, limit, what):
        """Assert one refusal: status, JSON code, message (substring) and that
        the metric counts it."""
        self.assertStatus(r, status, what)
        e = L.error_body(r)
        self.assertEqual(e["code"], code, what)
        self.assertIn(message, e["message"], what)
        self.assertGreaterEqual(rejections(tenant, limit), 1,
                                "%s: hearth_limit_rejections_total{tenant=%s,limit=%s}" % (
                                    what, tenant, limit))
        return e

    # -- ingest ---------------------------------------------------------------

    def test_ingestion_rate_and_retry_after(self):
        body = wide_body(2000)      # about 230 KB once encoded
        statuses, r = [], None
        for _ in range(40):
            r = ingest("t-rate", "rate.cpu", body)
            statuses.append(r.status)
            if r.status == 429:
                break
        self.assertIn(200, statuses, "the burst lets the first pushes through")
        self.refused(r, 429, "resource_exhausted",
                     'tenant "t-rate" is over its ingestion rate limit (ingestion_rate_mb: '
                     '1 MiB/s, ingestion_burst_size_mb: 1 MiB); retry in',
                     "t-rate", "ingestion_rate_mb", "push past the rate")
        wait = int(r.header("Retry-After"))
        self.assertTrue(1 <= wait <= 2, "Retry-After: %r" % wait)
        self.assertGreaterEqual(
            H.metric("hearth_distributor_rejected_requests_total", tenant="t-rate",
                     reason="rate_limited"), 1)
        time.sleep(wait)
        self.assertStatus(ingest("t-rate", "rate.cpu", body), 200, "after Retry-After")
        # another tenant is not limited by t-rate's bucket
        for _ in range(10):
            self.assertStatus(ingest("t-free", "free.cpu", body), 200, "tenant without limits")

    def test_push_larger_than_the_burst(self):
        r = ingest("t-burst", "burst.cpu", wide_body(9000, width=120))
        self.refused(r, 429, "resource_exhausted",
                     'is larger than the ingestion burst (ingestion_burst_size_mb: 1 MiB) and '
                     'can never be accepted', "t-burst", "ingestion_burst_size_mb",
                     "a push over the burst")
        self.assertIsNone(r.header("Retry-After"), "waiting cannot help: no Retry-After")

    def test_max_series_per_tenant(self):
        for pod in (1, 2, 3):
            self.assertStatus(ingest("t-series", "ser.cpu{pod=p%d}" % pod, b"main 1\n"), 200,
                              "series %d of 3" % pod)
        r = ingest("t-series", "ser.cpu{pod=p4}", b"main 1\n")
        self.refused(r, 429, "resource_exhausted",
                     'tenant "t-series" has 3 series in the ingester and this push would add '
                     '1 more, over the limit (max_global_series_per_tenant: 3)',
                     "t-series", "max_global_series_per_tenant", "a fourth series")
        self.assertStatus(ingest("t-series", "ser.cpu{pod=p2}", b"main 2\n"), 200,
                          "an existing series")
        self.assertEqual(H.metric("hearth_ingester_head_series", tenant="t-series"), 3)

    def test_label_count_and_lengths(self):
        # __name__, service_name and pyroscope_spy join the 3 name labels
        r = ingest("t-labels", "lab.cpu{a=1,b=2,c=3}", b"main 1\n")
        self.refused(r, 400, "invalid_argument",
                     "max_label_names_per_series: series has 6 labels, limit 5",
                     "t-labels", "max_label_names_per_series", "6 labels")
        r = ingest("t-labelname", "lab.cpu{averylongname=1}", b"main 1\n")
        self.refused(r, 400, "invalid_argument",
                     "max_label_name_length: label name", "t-labelname",
                     "max_label_name_length", "a long label name")
        self.assertIn("is 13 bytes, limit 8", L.error_body(r)["message"])
        r = ingest("t-labelvalue", "lab.cpu{k=averylongvalue}", b"main 1\n")
        self.refused(r, 400, "invalid_argument",
                     'max_label_value_length: label "k" value is 14 bytes, limit 12',
                     "t-labelvalue", "max_label_value_length", "a long label value")
        self.assertStatus(ingest("t-free", "lab.cpu{a=1,b=2,c=averylongvalue}", b"main 1\n"),
                          200, "tenant without limits")

    def test_body_limit_of_a_tenant(self):
        body = b"main;x 1\n" * (1536 * 1024 // 9)
        r = ingest("t-body", "body.cpu", body)
        self.refused(r, 413, "invalid_argument",
                     "bytes, larger than the limit of 1048576 bytes "
                     "(limits.ingestion_body_limit_mb: 1)",
                     "t-body", "ingestion_body_limit_mb", "a 1.5 MiB body")
        self.assertStatus(ingest("t-free", "body.cpu", body), 200, "tenant without limits")

    def test_max_profile_size(self):
        b = L.PprofBuilder(time_nanos=T0 * 10 ** 9)
        for i in range(60):
            b.sample(b.stack("main", "function_number_%d" % i), [SCALE])
        raw = b.encode()
        self.assertGreater(len(raw), 1000)
        r = ingest("t-size", "size", raw, fmt="pprof")
        self.refused(r, 422, "unknown",
                     "pprof: the profile exceeds the size limit (max_profile_size_bytes, "
                     "actual: %d, limit: 1000)" % len(raw),
                     "t-size", "max_profile_size_bytes", "a pprof over the size limit")

    def test_max_samples_per_profile(self):
        r = ingest("t-samples", "samp.cpu", wide_body(11, width=1))
        self.refused(r, 422, "unknown", "max_profile_stacktrace_samples: the profile has more "
                     "than 10", "t-samples", "max_profile_stacktrace_samples",
                     "11 folded stacks")
        b = L.PprofBuilder(time_nanos=T0 * 10 ** 9)
        for i in range(11):
            b.sample(b.stack("main", "fn%d" % i), [SCALE])
        r = ingest("t-samples", "samp", b.encode_gz(), fmt="pprof")
        self.refused(r, 422, "unknown", "(max_profile_stacktrace_samples, actual: 11, limit: 10)",
                     "t-samples", "max_profile_stacktrace_samples", "11 pprof samples")
        self.assertStatus(ingest("t-samples", "samp.cpu", wide_body(10, width=1)), 200,
                          "10 stacks")

    def test_stack_depth_is_truncated(self):
        r = ingest("t-depth", "deep.cpu", b"a;b;c;d;e 2\na;b 1\n")
        self.assertStatus(r, 200, "a deep stack")
        self.assertEqual(r.header("Warning"), '299 hearth "1 stacks cut to 3 frames '
                         '(max_profile_stacktrace_depth)"')
        self.assertEqual(truncations("t-depth", "max_profile_stacktrace_depth"), 1)
        tree, _ = L.flamebearer_tree(render("t-depth", "deep").json()["flamebearer"])
        self.assertEqual(L.self_by_name(tree), {"c": 2 * SCALE, "b": SCALE})

    def test_symbol_length_is_truncated(self):
        r = ingest("t-symbol", "sym.cpu", b"main;abcdefghijklmnop 3\n")
        self.assertStatus(r, 200, "a long symbol")
        self.assertEqual(r.header("Warning"), '299 hearth "1 symbols cut to their last 8 bytes '
                         '(max_profile_symbol_value_length)"')
        self.assertEqual(truncations("t-symbol", "max_profile_symbol_value_length"), 1)
        tree, _ = L.flamebearer_tree(render("t-symbol", "sym").json()["flamebearer"])
        self.assertEqual(L.self_by_name(tree), {"ijklmnop": 3 * SCALE})

    # -- query ----------------------------------------------------------------

    def test_max_query_length(self):
        r = render("t-qlen", "any", frm=(NOW - 7200) * 1000, until=NOW * 1000)
        self.refused(r, 400, "invalid_argument",
                     "the query time range exceeds the limit (max_query_length, actual: 2h, "
                     "limit: 1h)", "t-qlen", "max_query_length", "a 2 h query")
        self.assertStatus(render("t-qlen", "any", frm=(NOW - 3000) * 1000, until=NOW * 1000),
                          200, "a 50 min query")

    def test_max_query_lookback(self):
        self.assertStatus(ingest("t-lookback", "old.cpu", b"main;old 1\n",
                                 {"from": str(NOW - 7200), "until": str(NOW - 7190)}), 200, "")
        self.assertStatus(ingest("t-lookback", "old.cpu", b"main;new 1\n",
                                 {"from": str(NOW - 60), "until": str(NOW - 50)}), 200, "")
        r = render("t-lookback", "old", frm=(NOW - 10800) * 1000, until=(NOW - 5400) * 1000)
        self.assertStatus(r, 200, "a range older than the lookback")
        self.assertEqual(r.json()["flamebearer"]["numTicks"], 0)
        self.assertEqual(r.header("Warning"), '299 hearth "the whole range is older than the '
                         'query lookback limit, nothing was queried (max_query_lookback: 1h)"')
        r = render("t-lookback", "old", frm=(NOW - 10800) * 1000, until=NOW * 1000)
        self.assertStatus(r, 200, "a range across the lookback")
        tree, _ = L.flamebearer_tree(r.json()["flamebearer"])
        self.assertEqual(L.self_by_name(tree), {"new": SCALE})
        self.assertEqual(r.header("Warning"), '299 hearth "the range was cut to start at the '
                         'query lookback limit (max_query_lookback: 1h)"')
        self.assertEqual(truncations("t-lookback", "max_query_lookback"), 2)

    def test_max_nodes(self):
        body = "".join("main;f%d %d\n" % (i, i + 1) for i in range(8)).encode()
        self.assertStatus(ingest("t-nodes", "nodes.cpu", body), 200, "")
        r = render("t-nodes", "nodes", maxNodes=11)
        self.refused(r, 400, "invalid_argument",
                     "max nodes 11 is over the limit (max_flamegraph_nodes_max: 10)",
                     "t-nodes", "max_flamegraph_nodes_max", "maxNodes=11")
        fb = render("t-nodes", "nodes").json()["flamebearer"]
        # the default of 2 nodes keeps main and f7; the rest is "other"
        self.assertEqual(sorted(fb["names"]), ["f7", "main", "other", "total"])
        self.assertEqual(fb["numTicks"], 36 * SCALE)

    def load_big(self, tenant, n=20000):
        self.assertStatus(ingest(tenant, "big.cpu", wide_body(n, width=20, prefix="g")), 200,
                          "%d stacks for %s" % (n, tenant))

    def test_query_timeout(self):
        self.load_big("t-timeout")
        r = render("t-timeout", "big", maxNodes=1048576)
        self.refused(r, 504, "deadline_exceeded",
                     "the query did not finish in time (query_timeout: 1ms)",
                     "t-timeout", "query_timeout", "a 20000-node query in 1 ms")
        r = L.connect_call(H, "/querier.v1.QuerierService/SelectMergeStacktraces",
                           {"profileTypeID": CPU, "labelSelector": '{service_name="big"}',
                            "start": str(FROM_MS), "end": str(UNTIL_MS)},
                           headers={"X-Scope-OrgID": "t-timeout"})
        self.assertStatus(r, 504, "Connect SelectMergeStacktraces in 1 ms")
        self.assertIn("query_timeout: 1ms", L.error_body(r)["message"])

    def test_concurrent_queries(self):
        self.load_big("t-conc")
        results, lock = [], threading.Lock()

        def one():
            r = render("t-conc", "big", maxNodes=1048576)
            with lock:
                results.append(r)
        refused = []
        for _round in range(5):
            results.clear()
            threads = [threading.Thread(target=one) for _ in range(12)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            refused = [r for r in results if r.status == 429]
            if refused:
                break
        self.assertTrue(refused, "12 queries at once never met the limit of 1: %r" % sorted(
            r.status for r in results))
        self.assertTrue(all(r.status in (200, 429) for r in results),
                        sorted(r.status for r in results))
        r = refused[0]
        self.refused(r, 429, "resource_exhausted",
                     'tenant "t-conc" has 1 queries running, the limit (max_concurrent_queries: '
                     '1); retry when one has finished', "t-conc", "max_concurrent_queries",
                     "a second query at once")
        self.assertEqual(r.header("Retry-After"), "1")
        self.assertStatus(render("t-conc", "big"), 200, "one query alone")

    # -- the overrides file ---------------------------------------------------

    def test_overrides_reload_without_restart(self):
        pid = H.pid()
        name = "rel.cpu{a=1,b=2,c=3}"    # 6 labels, over t-reload's 5
        self.assertStatus(ingest("t-reload", name, b"main 1\n"), 400, "before the reload")
        L.write_file_atomic(OVERRIDES, L.overrides_yaml(
            dict(LIMITS, **{"t-reload": {"max_label_names_per_series": 50}})))
        deadline = time.monotonic() + 10
        while ingest("t-reload", name, b"main 1\n").status != 200:
            self.assertLess(time.monotonic(), deadline, "the new limit never applied")
            time.sleep(0.05)
        # a broken file keeps what is in use
        before = H.metric("hearth_runtime_file_reloads_total", what="overrides",
                          result="failure") or 0
        L.write_file_atomic(OVERRIDES, "overrides:\n  t-reload:\n    no_such_limit: 1\n")
        deadline = time.monotonic() + 10
        while (H.metric("hearth_runtime_file_reloads_total", what="overrides",
                        result="failure") or 0) <= before:
            self.assertLess(time.monotonic(), deadline, "the bad file was not noticed")
            time.sleep(0.05)
        line = H.wait_log('msg="runtime file reload failed')[-1]
        self.assertIn('line 3: tenant \\"t-reload\\": unknown limit \\"no_such_limit\\"', line)
        self.assertStatus(ingest("t-reload", name, b"main 1\n"), 200, "after the bad file")
        self.assertEqual(H.metric("hearth_overrides_tenants"), len(LIMITS))
        self.assertEqual(H.pid(), pid)
        L.write_file_atomic(OVERRIDES, L.overrides_yaml(LIMITS))


class BadOverridesTest(L.HearthTestCase):

    def test_bad_file_stops_start_up(self):
        d = tempfile.mkdtemp(prefix="hearth-limits-bad-")
        path = os.path.join(d, "o.yaml")
        L.write_file_atomic(path, "overrides:\n  acme:\n    max_query_length: soon\n")
        p = L.HearthProcess(flags=["-runtime-config.file=" + path], name="hearth-bad")
        p.start(wait_ready=False)
        self.assertEqual(p.wait_exit(30), 2)
        self.assertIn('overrides file %s: line 3: tenant "acme": max_query_length: expected a '
                      'number at "soon"' % path, p.stderr_tail())
        p.cleanup()


if __name__ == "__main__":
    L.run_tests()
