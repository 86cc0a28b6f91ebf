#!/usr/bin/env python3
"""The cluster with RF = 3: exact answers, a crashed ingester, a hung one,
and one that answers its plan but never its select (a proxy in front of
ingester-3 swallows its SELECT requests: SelectSwallower; the querier hedges).

Three ingesters (-target=ingester), two distributors and one querier as
separate processes on 127.0.0.1, static membership, Debian's nginx in front
(deploy/local/nginx.conf.in: ingest paths to the distributors, the rest to
the querier). Every push goes through nginx and is recorded (PushLedger);
every check compares the querier's per-function self values with the sum
over the pushes that were acknowledged, exactly: a profile counted twice or
three times (one per replica), or an acknowledged profile missing, fails.

Run: HEARTH_BIN=build/cmd/hearth python3 tests/integration/test_cluster.py
"""

import json
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as h  # noqa: E402

CLUSTER = None
QUERY_TIMEOUT_S = 5
RPC_SELECT = 2  # common/rpc.h HEARTH_RPC_SELECT


class SelectSwallower:
    """A TCP proxy in front of one ingester's RPC port that forwards nng's
    SP-over-TCP stream unchanged, except requests whose rpc envelope
    (proto/rpc.proto Request, field 1 = method) is SELECT: those are
    dropped, so the ingester answers its plan and then never its select,
    deterministically (what SIGSTOP only does by chance of timing).

    Framing (nng's tcp transport): each side first sends an 8-byte
    handshake, then messages as an 8-byte big-endian length and the bytes;
    a REQ message starts with its 4-byte request id."""

    def __init__(self, target_port):
        self.target = target_port
        self.swallowed = 0
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.closed = False
        self.socks = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
                u = socket.create_connection(("127.0.0.1", self.target), timeout=10)
            except OSError:
                return
            u.settimeout(None)
            self.socks += [c, u]
            threading.Thread(target=self._pipe, args=(c, u, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(u, c, False), daemon=True).start()

    @staticmethod
    def _read(s, n):
        out = b""
        while len(out) < n:
            b = s.recv(n - len(out))
            if not b:
                raise OSError("closed")
            out += b
        return out

    def _pipe(self, src, dst, requests):
        try:
            dst.sendall(self._read(src, 8))  # SP handshake
            while True:
                head = self._read(src, 8)
                body = self._read(src, struct.unpack(">Q", head)[0])
                if requests and body[4:6] == bytes([0x08, RPC_SELECT]):
                    self.swallowed += 1
                    continue
                dst.sendall(head + body)
        except OSError:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self):
        self.closed = True
        for s in [self.lsock] + self.socks:
            try:
                s.close()
            except OSError:
                pass

# Sanitizer builds run several times slower: latency bounds get this factor.
SLOW = 3.0 if h.binary_is_sanitized() else 1.0


def setUpModule():
    global CLUSTER
    CLUSTER = h.Cluster(n_ingesters=3, n_distributors=2, rf=3,
                        querier_flags=["-limits.query-timeout=%ds" % QUERY_TIMEOUT_S])
    try:
        CLUSTER.start()
    except Exception:
        sys.stderr.write(CLUSTER.tails(40) + "\n")
        CLUSTER.cleanup()
        raise


def tearDownModule():
    problems = CLUSTER.cleanup()
    if problems:
        raise h.HearthError("cluster shutdown:\n" + "\n".join(problems))


class ClusterTest(h.HearthTestCase):
    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            sys.stderr.write("\n" + CLUSTER.tails(30) + "\n")
        return out

    def assertExact(self, ledger, what):
        problems = ledger.verify(CLUSTER.front(), exact=False)
        self.assertEqual(problems, [], "%s: the querier's answer is not what was acknowledged:\n%s" % (
            what, "\n".join(problems)))

    def push_all(self, ledger, n, threads=2):
        p = h.Pusher(ledger, CLUSTER.front().port, threads=threads, max_pushes=n).start()
        deadline = time.monotonic() + 120
        while p.made < n or any(t.is_alive() for t in p.threads):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        p.stop()
        return p

    # -------------------------------------------------------------------------
    def test_1_rf3_every_query_equals_the_ingested_totals(self):
        base = h.hour_aligned_base()
        schemes = [h.PushScheme("folded", h.unique("rf3-folded"), "mark_f_", base, step_s=61),
                   h.PushScheme("pprof", h.unique("rf3-pprof"), "mark_p_", base + 7, step_s=61)]
        ledger = h.cluster_ledger(schemes)
        p = self.push_all(ledger, 240)
        self.assertEqual(ledger.counts(), {"acked": 240},
                         "every push to a healthy RF=3 cluster is acknowledged; statuses %r, first errors %r"
                         % (p.statuses, p.first_error))
        self.assertExact(ledger, "RF=3, 3 healthy ingesters")
        # Narrower queries: half the range (cutting through an id window),
        # one pod, and both at once, against the same sums computed here.
        for sch in schemes:
            mine = [i for i in ledger.ids("acked") if ledger.scheme(i) is sch]
            mid = sch.ts(mine[len(mine) // 2]) + 30
            pa, pb = mine[0] % sch.pods, mine[1] % sch.pods    # two pods this scheme has
            cases = [
                ("first half", sch.query(), (sch.base_s - 60) * 1000, mid * 1000,
                 [i for i in mine if sch.ts(i) < mid]),
                ("pod-%d" % pa, sch.query()[:-1] + ',pod="pod-%d"}' % pa, (sch.base_s - 60) * 1000,
                 (sch.ts(max(mine)) + 60) * 1000, [i for i in mine if i % sch.pods == pa]),
                ("pod-%d, second half" % pb, sch.query()[:-1] + ',pod="pod-%d"}' % pb, mid * 1000,
                 (sch.ts(max(mine)) + 60) * 1000, [i for i in mine if i % sch.pods == pb and sch.ts(i) > mid]),
            ]
            for what, q, frm, until, ids in cases:
                self.assertTrue(ids, what)
                status, got, ticks, body = h.query_self_values(CLUSTER.front(), q, frm, until)
                self.assertEqual(status, 200, "%s: %s" % (what, body[:500]))
                want = h.self_values_over(sch, ids)
                self.assertEqual(got, want, "%s %s [%d, %d]: per-function self values differ:\n%s" % (
                    sch.kind, what, frm, until, h.diff_dicts(want, got)))
                self.assertEqual(ticks, sum(want.values()), what)

    def test_1b_span_profiles_counted_once(self):
        """SelectMergeSpanProfile through the replicated fan-out: a span's
        samples once, not once per replica."""
        svc = h.unique("rf3-spans")
        base_ms = (int(time.time()) - 1800) * 1000
        spans = ["%016x" % (0x5a5a00000000 + i) for i in range(4)]
        want = {sp: {} for sp in spans}        # span -> {path: total}
        for k in range(8):
            b = h.PprofBuilder(time_nanos=(base_ms + k * 61000) * 1000000)
            for i, sp in enumerate(spans):
                frames = ("main", "handler%d" % i, "work")
                v = (k + 1) * (i + 1) * 10000000
                b.sample(b.stack(*frames), [v], labels=[("profile_id", sp)])
                h.add_stack(want[sp], frames, v)
            b.sample(b.stack("main", "idle"), [50000000])    # no span
            body = h.pb_msg(1, h.pb_msg(1, h.pb_bytes(1, "__name__"), h.pb_bytes(2, "process_cpu")),
                            h.pb_msg(1, h.pb_bytes(1, "service_name"), h.pb_bytes(2, svc)),
                            h.pb_msg(2, h.pb_bytes(1, b.encode_gz())))
            r = h.connect_call(CLUSTER.front(), "/push.v1.PusherService/Push", body, codec="proto")
            self.assertStatus(r, 200, "Push %d" % k)
        import json
        for ask in ([spans[1]], [spans[0], spans[3]], ["0123456789abcdef"]):
            tree = {}
            for sp in ask:
                for path, (total, self_v) in want.get(sp, {}).items():
                    node = tree.setdefault(path, [0, 0])
                    node[0] += total
                    node[1] += self_v
            r = h.connect_call(CLUSTER.front(), "/querier.v1.QuerierService/SelectMergeSpanProfile", {
                "profileTypeID": h.CPU_TYPE, "labelSelector": '{service_name="%s"}' % svc,
                "spanSelector": ask, "start": base_ms - 60000, "end": base_ms + 3600000,
                "maxNodes": 1048576})
            self.assertStatus(r, 200, "SelectMergeSpanProfile %s" % ask)
            fg = json.loads(h.connect_body(r))["flamegraph"]
            levels = [[int(x) for x in lv.get("values", [])] for lv in fg.get("levels", [])]
            got, total = h.flamebearer_tree({"names": fg["names"], "levels": levels})
            self.assertEqual(total, sum(n[1] for n in tree.values()), "spans %s: total" % ask)
            self.assertEqual(got, tree, "spans %s: tree" % ask)

    def test_2_sigkill_one_ingester_mid_ingest(self):
        base = h.hour_aligned_base(3)
        schemes = [h.PushScheme("folded", h.unique("kill-folded"), "kill_f_", base, step_s=13),
                   h.PushScheme("pprof", h.unique("kill-pprof"), "kill_p_", base + 5, step_s=13)]
        ledger = h.cluster_ledger(schemes)
        victim = CLUSTER.ingesters["ingester-2"]
        pusher = h.Pusher(ledger, CLUSTER.front().port, threads=2).start()
        try:
            time.sleep(2.0)
            self.assertGreater(ledger.counts().get("acked", 0), 0, "no push acknowledged before the kill")
            killed_at = time.monotonic()
            victim.kill9()
            # Health notices within a heartbeat timeout and an interval or two.
            CLUSTER.wait_state("ingester-2", "UNHEALTHY", timeout=15)
            noticed_at = time.monotonic()
            time.sleep(4.0)
        finally:
            pusher.stop()
        counts = ledger.counts()
        bad = [(i, ledger.detail.get(i)) for i in ledger.ids("rejected", "unknown")]
        late = [(i, ledger.detail.get(i)) for i in ledger.ids("rejected", "unknown")
                if ledger.ack_time[i] > noticed_at + 1.0 * SLOW]
        sys.stderr.write("\n  SIGKILL mid-ingest: %r; health noticed after %.2f s; statuses %r\n" % (
            counts, noticed_at - killed_at, pusher.statuses))
        self.assertEqual(late, [], "writes after the cluster noticed the dead ingester must all succeed "
                                   "at quorum (2 of 3)")
        for i, detail in bad:
            self.assertRegex(detail or "", r"^HTTP 5\d\d|^no answer",
                             "push #%d: only a retry-able 5xx is acceptable around the kill" % i)
        self.assertGreater(counts.get("acked", 0), 20)
        self.assertExact(ledger, "one ingester SIGKILLed (RF=3, 2 left)")

        # More writes while it is down, then bring it back on the same data.
        try:
            before = ledger.next_id
            self.push_all(ledger, 40)
            self.assertEqual(self.failed_since(ledger, before), [],
                             "writes with one of three ingesters down must succeed at quorum")
            self.assertExact(ledger, "one ingester down, after more writes")
        finally:
            CLUSTER.restart_ingester("ingester-2")
            CLUSTER.wait_active()
        self.assertExact(ledger, "after ingester-2 returned (it lacks what was written while it was down)")
        before = ledger.next_id
        self.push_all(ledger, 40)
        self.assertEqual(self.failed_since(ledger, before), [])
        self.assertExact(ledger, "after ingester-2 returned and more writes")

    @staticmethod
    def failed_since(ledger, first):
        """(id, detail) of the pushes from id first on that were not acknowledged."""
        return [(i, ledger.detail.get(i)) for i in ledger.ids("rejected", "unknown") if i >= first]

    def test_3_sigstop_query_finishes_within_its_deadline(self):
        base = h.hour_aligned_base(4)
        sch = h.PushScheme("folded", h.unique("stop-folded"), "stop_f_", base, step_s=17)
        ledger = h.cluster_ledger([sch])
        self.push_all(ledger, 60)
        self.assertEqual(ledger.counts(), {"acked": 60})
        self.assertExact(ledger, "before SIGSTOP")
        frm, until = ledger.query_range_ms(sch)
        want = h.self_values_over(sch, ledger.ids("acked"))
        victim = CLUSTER.ingesters["ingester-3"]
        victim.sigstop()
        try:
            # At once (health has not noticed yet), then once it has.
            for when in ("right after SIGSTOP", "after health marked it UNHEALTHY"):
                if when.startswith("after"):
                    CLUSTER.wait_state("ingester-3", "UNHEALTHY", procs=[CLUSTER.querier], timeout=15)
                t0 = time.monotonic()
                status, got, ticks, body = h.query_self_values(CLUSTER.front(), sch.query(), frm, until,
                                                               timeout=QUERY_TIMEOUT_S + 30)
                took = time.monotonic() - t0
                sys.stderr.write("\n  query %s: HTTP %d in %.2f s%s\n" % (
                    when, status, took, "" if status == 200 else ": " + body[:300]))
                self.assertLessEqual(took, QUERY_TIMEOUT_S + 2.0 * SLOW,
                                     "query %s took %.1f s, past its %d s deadline" % (when, took, QUERY_TIMEOUT_S))
                if status == 200:
                    self.assertEqual(got, want, "query %s: 200 but not exact:\n%s" % (when, h.diff_dicts(want, got)))
                else:
                    self.assertGreaterEqual(status, 500, body)
                    self.assertIn("ingester-3", body, "a partial failure names the missing member")
            # Writes do not wait for the hung replica: quorum is 2 of 3.
            before = ledger.next_id
            took = []
            for _ in range(10):
                t0 = time.monotonic()
                state, status, data = ledger.push_once(CLUSTER.front().port, timeout=60)
                took.append(round(time.monotonic() - t0, 3))
                self.assertEqual(status, 200, "push while ingester-3 hangs: %r" % data[:300])
            sys.stderr.write("  pushes while ingester-3 hangs took %r s\n" % took)
            self.assertLess(max(took), 2.0 * SLOW, "a write waited for the hung replica instead of the quorum "
                                                   "(seconds per push: %r)" % took)
            self.assertEqual(self.failed_since(ledger, before), [])
        finally:
            victim.sigcont()
        CLUSTER.wait_active()
        self.assertExact(ledger, "after SIGCONT")

    def test_3b_select_straggler_is_hedged(self):
        """ingester-3 answers the plan but never the select (its selects
        are swallowed on the way): once the straggler has had as long
        again as the others took (at least 1 s), its windows are asked of
        another replica that holds them (a hedge) and the query answers
        exactly, well before its deadline. Two shapes: a service with one
        series, whose select goes to one member only (before hedging, that
        lone select was waited for until the deadline: 504), and one with
        four series spread over the members.

        Which replica serves a series is fixed by its fingerprint, so the
        test tries fresh services until each shape had its select sent to
        ingester-3 (1 in 3 for one series)."""
        proxy = SelectSwallower(CLUSTER.ingesters["ingester-3"].rpc_port)
        q = CLUSTER.querier
        normal = list(q.extra_flags)
        members = [f for f in normal if f.startswith("-ring.members=")]
        self.assertEqual(len(members), 1, normal)
        via_proxy = members[0].replace(":%d" % CLUSTER.ingesters["ingester-3"].rpc_port,
                                       ":%d" % proxy.port)
        base = h.hour_aligned_base(5)
        tested = {1: 0, 4: 0}
        try:
            q.stop_checked()
            q.extra_flags = [via_proxy if f == members[0] else f for f in normal]
            q.start()
            CLUSTER.wait_active(procs=[q])
            for attempt in range(40):
                pods = 1 if tested[1] <= tested[4] else 4
                sch = h.PushScheme("folded", h.unique("straggler"), "strag_", base, step_s=13, pods=pods)
                ledger = h.cluster_ledger([sch])
                self.push_all(ledger, 6)
                self.assertEqual(ledger.counts(), {"acked": 6})
                frm, until = ledger.query_range_ms(sch)
                want = h.self_values_over(sch, ledger.ids("acked"))
                before = proxy.swallowed
                won_before = q.metric("hearth_querier_select_hedges_total", answered="hedge") or 0
                t0 = time.monotonic()
                status, got, _ticks, body = h.query_self_values(q, sch.query(), frm, until,
                                                                timeout=QUERY_TIMEOUT_S + 30)
                took = time.monotonic() - t0
                self.assertEqual(status, 200, body[:500])
                self.assertEqual(got, want, "not exact:\n%s" % h.diff_dicts(want, got))
                if proxy.swallowed == before:
                    continue  # this service's series are served by other replicas
                tested[pods] += 1
                sys.stderr.write("\n  query with ingester-3's select swallowed (%d series): HTTP %d "
                                 "in %.2f s (service %d)\n" % (pods, status, took, attempt + 1))
                self.assertLess(took, QUERY_TIMEOUT_S - 1.0 if SLOW == 1.0 else QUERY_TIMEOUT_S + 2.0 * SLOW,
                                "the straggler was waited for (%.1f s of a %d s deadline)" % (
                                    took, QUERY_TIMEOUT_S))
                won = q.metric("hearth_querier_select_hedges_total", answered="hedge") or 0
                self.assertEqual(won, won_before + 1, "the answer did not come from the hedge")
                if min(tested.values()) >= 1 and sum(tested.values()) >= 3:
                    break
            self.assertGreaterEqual(min(tested.values()), 1,
                                    "ingester-3 served no select of some shape in 40 services: "
                                    "the test tested too little (%r)" % tested)
            self.assertTrue(q.log_matches("ingester select hedged"), "no hedge in the querier log")
        finally:
            q.stop_checked()
            q.extra_flags = normal
            q.start()
            proxy.close()
        CLUSTER.wait_active()

    def test_4_queries_while_ingesting_count_each_profile_once(self):
        base = h.hour_aligned_base(5)
        sch = h.PushScheme("folded", h.unique("live-folded"), "live_f_", base, step_s=29)
        ledger = h.cluster_ledger([sch])
        pusher = h.Pusher(ledger, CLUSTER.front().port, threads=2).start()
        problems = []
        try:
            end = time.monotonic() + 6
            while time.monotonic() < end:
                acked = ledger.ids("acked")
                frm, until = ledger.query_range_ms(sch)
                status, got, _t, body = h.query_self_values(CLUSTER.front(), sch.query(), frm, until + 3600000)
                if status != 200:
                    problems.append("HTTP %d: %s" % (status, body[:300]))
                    continue
                problems += h.marker_problems(ledger, sch, got, acked)
        finally:
            pusher.stop()
        self.assertEqual(problems[:20], [])
        self.assertEqual(ledger.counts(), {"acked": ledger.next_id})
        self.assertExact(ledger, "after concurrent queries")

    def test_5_settings_outvote_a_member_that_missed_a_write(self):
        # settings.v1 (Drilldown's preferences): every ingester keeps a
        # copy, the querier merges them newest first.
        S = "/settings.v1.SettingsService/"
        front = CLUSTER.front()
        name = h.unique("drilldown")

        def call(method, body):
            r = h.connect_call(front, S + method, body)
            self.assertEqual(r.status, 200, "%s: %d %s" % (method, r.status, r.text()[:300]))
            return json.loads(h.connect_body(r) or b"{}")

        def value():
            got = {x["name"]: x["value"] for x in call("Get", {}).get("settings", [])}
            return got.get(name)

        call("Set", {"setting": {"name": name, "value": "v1"}})
        self.assertEqual(value(), "v1")
        victim = CLUSTER.ingesters["ingester-1"]
        victim.kill9()
        try:
            CLUSTER.wait_state("ingester-1", "UNHEALTHY", timeout=15)
            self.assertEqual(value(), "v1", "one of three ingesters down")
            call("Set", {"setting": {"name": name, "value": "v2"}})
            self.assertEqual(value(), "v2")
        finally:
            CLUSTER.restart_ingester("ingester-1")
            CLUSTER.wait_active()
        # ingester-1 still holds v1, the two others v2: the newest wins.
        self.assertEqual(value(), "v2", "after ingester-1 (which missed v2) returned")
        call("Delete", {"name": name})
        self.assertIsNone(value())


if __name__ == "__main__":
    h.run_tests()
