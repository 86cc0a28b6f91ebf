#!/usr/bin/env python3
"""Memory test (issue 3): pushing far beyond the head budget keeps RSS bounded, with 429s.

hearth runs with a 16 MiB head budget (1 MiB under ASan, see BUDGET)
(-ingester.max-head-bytes), an 8 MiB
RocksDB block cache and 4 MiB memtables, and no timed cuts (block duration
1 h), so only the budget cuts the head. Client threads push large folded
profiles (12000 stacks each, ~180 KB of the head budget per push: a sample
costs its packed bytes plus 12, store.h) for PUSH_BYTES_FACTOR times the
budget as fast as they can (large pushes, so that the Python clients outrun
the flushes), while /proc/<pid>/status VmRSS is sampled every 20 ms.

Stated bound (release build):
    RSS <= RSS at start + head budget + block cache + 2 x write buffer
           (RocksDB's memtable cap, kv.h) + 64 MiB
where the 64 MiB margin covers the block-header cache, request bodies and
arenas of the 8 HTTP threads, and allocator slack. Under AddressSanitizer
(detected from the binary) every allocation carries redzones and shadow
memory, and freed memory sits in a quarantine (capped here with
ASAN_OPTIONS=quarantine_size_mb=16): the bound there is
    RSS at start + 2 x (budget + cache + 2 x write buffer) + 192 MiB.

Checks: some pushes get HTTP 429 with a message naming the head budget (up
to BLASTS blasts, as the refusals are a race the clients must win);
RSS stays under the bound; once pushing stops and the flushes catch up,
pushes succeed again; every acknowledged push (and none of the refused
ones) is answered by queries, exactly.
"""

import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

MiB = 1 << 20
ASAN = L.binary_is_sanitized()
# Under AddressSanitizer hearth's decoding slows down far more than the
# flushes (RocksDB and zstd are not instrumented), so with 16 MiB the head
# headroom left after a cut (20 % of the budget, ~17 pushes) outlasted
# every flush and no push was ever refused. There a push is ~18 % of the
# budget: once a cut's flush starts, the next push fills the headroom and
# the pushes arriving before the flush ends must get 429.
BUDGET = (1 if ASAN else 16) * MiB
CACHE = 8 * MiB
WRITE_BUFFER = 4 * MiB
FLAGS = ["-ingester.max-head-bytes=%d" % BUDGET, "-storage.block-cache-bytes=%d" % CACHE,
         "-storage.write-buffer-bytes=%d" % WRITE_BUFFER, "-ingester.block-duration=1h",
         "-ingester.compaction-interval=1s"]
BULK = 12000
PUSH_BYTES_FACTOR = 40 if ASAN else 10    # push about this many budgets' worth of head bytes
THREADS = 6
BLASTS = 3                # blasts until one meets a 429 (see the test)
CATCH_UP_S = 60
MARGIN = (192 if ASAN else 64) * MiB
SCALE_FOR_SANITIZER = 2 if ASAN else 1


def asan_env():
    opts = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": (opts + ":" if opts else "") + "quarantine_size_mb=16"}


class RssSampler(threading.Thread):
    def __init__(self, h, period=0.02):
        super().__init__(daemon=True)
        self.h = h
        self.period = period
        self.max_rss = 0
        self.max_at = 0.0
        self.samples = 0
        self.stop_event = threading.Event()
        self.t0 = time.monotonic()

    def run(self):
        while not self.stop_event.is_set():
            try:
                r = self.h.rss_bytes()
            except (OSError, L.HearthError):
                return
            self.samples += 1
            if r > self.max_rss:
                self.max_rss, self.max_at = r, time.monotonic() - self.t0
            time.sleep(self.period)


class TestStorageMemory(L.HearthTestCase):

    def test_head_budget_bounds_rss(self):
        h = L.HearthProcess(flags=FLAGS, env=asan_env() if ASAN else None, name="hearth (memory test)")
        self.procs = [h]
        h.start()
        base = (L.now_s() - 86400) // 3600 * 3600
        big = L.PushScheme("folded", L.unique("mem-big"), "bm", base, 1, bulk=BULK)
        ledger = L.PushLedger([big])
        time.sleep(0.5)
        rss0 = h.rss_bytes()
        bound = rss0 + SCALE_FOR_SANITIZER * (BUDGET + CACHE + 2 * WRITE_BUFFER) + MARGIN

        # Size one push in head bytes, then push PUSH_BYTES_FACTOR budgets' worth.
        hb0 = h.metric("hearth_ingester_head_bytes") or 0
        for _ in range(10):
            self.assertEqual(ledger.push_once(h.port)[0], "acked", "warm-up push: %r" % (
                ledger.detail.get(ledger.next_id - 1),))
        # Head bytes grow by capacity steps, so a small delta is possible;
        # a sample costs at least 12 bytes of the budget (node + value while
        # it is written as blocks; store.h).
        per_push = max(((h.metric("hearth_ingester_head_bytes") or 0) - hb0) / 10, 12 * BULK)
        n_pushes = min(int(PUSH_BYTES_FACTOR * BUDGET / per_push), 20000)
        sampler = RssSampler(h)
        sampler.start()
        # A 429 needs the clients to fill the head's headroom after a cut
        # (20 % of the budget) before that cut's flush ends: a race the
        # Python clients usually win by far (50-70 refusals in 921), but
        # not always on a loaded 2-core machine, where one blast saw the
        # flushes keep up. So up to BLASTS blasts, until one is refused;
        # RSS is sampled through all of them and every push is verified.
        for blast in range(1, BLASTS + 1):
            t0 = time.monotonic()
            pusher = L.Pusher(ledger, h.port, threads=THREADS, max_pushes=n_pushes).start()
            while any(t.is_alive() for t in pusher.threads) and time.monotonic() - t0 < 300:
                time.sleep(0.05)
            pusher.stop()
            blast_s = time.monotonic() - t0
            counts = ledger.counts()
            sys.stderr.write("blast %d: pushed %d profiles (~%.0f head bytes each, %.1f x the budget) in "
                             "%.1f s: %r; statuses %r\n" % (blast, n_pushes, per_push,
                                                           n_pushes * per_push / BUDGET, blast_s, counts,
                                                           pusher.statuses))
            if 429 in pusher.statuses:
                break

        self.assertIn(429, pusher.statuses, "no push got HTTP 429 in %d blasts of %.1f x the head budget "
                      "(statuses of the last %r): the head must push back instead of growing" % (
                          BLASTS, n_pushes * per_push / BUDGET, pusher.statuses))
        i429, detail = pusher.first_error[429]
        self.assertIn("head", detail.lower(), "429 must say why (the head budget): %s -> %s" % (
            big.describe(i429), detail))
        other = {s: n for s, n in pusher.statuses.items() if s not in (200, 429)}
        self.assertFalse(other, "statuses other than 200/429 while pushing: %r; first: %r" % (
            other, {s: pusher.first_error.get(s) for s in other}))

        # Flushes catch up: pushes succeed again.
        deadline = time.monotonic() + CATCH_UP_S
        ok_at = None
        while time.monotonic() < deadline:
            st = ledger.push_once(h.port)[0]
            if st == "acked":
                ok_at = time.monotonic() - t0 - blast_s
                break
            time.sleep(0.2)
        self.assertIsNotNone(ok_at, "pushes still refused %d s after the load stopped: %r\n%s" % (
            CATCH_UP_S, ledger.detail.get(ledger.next_id - 1), h.stderr_tail(30)))
        # A lone client near the budget can still meet a 429 while the
        # head it just filled is being flushed; like the SDKs, it retries
        # after a pause, and every push must get through within seconds.
        for _ in range(20):
            retry_until = time.monotonic() + 10
            while True:
                st, status, body = ledger.push_once(h.port)
                if st == "acked" or status != 429 or time.monotonic() > retry_until:
                    break
                time.sleep(0.2)
            self.assertEqual(st, "acked", "after catching up, a single client's push (retrying 429s "
                             "for 10 s) -> %d %r" % (status, body[:300]))
        sampler.stop_event.set()
        sampler.join()
        sys.stderr.write("RSS: %.1f MiB at start, max %.1f MiB (at %.1f s, %d samples); bound %.1f MiB "
                         "(%s); pushes accepted again %.1f s after the load\n" % (
                             rss0 / MiB, sampler.max_rss / MiB, sampler.max_at, sampler.samples,
                             bound / MiB, "ASan build" if ASAN else "release margin", ok_at))
        self.assertLessEqual(sampler.max_rss, bound,
                             "RSS reached %.1f MiB, over the bound %.1f MiB = start %.1f + %d x (budget %d + "
                             "cache %d + 2 x write buffer %d MiB) + margin %d MiB" % (
                                 sampler.max_rss / MiB, bound / MiB, rss0 / MiB, SCALE_FOR_SANITIZER,
                                 BUDGET // MiB, CACHE // MiB, WRITE_BUFFER // MiB, MARGIN // MiB))

        problems = ledger.verify(h, exact=True)
        self.assertFalse(problems, "stored profiles after the overload:\n%s" % "\n".join(problems))
        h.stop_checked()

    def tearDown(self):
        for h in getattr(self, "procs", []):
            h.cleanup()


if __name__ == "__main__":
    L.run_tests()
