#!/usr/bin/env python3
"""Tenant isolation: two tenants write the same service names and label sets;
no query API shows one tenant's data to the other.

Every tenant's data carries markers no other tenant has: function names
(`fn_<tenant>_only`, in folded and in pprof uploads), a label name
(`team_<tenant>`), label values (`pod-<tenant>-N`) and a service
(`svc-<tenant>`). Every query API — the legacy render, render-diff,
label-names, label-values and the Connect querier.v1 methods (series
listing, flame graphs, the pprof export, time series, diff, profile types,
stats) — is asked as each tenant, and its answer must hold none of the other
tenant's markers, and the exact per-function values of its own data. A
cross-tenant read (`X-Scope-OrgID: a|b`) must answer the union, exactly.
Then hearth restarts on the same data directory (the heads were written as
RocksDB blocks at shutdown) and every check runs again, against blocks.

Also: with multi-tenancy on, every data path answers 401 without the header
and 400 for an invalid tenant ID, and writes refuse `a|b`; with it off, the
header is ignored and everything is tenant "anonymous".
(Cluster mode does not exist yet: this runs the all-in-one process.)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

H = None
DATA = None
STOPPED = []   # processes whose data directory is still in use
CPU = L.CPU_TYPE
T0 = L.now_s() - 600          # every profile's time
FROM_MS, UNTIL_MS = (T0 - 3600) * 1000, (T0 + 3600) * 1000
TENANTS = ("acme", "globex")
SCALE = 10 ** 7               # folded counts at sampleRate 100


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
    b = L.PprofBuilder(time_nanos=T0 * 10 ** 9)
    b.sample(b.stack("main", "work"), [7 * SCALE])
    b.sample(b.stack("main", "pp_%s_only" % t), [11 * SCALE])
    return b.encode_gz()


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
    return out


def markers(t):
    return ["fn_%s_only" % t, "fn_%s_serve" % t, "pp_%s_only" % t, "team_%s" % t,
            "pod-%s-1" % t, "pod-%s-2" % t, "svc-%s" % t, "svc_%s_fn" % t]


def other(t):
    return [x for x in TENANTS if x != t][0]


def load(h):
    for t in TENANTS:
        hdr = {"X-Scope-OrgID": t}
        for name, stacks in stacks_of(t):
            h.ingest({"name": name, "from": str(T0), "until": str(T0 + 10)},
                     L.folded_body(stacks), headers=hdr)
        h.ingest({"name": "checkout{env=prod,pod=pod-%s-1,team_%s=yes}" % (t, t),
                  "format": "pprof"}, pprof_of(t), headers=hdr)


def setUpModule():
    global H, DATA
    H = L.HearthProcess(flags=["-auth.multitenancy-enabled"], name="hearth").start()
    DATA = os.path.join(H.tmpdir, "data-%d" % H.port)
    L.HearthTestCase.hearth = H
    load(H)


def tearDownModule():
    try:
        if H is not None:
            try:
                H.stop_checked()
            finally:
                H.cleanup()
    finally:
        for p in STOPPED:
            p.cleanup()


# ---------------------------------------------------------------------------
# Every query API, as (name, function(hearth, headers) -> Response)
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
    ("Connect Series", connect("Series", dict(RANGE, matchers=['{env="prod"}']))),
    ("Connect SelectMergeStacktraces",
     connect("SelectMergeStacktraces", dict(RANGE, **SEL))),
    ("Connect SelectMergeProfile (pprof export)",
     connect("SelectMergeProfile", dict(RANGE, **SEL))),
    ("Connect SelectSeries", connect("SelectSeries", dict(RANGE, step=60, groupBy=["pod"],
                                                          **SEL))),
    ("Connect Diff", connect("Diff", {"left": dict(RANGE, **SEL), "right": dict(RANGE, **SEL)})),
    ("Connect GetProfileStats", connect("GetProfileStats", {})),
]


class TenancyTest(L.HearthTestCase):

    def check_isolation(self, h, where):
        for t in TENANTS:
            hdr = {"X-Scope-OrgID": t}
            for name, f in QUERIES:
                r = f(h, hdr)
                self.assertStatus(r, 200, "%s: %s as tenant %s" % (where, name, t))
                text = r.body.decode("utf-8", "replace")
                for m in markers(other(t)):
                    self.assertNotIn(m, text, "%s: %s as tenant %s shows %r of tenant %s: %s" % (
                        where, name, t, m, other(t), text[:800]))
            # exact values of its own data
            fb = h.render(CPU + '{service_name="checkout"}', FROM_MS, UNTIL_MS, headers=hdr,
                          maxNodes=100000)
            tree, _ = L.flamebearer_tree(fb["flamebearer"])
            got = L.self_by_name(tree)
            self.assertEqual(got, expected_checkout(t), "%s: render as %s" % (where, t))
            # svc-<t> has env=prod but no pod: its group is "*"
            groups = q_render_group(h, hdr).json()["groups"]
            self.assertEqual(sorted(groups), ["*", "pod-%s-1" % t, "pod-%s-2" % t],
                             "%s: render groupBy=pod as %s" % (where, t))
            self.assertEqual(q_label_values("service_name")(h, hdr).json(),
                             sorted(["checkout", "svc-%s" % t]), "%s: services of %s" % (where, t))
            self.assertEqual(q_label_values("pod")(h, hdr).json(),
                             ["pod-%s-1" % t, "pod-%s-2" % t], "%s: pods of %s" % (where, t))
            names = q_label_names(h, hdr).json()
            self.assertIn("team_%s" % t, names)
            self.assertNotIn("team_%s" % other(t), names)
            d = q_diff(h, hdr).json()
            total = sum(expected_checkout(t).values())
            self.assertEqual((d.get("leftTicks"), d.get("rightTicks")), (total, total),
                             "%s: render-diff ticks as %s" % (where, t))

    def check_union(self, h, where):
        hdr = {"X-Scope-OrgID": "globex|acme"}
        fb = h.render(CPU + '{service_name="checkout"}', FROM_MS, UNTIL_MS, headers=hdr,
                      maxNodes=100000)
        tree, _ = L.flamebearer_tree(fb["flamebearer"])
        want = {}
        for t in TENANTS:
            for k, v in expected_checkout(t).items():
                want[k] = want.get(k, 0) + v
        self.assertEqual(L.self_by_name(tree), want, "%s: cross-tenant render" % where)
        self.assertEqual(q_label_values("pod")(h, hdr).json(),
                         ["pod-acme-1", "pod-acme-2", "pod-globex-1", "pod-globex-2"])
        self.assertEqual(q_label_values("service_name")(h, hdr).json(),
                         ["checkout", "svc-acme", "svc-globex"])
        for name, f in QUERIES:
            r = f(h, hdr)
            self.assertStatus(r, 200, "%s: %s as acme|globex" % (where, name))
        r = connect("Series", dict(RANGE, matchers=['{env="prod"}'], labelNames=["pod"]))(h, hdr)
        text = r.body.decode()
        for m in ("pod-acme-1", "pod-globex-2"):
            self.assertIn(m, text, "%s: Connect Series as acme|globex" % where)

    def test_1_isolation_in_the_head(self):
        self.check_isolation(H, "head")

    def test_2_cross_tenant_read_is_the_union(self):
        self.check_union(H, "head")

    def test_3_missing_or_invalid_tenant_on_every_data_path(self):
        for name, f in QUERIES:
            r = f(H, {})
            self.assertStatus(r, 401, "%s without X-Scope-OrgID" % name)
            self.assertEqual(L.error_body(r)["code"], "unauthenticated", name)
            r = f(H, {"X-Scope-OrgID": "a b"})
            self.assertStatus(r, 400, "%s with X-Scope-OrgID 'a b'" % name)
        r = H.post("/ingest", {"name": "x.cpu"}, b"main 1\n")
        self.assertStatus(r, 401, "ingest without X-Scope-OrgID")
        self.assertIn("missing X-Scope-OrgID header", L.error_body(r)["message"])
        r = H.post("/ingest", {"name": "x.cpu"}, b"main 1\n", headers={"X-Scope-OrgID": "a|b"})
        self.assertStatus(r, 400, "ingest as a|b")
        self.assertIn("only queries may span tenants", L.error_body(r)["message"])
        r = L.connect_call(H, "/push.v1.PusherService/Push", {"series": []})
        self.assertStatus(r, 401, "Connect Push without X-Scope-OrgID")

    def test_4_isolation_survives_restart_into_blocks(self):
        global H
        H.stop_checked()
        H2 = L.HearthProcess(flags=["-auth.multitenancy-enabled"], data_dir=DATA,
                             name="hearth-restarted").start()
        STOPPED.append(H)   # its tmpdir holds the data directory
        H = H2
        L.HearthTestCase.hearth = H2
        self.check_isolation(H2, "blocks")
        self.check_union(H2, "blocks")


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
