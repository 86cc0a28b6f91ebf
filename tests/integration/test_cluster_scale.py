#!/usr/bin/env python3
"""Scale-out 3 → 4 ingesters and scale-in 4 → 3 while ingesting (RF = 3).

Two membership sources:
  * static: the 4th ingester starts, then the distributors and the querier
    are restarted one at a time (behind nginx, so pushes keep flowing) with
    the new -ring.members; scale-in does the reverse, then stops it;
  * etcd (Debian's etcd-server, started here): the 4th ingester registers
    itself; scale-in is just stopping it (it revokes its lease).
Throughout, pushes go through nginx on two threads and a query loop checks
that every push acknowledged before a query is in its answer and that no
profile is counted more than once; after each change the pushes are stopped
and the answer must equal the acknowledged pushes exactly.

Run: HEARTH_BIN=build/cmd/hearth python3 tests/integration/test_cluster_scale.py
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as h  # noqa: E402


class QueryLoop:
    """Queries the front every ~0.3 s while pushes run; collects problems."""

    def __init__(self, cluster, ledger, sch):
        self.cluster, self.ledger, self.sch = cluster, ledger, sch
        self.problems = []
        self.queries = 0
        self.non_200 = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.stop_event.is_set():
            acked = self.ledger.ids("acked")
            frm, until = self.ledger.query_range_ms(self.sch)
            try:
                status, got, _t, body = h.query_self_values(self.cluster.front(), self.sch.query(),
                                                            frm, until + 3600000, timeout=30)
            except OSError as e:
                status, got, body = 0, None, repr(e)
            self.queries += 1
            if status == 200:
                self.problems += h.marker_problems(self.ledger, self.sch, got, acked)
            else:
                self.non_200.append((status, body[:200]))
            self.stop_event.wait(0.3)

    def stop(self):
        self.stop_event.set()
        self.thread.join(60)


class ScaleTest(h.HearthTestCase):
    def run_scale(self, membership):
        cluster = h.Cluster(n_ingesters=3, n_distributors=2, rf=3, membership=membership)
        try:
            cluster.start()
        except Exception:
            sys.stderr.write(cluster.tails(40) + "\n")
            cluster.cleanup()
            raise
        ok = False
        try:
            self._scale(cluster, membership)
            ok = True
        finally:
            if not ok:
                sys.stderr.write("\n" + cluster.tails(30) + "\n")
            problems = cluster.cleanup()
        self.assertEqual(problems, [])

    def _phase(self, cluster, ledger, sch, what, change):
        pusher = h.Pusher(ledger, cluster.front().port, threads=2, pause_s=0.01).start()
        loop = QueryLoop(cluster, ledger, sch).start()
        try:
            time.sleep(2.0)
            t0 = time.monotonic()
            change()
            took = time.monotonic() - t0
            time.sleep(3.0)
        finally:
            pusher.stop()
            loop.stop()
        counts = ledger.counts()
        sys.stderr.write("\n  %s: change took %.1f s; pushes %r (statuses %r); %d queries, %d not 200 %r\n" % (
            what, took, counts, pusher.statuses, loop.queries, len(loop.non_200), loop.non_200[:3]))
        self.assertEqual(loop.problems[:20], [], "%s: a query during the change was not exact" % what)
        self.assertGreater(counts.get("acked", 0), 10)
        problems = ledger.verify(cluster.front())
        self.assertEqual(problems, [], "%s: the answer after the change differs from what was acknowledged:\n%s"
                         % (what, "\n".join(problems)))

    def _scale(self, cluster, membership):
        base = h.hour_aligned_base(2)
        sch = h.PushScheme("folded", h.unique("scale-" + membership), "sc_", base, step_s=23)
        ledger = h.cluster_ledger([sch])
        new_id = []

        def scale_out():
            new_id.append(cluster.add_ingester())
            if membership == "static":
                cluster.restart_routers()
            else:
                cluster.wait_active()

        def scale_in():
            gone = new_id[0]
            if membership == "static":
                # Routers first (nothing new goes to it), then stop it.
                cluster.remove_member(gone)
                cluster.restart_routers()
                cluster.ingesters[gone].stop_checked()
            else:
                cluster.ingesters[gone].stop_checked()
                cluster.wait_active(ids=[i for i in cluster.ingesters if i != gone])

        v0 = h.ring_json(cluster.querier)["version"]
        self._phase(cluster, ledger, sch, "%s scale-out 3 -> 4" % membership, scale_out)
        if membership == "etcd":     # the same querier process saw the member set change
            self.assertGreater(h.ring_json(cluster.querier)["version"], v0, "/ring version after a join")
        # Every router routes over 4 members now.
        for p in cluster.routers():
            self.assertEqual(sorted(h.ring_states(p)), sorted(cluster.ingesters), p.name)
        if membership == "etcd":
            keys = cluster.etcd.keys("/hearth/ingesters/")
            self.assertEqual(sorted(k.rsplit("/", 1)[-1] for k in keys), sorted(cluster.ingesters),
                             "etcd keys %r" % keys)
        # The new ingester took a share of the new writes.
        self.assertGreater(cluster.series_per_ingester().get(new_id[0], 0), 0,
                           "%s holds no series after scale-out" % new_id[0])
        self._phase(cluster, ledger, sch, "%s scale-in 4 -> 3" % membership, scale_in)
        if membership == "etcd":
            keys = cluster.etcd.keys("/hearth/ingesters/")
            self.assertNotIn(new_id[0], [k.rsplit("/", 1)[-1] for k in keys],
                             "a stopped ingester revokes its etcd lease")

    def test_static_membership(self):
        self.run_scale("static")

    def test_etcd_membership(self):
        self.run_scale("etcd")


if __name__ == "__main__":
    h.run_tests()
