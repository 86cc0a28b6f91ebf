#!/usr/bin/env python3
"""Retention test (issue 3): blocks past the retention period leave queries and the disk.

Timestamps are relative to the test's start, never to a clock that must
advance: "old" profiles are two days old, "recent" ones ten minutes old,
and the retention period is 1 h, so the test does not wait for time to pass.
Two tenants (multi-tenancy on): `short` has the global
-limits.retention-period=1h; `keep` has a per-tenant override
(-runtime-config.file, `retention_period: 0` = keep forever).

  P1  retention off, block duration 1 h: old profiles of both tenants
      (short's are bulky, so its block is big next to RocksDB's fixed
      overhead), checked exactly; SIGTERM flushes them into blocks.
  P2  retention off: the old blocks answer; recent profiles of `short` are
      pushed; SIGTERM flushes them into a second block. du of the closed
      data dir = peak.
  P3  retention on (1 h, override for `keep`), checked every second: within
      RETENTION_WAIT_S `msg="retention deleted blocks"` names tenant short
      (and never keep); then short's old range answers nothing (no ticks,
      no label values), short's recent profiles and keep's old ones answer
      exactly, RocksDB's SST files shrink by half within SHRINK_WAIT_S, and
      after SIGTERM du of the closed data dir is at most half the peak (the
      old profiles of short each have their own random counts, so they are
      most of the bytes).
  P4  restart with retention on: the same answers.
"""

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

COMMON = ["-auth.multitenancy-enabled=true", "-ingester.block-duration=1h",
          "-storage.write-buffer-bytes=1048576", "-storage.block-cache-bytes=8388608"]
KEEP = COMMON + ["-limits.retention-period=0"]
EXPIRE = COMMON + ["-limits.retention-period=1h", "-ingester.retention-interval=1s",
                   "-ingester.compaction-interval=1s"]
OVERRIDES = "overrides:\n  keep:\n    retention_period: 0\n"
OLD_PUSHES = 240
OLD_BULK = 3000           # stacks per old profile of tenant short
KEEP_PUSHES = 40
RECENT_PUSHES = 60
RETENTION_WAIT_S = 60
SHRINK_WAIT_S = 60
SHRINK_FRACTION = 0.5     # the old data is most of the bytes: at least half must go

RETENTION_LOG = 'msg="retention deleted blocks"'


def sst_bytes(path):
    """Bytes of RocksDB's table files (*.sst) under path."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            if f.endswith(".sst"):
                try:
                    total += os.lstat(os.path.join(root, f)).st_size
                except FileNotFoundError:
                    pass
    return total


class TestStorageRetention(L.HearthTestCase):

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hearth-retention-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.overrides = os.path.join(self.tmp, "overrides.yaml")
        with open(self.overrides, "w") as f:
            f.write(OVERRIDES)
        self.procs = []

    def tearDown(self):
        for h in self.procs:
            h.cleanup()
        if os.environ.get("HEARTH_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    def start(self, flags, name):
        h = L.HearthProcess(flags=flags, data_dir=self.data_dir, name=name)
        self.procs.append(h)
        return h.start()

    def expire_flags(self):
        return EXPIRE + ["-runtime-config.file=%s" % self.overrides]

    def push_all(self, ledger, h, n):
        before = ledger.next_id
        p = L.Pusher(ledger, h.port, threads=2, max_pushes=n).start()
        while any(t.is_alive() for t in p.threads):
            time.sleep(0.05)
        p.stop()
        self.assertEqual(ledger.counts(), {"acked": before + n}, "pushes: %r, first errors %r" % (
            ledger.counts(), p.first_error))

    def check(self, ledger, h, what):
        problems = ledger.verify(h, exact=True)
        self.assertFalse(problems, "%s:\n%s" % (what, "\n".join(problems)))

    def old_gone(self, h, old):
        """Problems with short's old range: it must answer nothing."""
        sch = old.schemes[0]
        frm, until = old.query_range_ms(sch)
        params = [("query", sch.query()), ("from", str(frm)), ("until", str(until)), ("maxNodes", "65536")]
        fb = h.get_json("/pyroscope/render", params, headers=sch.headers())
        bad = []
        if fb["flamebearer"]["numTicks"] != 0:
            bad.append("GET /pyroscope/render?%s (X-Scope-OrgID: %s): expected numTicks 0 (every old block "
                       "expired), got %d" % (L.encode_query(params), sch.tenant, fb["flamebearer"]["numTicks"]))
        lv = [("label", "service_name"), ("from", str(frm)), ("until", str(until))]
        vals = h.get_json("/pyroscope/label-values", lv, headers=sch.headers())
        if sch.service in vals:
            bad.append("GET /pyroscope/label-values?%s (X-Scope-OrgID: %s): expected no %s, got %r" % (
                L.encode_query(lv), sch.tenant, sch.service, vals))
        return bad

    def test_retention_deletes_old_blocks(self):
        now = L.now_s()
        old = L.PushLedger([L.PushScheme("folded", L.unique("ret-old"), "om", now - 2 * 86400, 5,
                                         tenant="short", bulk=OLD_BULK, bulk_variants=OLD_PUSHES)])
        kept = L.PushLedger([L.PushScheme("pprof", L.unique("ret-kept"), "km", now - 3 * 86400, 7,
                                          tenant="keep")])
        recent = L.PushLedger([L.PushScheme("folded", L.unique("ret-new"), "rm", now - 600, 1,
                                            tenant="short")])

        # P1: old data of both tenants, flushed into blocks at SIGTERM.
        h = self.start(KEEP, "hearth P1")
        self.push_all(old, h, OLD_PUSHES)
        self.push_all(kept, h, KEEP_PUSHES)
        self.check(old, h, "P1: short's old profiles in the head")
        self.check(kept, h, "P1: keep's old profiles in the head")
        h.stop_checked()
        old_du = L.du_bytes(self.data_dir)

        # P2: the old blocks answer; recent data flushed into another block.
        h = self.start(KEEP, "hearth P2")
        self.check(old, h, "P2: short's old profiles read back from blocks")
        self.check(kept, h, "P2: keep's old profiles read back from blocks")
        self.push_all(recent, h, RECENT_PUSHES)
        self.check(recent, h, "P2: recent profiles")
        h.stop_checked()
        peak_du, peak_sst = L.du_bytes(self.data_dir), sst_bytes(self.data_dir)

        # P3: retention on.
        h = self.start(self.expire_flags(), "hearth P3")
        lines = h.wait_log(RETENTION_LOG, timeout=RETENTION_WAIT_S)
        kv = L.logfmt_parse(lines[0])
        self.assertEqual(kv.get("tenant"), "short", "retention log line: %s" % lines[0])
        self.assertGreaterEqual(int(kv.get("blocks", "0")), 1, "retention log line: %s" % lines[0])
        bad = self.old_gone(h, old)
        self.assertFalse(bad, "P3 after %s:\n%s" % (lines[0], "\n".join(bad)))
        self.check(recent, h, "P3: short's recent profiles after retention")
        self.check(kept, h, "P3: keep's old profiles (retention_period 0 by override) after retention")
        # RocksDB's files while it runs include preallocated log space, so the
        # comparison is between closed databases; SST files shrink first.
        target_sst = peak_sst * (1 - SHRINK_FRACTION)
        deadline = time.monotonic() + SHRINK_WAIT_S
        while sst_bytes(self.data_dir) > target_sst and time.monotonic() < deadline:
            time.sleep(0.5)
        cur_sst = sst_bytes(self.data_dir)
        keep_lines = [ln for ln in h.log_matches(RETENTION_LOG) if L.logfmt_parse(ln).get("tenant") != "short"]
        self.assertFalse(keep_lines, "retention deleted blocks of a tenant whose override keeps them:\n%s" % (
            "\n".join(keep_lines)))
        h.stop_checked()
        after_du = L.du_bytes(self.data_dir)
        sys.stderr.write("du of the closed data dir: %d bytes with the old data, %d with old + recent, %d after "
                         "retention; SST files %d -> %d bytes\n" % (old_du, peak_du, after_du, peak_sst, cur_sst))
        self.assertLessEqual(cur_sst, target_sst, "SST files did not shrink: %d bytes before retention, %d bytes "
                             "%d s after it deleted the old blocks (expected <= %d)" % (
                                 peak_sst, cur_sst, SHRINK_WAIT_S, target_sst))
        self.assertLessEqual(after_du, peak_du * (1 - SHRINK_FRACTION),
                             "data dir did not shrink: du %d bytes before retention, %d after (expected <= %d: "
                             "the old data was most of it)" % (peak_du, after_du, peak_du * (1 - SHRINK_FRACTION)))

        # P4: restart, still gone.
        h = self.start(self.expire_flags(), "hearth P4")
        bad = self.old_gone(h, old)
        self.assertFalse(bad, "P4 (restart):\n%s" % "\n".join(bad))
        self.check(recent, h, "P4: short's recent profiles")
        self.check(kept, h, "P4: keep's old profiles")
        h.stop_checked()


if __name__ == "__main__":
    L.run_tests()
