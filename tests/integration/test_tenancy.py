#!/usr/bin/env python3
"""Tenant isolation: two tenants write the same service names and label sets;
no query API shows one tenant's data to the other, in the all-in-one process
and in a cluster.

Every tenant's data carries markers no other tenant has: function names
(`fn_<tenant>_only`, in folded, pprof and Connect Push uploads), a label name
(`team_<tenant>`), label values (`pod-<tenant>-N`), a service
(`svc-<tenant>`) and a profile time (globex writes two minutes after acme,
which GetProfileStats reports). Every query API — the legacy render,
render-diff, label-names, label-values and the Connect querier.v1 methods
(series listing, flame graphs, span profiles, the pprof export, time series,
diff, profile types, stats, query analysis) — is asked as each tenant, and
its answer must hold none of the other tenant's markers. The answers that
carry values must be exact for the tenant's own data: per-function self
values of the render, the Connect flame graph and the pprof export, the
totals of render-diff, Diff and SelectSeries, the series listed, the label
values and the profile times. A cross-tenant read (`X-Scope-OrgID: a|b`)
must answer the union, exactly. Then the storage restarts on the same data
directories (the heads are written as RocksDB blocks at shutdown) and every
check runs again, against blocks.

Also: with multi-tenancy on, every data path answers 401 without the header
and 400 for an invalid tenant ID, and writes refuse `a|b`; with it off, the
header is ignored and everything is tenant "anonymous".

The same tests (TenancyChecks) run against two setups:
- SingleProcessTenancyTest: one all-in-one hearth process;
- ClusterTenancyTest: 3 ingesters (RF = 3), 2 distributors and a querier as
  separate processes behind nginx (hearth_test_lib.Cluster), so writes go
  through the distributors, queries through the querier, and every series is
  stored three times; each must still be counted once, and each tenant's
  series must sit on every ingester under its own tenant.

Run: HEARTH_BIN=build/cmd/hearth python3 tests/integration/test_tenancy.py
"""

import base64
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

CPU = L.CPU_TYPE
T0 = L.now_s() - 600
TENANTS = ("acme", "globex")
TIME = {"acme": T0, "globex": T0 + 120}   # every profile's time, per tenant
FROM_MS, UNTIL_MS = (T0 - 3600) * 1000, (T0 + 3600) * 1000
SCALE = 10 ** 7               # folded counts at sampleRate 100
# Series per tenant: checkout on two pods (the pprof upload joins pod 1's
# series, the Connect Push pod 2's) and svc-<t>.
SERIES_PER_TENANT = 3
MULTITENANCY = "-auth.multitenancy-enabled=true"


def stacks_of(t):
    """Folded uploads of tenant t: (name parameter, [(frames, count)])."""
    k = 3 if t == "acme" else 5   # different values for the shared functions
    return [
        ("checkout.cpu{env=prod,pod=pod-%s-1,team_%s=yes}" % (t, t),
         [(["main", "work"], k), (["main", "fn_%s_only" % t], 2)]),
        ("checkout.cpu{env=prod,pod=pod-%s-2,team_%s=yes}" % (t, t),
         [(["main", "work"], 1), (["main", "serve", "fn_%s_serve" % t], k)]),
        ("svc-%s.cpu{env=prod}" % t, [(["main", "svc_%s_fn" % t], 4)]),
    ]


def pprof_of(t):
    b = L.PprofBuilder(time_nanos=TIME[t] * 10 ** 9)
    b.sample(b.stack("main", "work"), [7 * SCALE])
    b.sample(b.stack("main", "pp_%s_only" % t), [11 * SCALE])
    return b.encode_gz()


def connect_push_of(t):
    """A Connect Push (push.v1) of tenant t into checkout's pod 2 series."""
    b = L.PprofBuilder(time_nanos=TIME[t] * 10 ** 9)
    b.sample(b.stack("main", "push_%s_only" % t), [13 * SCALE])
    labels = [("__name__", "process_cpu"), ("service_name", "checkout"), ("env", "prod"),
              ("pod", "pod-%s-2" % t), ("team_%s" % t, "yes"),
              ("pyroscope_spy", "unknown")]   # what /ingest adds: the same series
    return {"series": [{"labels": [{"name": n, "value": v} for n, v in labels],
                        "samples": [{"rawProfile": base64.b64encode(b.encode()).decode()}]}]}


def expected_checkout(t):
    """Self value per function of service checkout, tenant t."""
    out = {}
    for name, stacks in stacks_of(t):
        if not name.startswith("checkout."):
            continue
        for frames, c in stacks:
            out[frames[-1]] = out.get(frames[-1], 0) + c * SCALE
    out["work"] += 7 * SCALE
    out["pp_%s_only" % t] = 11 * SCALE
    out["push_%s_only" % t] = 13 * SCALE
    return out


def expected_union():
    want = {}
    for t in TENANTS:
        for k, v in expected_checkout(t).items():
            want[k] = want.get(k, 0) + v
    return want


def expected_series(t):
    """(service_name, pod) of every series of tenant t with env=prod."""
    return sorted([("checkout", "pod-%s-1" % t), ("checkout", "pod-%s-2" % t), ("svc-%s" % t, None)])


def markers(t):
    return ["fn_%s_only" % t, "fn_%s_serve" % t, "pp_%s_only" % t, "push_%s_only" % t, "team_%s" % t,
            "pod-%s-1" % t, "pod-%s-2" % t, "svc-%s" % t, "svc_%s_fn" % t,
            str(TIME[t] * 1000)]


def other(t):
    return [x for x in TENANTS if x != t][0]


def load(front):
    """Write both tenants' data through front (a HearthProcess or nginx)."""
    for t in TENANTS:
        hdr = {"X-Scope-OrgID": t}
        uploads = [({"name": name, "from": str(TIME[t]), "until": str(TIME[t] + 10)},
                    L.folded_body(stacks)) for name, stacks in stacks_of(t)]
        uploads.append(({"name": "checkout{env=prod,pod=pod-%s-1,team_%s=yes}" % (t, t),
                         "format": "pprof"}, pprof_of(t)))
        for params, body in uploads:
            r = front.post("/ingest", params, body, headers=hdr)
            if r.status != 200:
                raise L.HearthError("POST /ingest %s as %s -> %d: %s" % (
                    L.encode_query(params), t, r.status, r.text()[:1000]))
        r = L.connect_call(front, "/push.v1.PusherService/Push", connect_push_of(t), headers=hdr)
        if r.status != 200:
            raise L.HearthError("Connect Push as %s -> %d: %s" % (t, r.status, r.text()[:1000]))


# ---------------------------------------------------------------------------
# Every query API, as (name, function(front, headers) -> Response)
# ---------------------------------------------------------------------------

def q_render(h, hdr):
    return h.get("/pyroscope/render", [
        ("query", CPU + '{service_name="checkout"}'), ("from", str(FROM_MS)),
        ("until", str(UNTIL_MS)), ("maxNodes", "100000")], headers=hdr)


def q_render_group(h, hdr):
    return h.get("/pyroscope/render", [
        ("query", CPU + '{env="prod"}'), ("from", str(FROM_MS)), ("until", str(UNTIL_MS)),
        ("groupBy", "pod")], headers=hdr)


def q_diff(h, hdr):
    q = CPU + '{service_name="checkout"}'
    return h.get("/pyroscope/render-diff", [
        ("leftQuery", q), ("leftFrom", str(FROM_MS)), ("leftUntil", str(UNTIL_MS)),
        ("rightQuery", q), ("rightFrom", str(FROM_MS)), ("rightUntil", str(UNTIL_MS))],
        headers=hdr)


def q_label_names(h, hdr):
    return h.get("/pyroscope/label-names", [("from", str(FROM_MS)), ("until", str(UNTIL_MS))],
                 headers=hdr)


def q_label_values(label):
    def f(h, hdr):
        return h.get("/pyroscope/label-values", [
            ("label", label), ("from", str(FROM_MS)), ("until", str(UNTIL_MS))], headers=hdr)
    return f


def connect(method, msg):
    def f(h, hdr):
        return L.connect_call(h, "/querier.v1.QuerierService/" + method, msg, headers=hdr)
    return f


RANGE = {"start": str(FROM_MS), "end": str(UNTIL_MS)}
SEL = {"profileTypeID": CPU, "labelSelector": '{service_name="checkout"}'}

q_series = connect("Series", dict(RANGE, matchers=['{env="prod"}']))
q_stacktraces = connect("SelectMergeStacktraces", dict(RANGE, **SEL))
q_pprof = connect("SelectMergeProfile", dict(RANGE, **SEL))
q_select_series = connect("SelectSeries", dict(RANGE, step=60, groupBy=["pod"], **SEL))
q_connect_diff = connect("Diff", {"left": dict(RANGE, **SEL), "right": dict(RANGE, **SEL)})
q_stats = connect("GetProfileStats", {})

QUERIES = [
    ("render", q_render),
    ("render groupBy", q_render_group),
    ("render-diff", q_diff),
    ("label-names", q_label_names),
    ("label-values service_name", q_label_values("service_name")),
    ("label-values pod", q_label_values("pod")),
    ("label-values __name__", q_label_values("__name__")),
    ("Connect ProfileTypes", connect("ProfileTypes", RANGE)),
    ("Connect LabelNames", connect("LabelNames", RANGE)),
    ("Connect LabelValues", connect("LabelValues", dict(RANGE, name="pod"))),
    ("Connect Series", q_series),
    ("Connect SelectMergeStacktraces", q_stacktraces),
    ("Connect SelectMergeSpanProfile", connect("SelectMergeSpanProfile", dict(RANGE, **SEL))),
    ("Connect SelectMergeProfile (pprof export)", q_pprof),
    ("Connect SelectSeries", q_select_series),
    ("Connect Diff", q_connect_diff),
    ("Connect GetProfileStats", q_stats),
    ("Connect AnalyzeQuery", connect("AnalyzeQuery", dict(RANGE, query='{service_name="checkout"}'))),
]


# ---------------------------------------------------------------------------
# Decoding the answers that carry values
# ---------------------------------------------------------------------------

def connect_flamegraph_self(fg):
    """{function: self} of a Connect flame graph (levels of string values)."""
    fb = {"names": fg["names"], "levels": [[int(x) for x in lv.get("values", [])]
                                           for lv in fg["levels"]]}
    tree, _ = L.flamebearer_tree(fb)
    return L.self_by_name(tree)


def pprof_json_self(p):
    """{leaf function: value} of a pprof profile in Connect's JSON form."""
    strings = p.get("stringTable", [])
    fname = {f["id"]: strings[int(f.get("name", "0"))] for f in p.get("function", [])}
    leaf = {loc["id"]: fname[loc["line"][0]["functionId"]] for loc in p.get("location", [])}
    out = {}
    for s in p.get("sample", []):
        name = leaf[s["locationId"][0]]
        out[name] = out.get(name, 0) + int(s["value"][0])
    return out


def series_pairs(answer):
    """Sorted (service_name, pod) of a Connect Series answer."""
    out = []
    for ls in answer.get("labelsSet", []):
        d = {x["name"]: x["value"] for x in ls.get("labels", [])}
        out.append((d.get("service_name"), d.get("pod")))
    return sorted(out, key=lambda x: (x[0], x[1] or ""))


# ---------------------------------------------------------------------------
# The checks, shared by both setups
# ---------------------------------------------------------------------------

class TenancyChecks:
    """The isolation tests. A subclass (also an L.HearthTestCase) provides:
    front() — where to write and query; head_series(tenant) — the head
    series count of tenant on every storage process (one number per
    process); restart_storage() — stop the storage processes (heads become
    blocks) and start them again on the same data."""

    def json_of(self, r, what):
        self.assertStatus(r, 200, what)
        return r.json()

    def check_values(self, h, hdr, tenants, where):
        """Exact values of the data of tenants (one, or the union), asked with hdr."""
        who = "%s: as %s" % (where, hdr["X-Scope-OrgID"])
        want = {}
        for t in tenants:
            for k, v in expected_checkout(t).items():
                want[k] = want.get(k, 0) + v
        total = sum(want.values())
        fb = h.render(CPU + '{service_name="checkout"}', FROM_MS, UNTIL_MS, headers=hdr,
                      maxNodes=100000)
        tree, _ = L.flamebearer_tree(fb["flamebearer"])
        self.assertEqual(L.self_by_name(tree), want, "%s: render" % who)
        self.assertEqual(fb["flamebearer"]["numTicks"], total, "%s: render numTicks" % who)
        d = self.json_of(q_diff(h, hdr), who)
        self.assertEqual((d.get("leftTicks"), d.get("rightTicks")), (total, total),
                         "%s: render-diff ticks" % who)
        fg = self.json_of(q_stacktraces(h, hdr), who)["flamegraph"]
        self.assertEqual(connect_flamegraph_self(fg), want, "%s: SelectMergeStacktraces" % who)
        self.assertEqual(int(fg["total"]), total, "%s: SelectMergeStacktraces total" % who)
        p = self.json_of(q_pprof(h, hdr), who)
        self.assertEqual(pprof_json_self(p), want, "%s: SelectMergeProfile (pprof export)" % who)
        ss = self.json_of(q_select_series(h, hdr), who)
        self.assertEqual(sum(int(pt["value"]) for s in ss["series"] for pt in s.get("points", [])),
                         total, "%s: SelectSeries sum of points" % who)
        cd = self.json_of(q_connect_diff(h, hdr), who)["flamegraph"]
        self.assertEqual((int(cd["leftTicks"]), int(cd["rightTicks"])), (total, total),
                         "%s: Connect Diff ticks" % who)
        st = self.json_of(q_stats(h, hdr), who)
        times = sorted(TIME[t] * 1000 for t in tenants)
        self.assertEqual((st.get("dataIngested"), int(st["oldestProfileTime"]),
                          int(st["newestProfileTime"])), (True, times[0], times[-1]),
                         "%s: GetProfileStats" % who)
        pairs = []
        for t in tenants:
            pairs += expected_series(t)
        self.assertEqual(series_pairs(self.json_of(q_series(h, hdr), who)),
                         sorted(pairs, key=lambda x: (x[0], x[1] or "")), "%s: Connect Series" % who)
        self.assertEqual(q_label_values("service_name")(h, hdr).json(),
                         sorted(["checkout"] + ["svc-%s" % t for t in tenants]),
                         "%s: label-values service_name" % who)
        self.assertEqual(q_label_values("pod")(h, hdr).json(),
                         sorted(["pod-%s-%d" % (t, i) for t in tenants for i in (1, 2)]),
                         "%s: label-values pod" % who)

    def check_isolation(self, where):
        h = self.front()
        for t in TENANTS:
            hdr = {"X-Scope-OrgID": t}
            for name, f in QUERIES:
                r = f(h, hdr)
                self.assertStatus(r, 200, "%s: %s as tenant %s" % (where, name, t))
                text = r.body.decode("utf-8", "replace")
                for m in markers(other(t)):
                    self.assertNotIn(m, text, "%s: %s as tenant %s shows %r of tenant %s: %s" % (
                        where, name, t, m, other(t), text[:800]))
            self.check_values(h, hdr, [t], where)
            # svc-<t> has env=prod but no pod: its group is "*"
            groups = q_render_group(h, hdr).json()["groups"]
            self.assertEqual(sorted(groups), ["*", "pod-%s-1" % t, "pod-%s-2" % t],
                             "%s: render groupBy=pod as %s" % (where, t))
            names = q_label_names(h, hdr).json()
            self.assertIn("team_%s" % t, names)
            self.assertNotIn("team_%s" % other(t), names)

    def check_union(self, where):
        h = self.front()
        hdr = {"X-Scope-OrgID": "globex|acme"}
        for name, f in QUERIES:
            r = f(h, hdr)
            self.assertStatus(r, 200, "%s: %s as acme|globex" % (where, name))
        self.check_values(h, hdr, TENANTS, where)
        names = q_label_names(h, hdr).json()
        self.assertIn("team_acme", names)
        self.assertIn("team_globex", names)

    def test_1_isolation_in_the_head(self):
        self.check_isolation("head")

    def test_2_cross_tenant_read_is_the_union(self):
        self.check_union("head")

    def test_3_each_tenant_is_stored_under_its_own_id(self):
        deadline = time.monotonic() + 15
        for t in TENANTS:
            while True:
                got = self.head_series(t)
                if got == [SERIES_PER_TENANT] * len(got) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)   # the replica outside the write quorum may lag
            self.assertEqual(got, [SERIES_PER_TENANT] * len(got),
                             "head series of tenant %s per storage process" % t)
        self.assertEqual(self.head_series("anonymous"), [0] * len(got),
                         "nothing may be stored as tenant anonymous with multi-tenancy on")

    def test_4_missing_or_invalid_tenant_on_every_data_path(self):
        h = self.front()
        for name, f in QUERIES:
            r = f(h, {})
            self.assertStatus(r, 401, "%s without X-Scope-OrgID" % name)
            self.assertEqual(L.error_body(r)["code"], "unauthenticated", name)
            r = f(h, {"X-Scope-OrgID": "a b"})
            self.assertStatus(r, 400, "%s with X-Scope-OrgID 'a b'" % name)
        r = h.post("/ingest", {"name": "x.cpu"}, b"main 1\n")
        self.assertStatus(r, 401, "ingest without X-Scope-OrgID")
        self.assertIn("missing X-Scope-OrgID header", L.error_body(r)["message"])
        r = h.post("/ingest", {"name": "x.cpu"}, b"main 1\n", headers={"X-Scope-OrgID": "a b"})
        self.assertStatus(r, 400, "ingest as 'a b'")
        r = h.post("/ingest", {"name": "x.cpu"}, b"main 1\n", headers={"X-Scope-OrgID": "a|b"})
        self.assertStatus(r, 400, "ingest as a|b")
        self.assertIn("only queries may span tenants", L.error_body(r)["message"])
        r = L.connect_call(h, "/push.v1.PusherService/Push", {"series": []})
        self.assertStatus(r, 401, "Connect Push without X-Scope-OrgID")
        r = L.connect_call(h, "/push.v1.PusherService/Push", {"series": []}, tenant="a|b")
        self.assertStatus(r, 400, "Connect Push as a|b")

    def test_5_isolation_survives_restart_into_blocks(self):
        self.restart_storage()
        for t in TENANTS:   # the heads were written as blocks at shutdown: this reads blocks
            got = self.head_series(t)
            self.assertEqual(got, [0] * len(got), "head series of %s after the restart" % t)
        self.check_isolation("blocks")
        self.check_union("blocks")


# ---------------------------------------------------------------------------
# The two setups
# ---------------------------------------------------------------------------

class SingleProcessTenancyTest(TenancyChecks, L.HearthTestCase):
    """One all-in-one hearth process."""
    stopped = []   # earlier processes whose tmpdir holds the data directory

    @classmethod
    def setUpClass(cls):
        h = L.HearthProcess(flags=[MULTITENANCY], name="hearth").start()
        cls.hearth = h
        cls.data = os.path.join(h.tmpdir, "data-%d" % h.port)
        try:
            load(h)
        except Exception:
            h.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            try:
                cls.hearth.stop_checked()
            finally:
                cls.hearth.cleanup()
        finally:
            for p in cls.stopped:
                p.cleanup()

    def front(self):
        return self.hearth

    def head_series(self, tenant):
        return [int(self.hearth.metric("hearth_ingester_head_series", tenant=tenant) or 0)]

    def restart_storage(self):
        cls = type(self)
        cls.hearth.stop_checked()
        cls.stopped.append(cls.hearth)
        cls.hearth = L.HearthProcess(flags=[MULTITENANCY], data_dir=cls.data,
                                     name="hearth-restarted").start()


class ClusterTenancyTest(TenancyChecks, L.HearthTestCase):
    """3 ingesters (RF = 3), 2 distributors, 1 querier, nginx in front."""
    cluster = None
    old_tmpdirs = []   # the stderr directories of the ingesters' first run

    @classmethod
    def setUpClass(cls):
        c = L.Cluster(n_ingesters=3, n_distributors=2, rf=3, flags=[MULTITENANCY])
        try:
            c.start()
            load(c.front())
        except Exception:
            sys.stderr.write(c.tails(40) + "\n")
            c.cleanup()
            raise
        cls.cluster = c

    @classmethod
    def tearDownClass(cls):
        problems = cls.cluster.cleanup()
        if os.environ.get("HEARTH_KEEP_TMP") != "1":
            for d in cls.old_tmpdirs:
                shutil.rmtree(d, ignore_errors=True)
        if problems:
            raise L.HearthError("cluster shutdown:\n" + "\n".join(problems))

    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before \
                and self.cluster is not None:
            sys.stderr.write("\n" + self.cluster.tails(30) + "\n")
        return out

    def tearDown(self):
        dead = [p.name for p in self.cluster.routers() + list(self.cluster.ingesters.values())
                if p.proc is not None and not p.alive()]
        if dead:
            self.fail("cluster processes exited during this test: %s\n%s" % (
                ", ".join(dead), self.cluster.tails(60)))

    def front(self):
        return self.cluster.front()

    def head_series(self, tenant):
        return [int(p.metric("hearth_ingester_head_series", tenant=tenant) or 0)
                for p in self.cluster.ingesters.values()]

    def restart_storage(self):
        c = self.cluster
        for p in c.ingesters.values():
            p.stop_checked()
            type(self).old_tmpdirs.append(p.tmpdir)   # start() makes a new one
        for iid in c.ingesters:
            c.restart_ingester(iid)
        c.wait_active()


class SingleTenantTest(L.HearthTestCase):
    """Multi-tenancy off: the header is ignored, everything is "anonymous"."""

    def test_header_is_ignored(self):
        with L.HearthProcess(name="hearth-single") as h:
            h.ingest({"name": "solo.cpu", "from": str(T0)}, b"main;a 1\n",
                     headers={"X-Scope-OrgID": "acme"})
            h.ingest({"name": "solo.cpu", "from": str(T0)}, b"main;b 2\n")
            for hdr in ({}, {"X-Scope-OrgID": "globex"}, {"X-Scope-OrgID": "a|b"}):
                fb = h.render(CPU + '{service_name="solo"}', FROM_MS, UNTIL_MS, headers=hdr)
                tree, _ = L.flamebearer_tree(fb["flamebearer"])
                self.assertEqual(L.self_by_name(tree), {"a": SCALE, "b": 2 * SCALE}, hdr)
            self.assertEqual(h.metric("hearth_ingester_head_series", tenant="anonymous"), 1)


if __name__ == "__main__":
    L.run_tests()
