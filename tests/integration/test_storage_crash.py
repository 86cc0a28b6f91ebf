#!/usr/bin/env python3
"""Crash test (issue 3): SIGKILL while a client pushes, restart, nothing acknowledged is lost.

One data directory lives through every round. In each round hearth is started
on it, client threads push profiles continuously (folded uploads of ~1000
stacks for tenant t1, small gzip pprofs for tenant t2, timestamps days old
and advancing 2 s per push, several pods), and every push is recorded in a PushLedger as acked
(HTTP 200), rejected (an error status, or refused before anything was sent)
or unknown (sent, but the process died before answering). Then hearth is
SIGKILLed:

  * at a random moment,
  * the moment `msg="block flush started"` appears on stderr (a kill during a
    block flush: the round is repeated unless the restart still finds the
    cut head's records in the WAL, i.e. the kill came before the flush's
    atomic write of blocks + WAL trim; the bulky t1 profiles make flushes
    take ~100 ms so it does),
  * the moment `msg="compaction started"` appears (a kill during compaction),
  * a few milliseconds into a restart (a kill during WAL replay).

After each kill hearth is restarted on the same directory and, as soon as
/ready says 200, the flame graphs of both services must hold exactly what
was acknowledged: every push ends in a function no other push has, so the
stored set of pushes is read back from the per-function self values and must
satisfy acked ⊆ stored ⊆ acked ∪ unknown, each push counted once, and every
function's self value equal to the sum over the stored pushes. Unknown pushes
are then resolved, so each later round checks the whole history exactly.

Compaction needs blocks: the block duration is 2 s (a cut every 2 s while
pushes arrive) and compaction runs every second. block.h merges a run of
time-adjacent level-0 blocks once their profiles span >= 2 h
(HEARTH_BLOCKS_L1_SPAN_MS); the profile timestamps advance 1 s per push
(each tenant 2 s), so at 300 to 3000 pushes a second a run of 2 to 12
cuts spans 2 h and compaction starts within seconds. The
kill during compaction must hit a merge of at least two blocks (the log
line's blocks=N), not a lone block moving up a level.
"""

import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

FLAGS = ["-auth.multitenancy-enabled=true",
         "-ingester.block-duration=2s",
         "-ingester.compaction-interval=1s",
         "-storage.write-buffer-bytes=4194304",
         "-storage.block-cache-bytes=16777216"]
PUSH_THREADS = 3
BULK = 1000                # extra stacks per folded push: ~8 MB heads, flushes of ~100 ms
STEP_S = 1                 # profile time advances 1 s per push (both tenants together)
TRIGGER_TIMEOUT_S = 90     # a flush or compaction must start within this while pushing
ATTEMPTS = 4               # tries for a kill that lands inside a flush / compaction

FLUSH_STARTED = 'msg="block flush started"'
FLUSH_DONE = 'msg="block flush done"'
COMPACTION_STARTED = 'msg="compaction started"'
COMPACTION_DONE = 'msg="compaction done"'
REPLAY_DONE = 'msg="wal replay done"'
HEAD_CUT = 'msg="head cut"'


class CrashState:
    data_dir = None
    ledger = None
    log = []          # one line per round, printed at the end


def setUpModule():
    CrashState.data_dir = tempfile.mkdtemp(prefix="hearth-crash-")
    # A day boundary 7 days back: inside the default 14-day retention, and
    # ~600000 pushes (1 s apart) before the timestamps reach the present.
    base = (L.now_s() - 7 * 86400) // 86400 * 86400
    run = L.unique("crash")
    CrashState.ledger = L.PushLedger([
        L.PushScheme("folded", "crash-folded-" + run, "fm", base, step_s=STEP_S, tenant="t1", bulk=BULK),
        L.PushScheme("pprof", "crash-pprof-" + run, "pm", base + 1, step_s=STEP_S, tenant="t2"),
    ])


def tearDownModule():
    sys.stderr.write("\ncrash rounds:\n  %s\n" % "\n  ".join(CrashState.log))
    if os.environ.get("HEARTH_KEEP_TMP") != "1":
        shutil.rmtree(CrashState.data_dir, ignore_errors=True)


class TestStorageCrash(L.HearthTestCase):
    """Ordered rounds (test_1 ... test_8) on one data directory."""

    def start(self, wait_ready=True):
        h = L.HearthProcess(flags=FLAGS + self.extra_flags, data_dir=CrashState.data_dir, watch=True,
                            name="hearth (crash test)")
        self.procs.append(h)
        return h.start(wait_ready=wait_ready)

    def setUp(self):
        self.procs = []
        self.extra_flags = []

    def tearDown(self):
        for h in self.procs:
            report = h.sanitizer_report()
            h.cleanup()
            if report:
                self.fail("%s: sanitizer report:\n%s" % (h.name, report))

    def restart_and_verify(self, what):
        """Start on the data dir; the first 200 of /ready must already answer everything."""
        h = self.start(wait_ready=False)
        statuses = set()
        deadline = time.monotonic() + float(os.environ.get("HEARTH_START_TIMEOUT", "60"))
        while True:
            if not h.alive():
                self.fail("%s: hearth exited (status %s) while starting on the crashed data dir\n%s" % (
                    what, h.proc.returncode, h.stderr_tail(80)))
            try:
                st = h.get("/ready", timeout=2).status
            except OSError:
                st = 0
            statuses.add(st)
            if st == 200:
                break
            if time.monotonic() > deadline:
                self.fail("%s: /ready not 200 within the start timeout (saw %s)\n%s" % (
                    what, sorted(statuses), h.stderr_tail(80)))
            time.sleep(0.01)
        problems = CrashState.ledger.verify(h)
        replay = h.wait_log(REPLAY_DONE, timeout=5)
        records = L.logfmt_parse(replay[-1]).get("records", "?")
        if problems:
            self.fail("%s: after restart the stored profiles differ from the acknowledged ones:\n%s" % (
                what, "\n".join(problems)))
        return h, records

    def push_and_kill(self, h, trigger=None, kill_after_s=None):
        """Push until hearth dies by the trigger (or a kill after kill_after_s). Returns (pusher, line)."""
        if trigger:
            h.kill_on(trigger)
        pusher = L.Pusher(CrashState.ledger, h.port, threads=PUSH_THREADS).start()
        try:
            if trigger:
                deadline = time.monotonic() + TRIGGER_TIMEOUT_S
                while h.alive() and time.monotonic() < deadline:
                    time.sleep(0.01)
                if h.alive():
                    self.fail("no line with %s within %d s of pushing (%s pushes so far)\n%s" % (
                        trigger, TRIGGER_TIMEOUT_S, CrashState.ledger.counts(), h.stderr_tail(40)))
                rc = h.wait_exit()
                if h.killed_by is None:
                    self.fail("hearth exited by itself (status %s) before %s appeared\n%s" % (
                        rc, trigger, h.stderr_tail(80)))
            else:
                deadline = time.monotonic() + kill_after_s
                while time.monotonic() < deadline and h.alive():
                    time.sleep(0.01)
                if not h.alive():
                    self.fail("hearth exited by itself (status %s) while pushes were running\n%s" % (
                        h.proc.returncode, h.stderr_tail(80)))
                h.kill9()
        finally:
            pusher.stop()
        return pusher, h.killed_by

    def round_random(self, label, seed_offset):
        h, _ = self.restart_and_verify("%s: start after a clean stop" % label)
        rnd = random.Random(os.getpid() + seed_offset)
        delay = rnd.uniform(0.3, 4.0)
        pusher, _ = self.push_and_kill(h, kill_after_s=delay)
        before = CrashState.ledger.counts()
        h2, records = self.restart_and_verify("%s (SIGKILL %.2f s into pushing)" % (label, delay))
        CrashState.log.append("%s: killed %.2f s in; HTTP statuses this round %s (0: no answer or "
                              "refused); pushes %s; replayed records=%s" % (
                                  label, delay, pusher.statuses, before, records))
        h2.stop_checked()

    def round_trigger(self, label, started, done, min_blocks=0, before_write=False):
        """Kill at `started`; retry unless the kill landed inside the operation.

        Inside means: no `done` line followed; with min_blocks, the started
        line names at least that many blocks; with before_write (flush), the
        restart replayed at least the cut head's records, i.e. the flush's
        atomic batch (blocks + WAL trim) had not been written yet.
        """
        for attempt in range(1, ATTEMPTS + 1):
            h, _ = self.restart_and_verify("%s, attempt %d: start after a clean stop" % (label, attempt))
            n0 = len(h.log_lines())
            pusher, line = self.push_and_kill(h, trigger=started)
            lines = h.log_lines()[n0:]
            idx = max(i for i, ln in enumerate(lines) if started in ln)
            finished = any(done in ln for ln in lines[idx + 1:])
            blocks = int(L.logfmt_parse(line).get("blocks", "0") or 0)
            cuts = [ln for ln in lines[:idx] if HEAD_CUT in ln]
            cut_profiles = int(L.logfmt_parse(cuts[-1]).get("profiles", "0")) if cuts else 0
            before = CrashState.ledger.counts()
            h2, records = self.restart_and_verify("%s, attempt %d (SIGKILL at: %s)" % (label, attempt, line))
            h2.stop_checked()
            replayed = int(records) if str(records).isdigit() else -1
            why = []
            if finished:
                why.append("%s came first" % done)
            if blocks < min_blocks:
                why.append("only %d block(s)" % blocks)
            if before_write and replayed < cut_profiles:
                why.append("the batch was already written (replayed %d records < the cut head's %d)" % (
                    replayed, cut_profiles))
            CrashState.log.append("%s attempt %d: killed at %r; %s; HTTP statuses this round %s; pushes %s; "
                                  "replayed records=%s" % (label, attempt, line, "; ".join(why) if why else
                                                           "inside it", pusher.statuses, before, records))
            if not why:
                return
        self.fail("%s: in %d attempts the kill never landed inside %s (see the round log); the data "
                  "checks passed each time" % (label, ATTEMPTS, started))

    # -- the rounds ---------------------------------------------------------------
    def test_1_random_kill(self):
        self.round_random("round 1 random kill", 1)

    def test_2_kill_during_block_flush(self):
        self.round_trigger("round 2 kill during block flush", FLUSH_STARTED, FLUSH_DONE, before_write=True)

    def test_3_random_kill(self):
        self.round_random("round 3 random kill", 3)

    def test_4_kill_during_compaction(self):
        self.round_trigger("round 4 kill during compaction", COMPACTION_STARTED, COMPACTION_DONE,
                           min_blocks=2)

    def test_5_random_kill(self):
        self.round_random("round 5 random kill", 5)

    def test_6_kill_during_replay(self):
        """Crash with WAL records, then kill the restarted process a few ms in, then restart."""
        h, _ = self.restart_and_verify("round 6: start after a clean stop")
        pusher, _ = self.push_and_kill(h, kill_after_s=1.5)
        h2 = self.start(wait_ready=False)
        time.sleep(random.Random(os.getpid()).uniform(0.005, 0.05))
        rc = h2.kill9()
        ready_seen = h2.log_matches(REPLAY_DONE)
        h3, records = self.restart_and_verify("round 6 (killed again %s replay)" % (
            "after" if ready_seen else "during or before"))
        CrashState.log.append("round 6 kill during replay: second process killed (status %s) %s "
                              "replay finished; final replay records=%s; pushes %s" % (
                                  rc, "after" if ready_seen else "before", records,
                                  CrashState.ledger.counts()))
        h3.stop_checked()

    def test_7_random_kill_then_clean_restart(self):
        self.round_random("round 7 random kill", 7)
        # A clean stop and one more start must change nothing.
        h, _records = self.restart_and_verify("final clean restart")
        h.stop_checked()
        counts = CrashState.ledger.counts()
        self.assertGreater(counts.get("acked", 0), 0, "no push was ever acknowledged: %r" % counts)

    def test_8_random_kill_interval_policy(self):
        """-storage.wal-sync=interval loses nothing acknowledged to a process crash.

        Its appends have no zeros written ahead of them (wal_impl.h), so its
        segments end at the last record, torn or whole; the earlier rounds'
        segments (always policy, zeros ahead) are replayed first.
        """
        self.extra_flags = ["-storage.wal-sync=interval"]
        self.round_random("round 8 random kill, interval sync", 8)
        h, _records = self.restart_and_verify("round 8 clean restart")
        h.stop_checked()


if __name__ == "__main__":
    L.run_tests()
