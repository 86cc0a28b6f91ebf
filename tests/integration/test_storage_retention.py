#!/usr/bin/env python3
"""Retention test (issue 3): blocks past the retention period leave queries and the disk.

Timestamps are relative to the test's start, never to a clock that must
advance: "old" profiles are two days old, "recent" ones a few minutes old,
and the retention period is 1 h, so the test does not wait for time to pass.

  P1  retention off, block duration 1 h: old profiles only (bulky, so the
      block is big next to RocksDB's fixed overhead), checked exactly;
      SIGTERM flushes them into a block.
  P2  retention off: the old block answers; recent profiles are pushed;
      SIGTERM flushes them into a second block. du of the closed data
      dir = peak.
  P3  -limits.retention-period=1h, retention every second: within
      RETENTION_WAIT_S `msg="retention deleted blocks"` names the tenant;
      then the old range answers nothing (no ticks, no label values),
      the recent profiles answer exactly, RocksDB's SST files shrink by
      half within SHRINK_WAIT_S, and after SIGTERM du of the closed data
      dir is at most half the peak (the old profiles each have their own
      random counts, so they are most of the bytes).
  P4  restart with retention on: still gone, recent still exact.
"""

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

KEEP = ["-limits.retention-period=0", "-ingester.block-duration=1h",
        "-storage.write-buffer-bytes=1048576", "-storage.block-cache-bytes=8388608"]
EXPIRE = ["-limits.retention-period=1h", "-ingester.retention-interval=1s",
          "-ingester.compaction-interval=1s", "-ingester.block-duration=1h",
          "-storage.write-buffer-bytes=1048576", "-storage.block-cache-bytes=8388608"]
OLD_PUSHES = 240
OLD_BULK = 3000           # stacks per old profile
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
        self.data_dir = tempfile.mkdtemp(prefix="hearth-retention-")
        self.procs = []

    def tearDown(self):
        for h in self.procs:
            h.cleanup()
        if os.environ.get("HEARTH_KEEP_TMP") != "1":
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def start(self, flags, name):
        h = L.HearthProcess(flags=flags, data_dir=self.data_dir, name=name)
        self.procs.append(h)
        return h.start()

    def push_all(self, ledger, h, n):
        p = L.Pusher(ledger, h.port, threads=2, max_pushes=n).start()
        while any(t.is_alive() for t in p.threads):
            time.sleep(0.05)
        p.stop()
        self.assertEqual(ledger.counts(), {"acked": ledger.next_id}, "pushes: %r, first errors %r" % (
            ledger.counts(), p.first_error))

    def old_gone(self, h, old):
        """Problems with the old range: it must answer nothing."""
        sch = old.schemes[0]
        frm, until = old.query_range_ms(sch)
        params = [("query", sch.query()), ("from", str(frm)), ("until", str(until)), ("maxNodes", "65536")]
        fb = h.get_json("/pyroscope/render", params)
        bad = []
        if fb["flamebearer"]["numTicks"] != 0:
            bad.append("GET /pyroscope/render?%s: expected numTicks 0 (every old block expired), got %d" % (
                L.encode_query(params), fb["flamebearer"]["numTicks"]))
        lv = [("label", "service_name"), ("from", str(frm)), ("until", str(until))]
        vals = h.get_json("/pyroscope/label-values", lv)
        if sch.service in vals:
            bad.append("GET /pyroscope/label-values?%s: expected no %s, got %r" % (
                L.encode_query(lv), sch.service, vals))
        return bad

    def test_retention_deletes_old_blocks(self):
        now = L.now_s()
        old = L.PushLedger([L.PushScheme("folded", L.unique("ret-old"), "om", now - 2 * 86400, 5,
                                         bulk=OLD_BULK, bulk_variants=OLD_PUSHES)])
        recent = L.PushLedger([L.PushScheme("folded", L.unique("ret-new"), "rm", now - 600, 1)])

        # P1: old data, flushed into a block at SIGTERM.
        h = self.start(KEEP, "hearth P1")
        self.push_all(old, h, OLD_PUSHES)
        self.assertFalse(old.verify(h, exact=True), "P1: old profiles in the head")
        h.stop_checked()
        old_du = L.du_bytes(self.data_dir)

        # P2: the old block answers; recent data flushed into a second block.
        h = self.start(KEEP, "hearth P2")
        problems = old.verify(h, exact=True)
        self.assertFalse(problems, "P2: old profiles read back from blocks:\n%s" % "\n".join(problems))
        self.push_all(recent, h, RECENT_PUSHES)
        self.assertFalse(recent.verify(h, exact=True), "P2: recent profiles")
        h.stop_checked()
        peak_du, peak_sst = L.du_bytes(self.data_dir), sst_bytes(self.data_dir)

        # P3: retention on.
        h = self.start(EXPIRE, "hearth P3")
        lines = h.wait_log(RETENTION_LOG, timeout=RETENTION_WAIT_S)
        kv = L.logfmt_parse(lines[0])
        self.assertEqual(kv.get("tenant"), "anonymous", "retention log line: %s" % lines[0])
        self.assertGreaterEqual(int(kv.get("blocks", "0")), 1, "retention log line: %s" % lines[0])
        bad = self.old_gone(h, old)
        self.assertFalse(bad, "P3 after %s:\n%s" % (lines[0], "\n".join(bad)))
        problems = recent.verify(h, exact=True)
        self.assertFalse(problems, "P3: recent profiles after retention:\n%s" % "\n".join(problems))
        # RocksDB's files while it runs include preallocated log space, so the
        # comparison is between closed databases; SST files shrink first.
        target_sst = peak_sst * (1 - SHRINK_FRACTION)
        deadline = time.monotonic() + SHRINK_WAIT_S
        while sst_bytes(self.data_dir) > target_sst and time.monotonic() < deadline:
            time.sleep(0.5)
        cur_sst = sst_bytes(self.data_dir)
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
        h = self.start(EXPIRE, "hearth P4")
        bad = self.old_gone(h, old)
        self.assertFalse(bad, "P4 (restart):\n%s" % "\n".join(bad))
        problems = recent.verify(h, exact=True)
        self.assertFalse(problems, "P4: recent profiles:\n%s" % "\n".join(problems))
        h.stop_checked()


if __name__ == "__main__":
    L.run_tests()
