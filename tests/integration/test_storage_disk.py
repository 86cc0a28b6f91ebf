#!/usr/bin/env python3
"""Disk-failure test (issue 3): a full disk gives 5xx, queries keep working, hearth recovers.

The data directory is on a small tmpfs mounted for the test (root and
mount(8) needed; without them the test is skipped and says why):

 1. hearth starts on it; pushes are acknowledged and a block is flushed;
    50 more are acknowledged and wait in the head (cuts every 5 s).
 2. A filler file takes every free byte. Pushes go on until one fails:
    it must be a 5xx with a message, and pushes that were not acknowledged
    must not be stored (RocksDB preallocates its log file, so a few
    thousand pushes may still fit). While the disk is full (a cut happens
    meanwhile), queries answer 200 with exactly the acknowledged profiles,
    hearth stays up, and idle it uses less than 10 % of a core (nothing
    spins while waiting for space).
 3. The filler is deleted. Pushes succeed again within RECOVER_S, the next
    ones all succeed, and blocks are flushed again.
 4. SIGTERM (exit 0), restart on the same directory: nothing is corrupt,
    every acknowledged profile is there exactly once and nothing else.
"""

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

TMPFS_SIZE = "64m"
FLAGS = ["-ingester.block-duration=5s", "-ingester.compaction-interval=1s",
         "-storage.write-buffer-bytes=1048576", "-storage.block-cache-bytes=8388608"]
FILL_PUSH_LIMIT_S = 60     # pushes onto the full disk must fail within this
RECOVER_S = 60             # and succeed again within this once space is back

FLUSH_DONE = 'msg="block flush done"'
CPU_WINDOW_S = 3.0
MAX_IDLE_CPU = 0.1         # of one core, while idle with the disk full (idle hearth: ~0)


def mount_tmpfs(path, size):
    """Mount a tmpfs; returns None or the reason it could not be done."""
    if os.geteuid() != 0:
        return "not running as root (mount needs it)"
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s,mode=0755" % size, "tmpfs", path],
                           capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "mount could not run: %r" % e
    if r.returncode != 0:
        return "mount -t tmpfs failed (exit %d): %s" % (r.returncode, (r.stderr or r.stdout).strip())
    return None


def umount(path):
    for _ in range(50):
        r = subprocess.run(["umount", path], capture_output=True, text=True)
        if r.returncode == 0:
            return
        time.sleep(0.1)
    sys.stderr.write("could not unmount %s: %s\n" % (path, r.stderr))


def fill(path):
    """Write a file until ENOSPC; returns its size."""
    size = 0
    chunk = b"\xa5" * (1 << 20)
    with open(path, "wb", buffering=0) as f:
        for c in (chunk, b"\xa5" * 4096, b"\xa5"):
            while True:
                try:
                    n = f.write(c)
                    size += n
                    if n < len(c):
                        break
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    return size


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


class TestStorageDisk(L.HearthTestCase):

    def setUp(self):
        self.mnt = tempfile.mkdtemp(prefix="hearth-disk-")
        self.mounted = False
        self.procs = []

    def tearDown(self):
        for h in self.procs:
            h.cleanup()
        if self.mounted:
            umount(self.mnt)
        shutil.rmtree(self.mnt, ignore_errors=True)

    def start(self, data_dir, name):
        h = L.HearthProcess(flags=FLAGS, data_dir=data_dir, name=name)
        self.procs.append(h)
        return h.start()

    def push_n(self, ledger, h, n):
        """n sequential pushes; returns the list of (state, status, body)."""
        return [ledger.push_once(h.port) for _ in range(n)]

    def test_disk_full_then_recovery(self):
        why = mount_tmpfs(self.mnt, TMPFS_SIZE)
        if why:
            msg = "SKIPPED test_storage_disk: cannot mount a small tmpfs for the data dir: %s" % why
            print(msg)
            self.skipTest(msg)
        self.mounted = True
        data_dir = os.path.join(self.mnt, "data")
        base = (L.now_s() - 2 * 86400) // 3600 * 3600
        ledger = L.PushLedger([L.PushScheme("folded", L.unique("disk-f"), "df", base, 3),
                               L.PushScheme("pprof", L.unique("disk-p"), "dp", base + 1, 3)])

        # 1. Normal operation, one block on disk, then 50 more profiles in the head.
        h = self.start(data_dir, "hearth (disk test)")
        n0 = len(h.log_lines())
        got = self.push_n(ledger, h, 100)
        self.assertEqual([g[0] for g in got].count("acked"), 100, "pushes before the disk filled: %r" % (
            [(g[1], g[2][:200]) for g in got if g[0] != "acked"][:3],))
        h.wait_log(FLUSH_DONE, timeout=30, start=n0)
        got = self.push_n(ledger, h, 50)
        self.assertEqual([g[0] for g in got].count("acked"), 50, "pushes before the disk filled: %r" % (
            [(g[1], g[2][:200]) for g in got if g[0] != "acked"][:3],))

        # 2. Fill the disk.
        filler = os.path.join(self.mnt, "filler")
        filled = fill(filler)
        left = free_bytes(self.mnt)
        sys.stderr.write("filler: %d bytes, free now %d bytes\n" % (filled, left))
        first_fail = None
        statuses = {}
        deadline = time.monotonic() + FILL_PUSH_LIMIT_S
        while time.monotonic() < deadline:
            i = ledger.new_id()
            state, status, body = ledger.push_once(h.port, i)
            statuses[status] = statuses.get(status, 0) + 1
            if state != "acked":
                first_fail = (i, status, body)
                break
        if first_fail is None:
            self.fail("the disk is full (filler %d bytes, %d bytes free) but every push for %d s was "
                      "acknowledged (%r): a push must not be acknowledged unless it is on disk\n%s" % (
                          filled, left, FILL_PUSH_LIMIT_S, statuses, h.stderr_tail(30)))
        i, status, body = first_fail
        sch = ledger.scheme(i)
        self.assertTrue(500 <= status <= 599,
                        "push onto the full disk: %s -> HTTP %d, expected a 5xx (not acknowledged): %r" % (
                            sch.describe(i), status, body[:500]))
        self.assertTrue(len(body.strip()) > 0, "5xx with an empty body: %s" % sch.describe(i))
        sys.stderr.write("first push on the full disk: HTTP %d %s (after %r)\n" % (
            status, body[:300].decode("utf-8", "replace"), statuses))
        # More pushes while full: none may be acknowledged unless stored; all are checked below.
        more = self.push_n(ledger, h, 20)
        more_status = sorted(set(g[1] for g in more))
        # Degraded but idle: hearth must not spin while it waits for space.
        cpu0, t0 = L.proc_cpu_seconds(h.pid()), time.monotonic()
        time.sleep(CPU_WINDOW_S)
        busy = (L.proc_cpu_seconds(h.pid()) - cpu0) / (time.monotonic() - t0)
        sys.stderr.write("CPU while full and idle: %.0f %% of a core\n" % (100 * busy))
        late = []   # failures that should not stop the recovery checks
        if busy >= MAX_IDLE_CPU:
            late.append("with the disk full and no requests, hearth used %.0f %% of a core for %.0f s "
                        "(expected < %.0f %%; idle on a healthy disk it is ~0): a background loop spins "
                        "while it waits for space" % (100 * busy, CPU_WINDOW_S, 100 * MAX_IDLE_CPU))
        # Queries keep working and answer exactly what was acknowledged.
        self.assertTrue(h.alive(), "hearth died with a full disk\n%s" % h.stderr_tail(60))
        problems = ledger.verify(h, exact=True)
        self.assertFalse(problems, "queries while the disk is full:\n%s" % "\n".join(problems))
        r = h.get("/pyroscope/label-values", [("label", "service_name")])
        self.assertEqual(r.status, 200, "label-values while the disk is full: %d %s" % (r.status, r.text()[:300]))
        self.assertEqual(h.get("/ready").status, 200, "/ready while the disk is full (queries still work)")

        # 3. Space returns.
        os.unlink(filler)
        t0 = time.monotonic()
        recovered = None
        last = None
        while time.monotonic() - t0 < RECOVER_S:
            i = ledger.new_id()
            state, status, body = ledger.push_once(h.port, i)
            if state == "acked":
                recovered = time.monotonic() - t0
                break
            last = (status, body[:300])
            time.sleep(0.1)
        self.assertIsNotNone(recovered, "pushes still fail %d s after the disk has space again; last: %r\n%s" % (
            RECOVER_S, last, h.stderr_tail(40)))
        sys.stderr.write("recovered %.2f s after the filler was deleted; pushes while full: %r\n" % (
            recovered, more_status))
        got = self.push_n(ledger, h, 100)
        bad = [(g[1], g[2][:200]) for g in got if g[0] != "acked"]
        self.assertFalse(bad, "after recovery %d of 100 pushes failed, e.g. %r" % (len(bad), bad[:3]))
        # Flushes work again: the heads cut since the disk filled are written.
        n_ok = len(h.log_lines())
        h.wait_log(FLUSH_DONE, timeout=RECOVER_S, start=n_ok)
        problems = ledger.verify(h, exact=True)
        self.assertFalse(problems, "after recovery:\n%s" % "\n".join(problems))
        h.stop_checked()

        # 4. Restart: no corruption, everything acknowledged is there.
        h2 = self.start(data_dir, "hearth (disk test, restarted)")
        problems = ledger.verify(h2, exact=True)
        self.assertFalse(problems, "after restart:\n%s" % "\n".join(problems))
        corrupt = [ln for ln in h2.log_lines() if "corrupt" in ln.lower()]
        self.assertFalse(corrupt, "restart log mentions corruption:\n%s" % "\n".join(corrupt[:5]))
        got = self.push_n(ledger, h2, 10)
        self.assertEqual([g[0] for g in got], ["acked"] * 10, "pushes after restart: %r" % (
            [(g[1], g[2][:200]) for g in got],))
        self.assertFalse(ledger.verify(h2, exact=True))
        h2.stop_checked()
        sys.stderr.write("pushes: %r\n" % ledger.counts())
        self.assertFalse(late, "\n".join(late))


if __name__ == "__main__":
    L.run_tests()
