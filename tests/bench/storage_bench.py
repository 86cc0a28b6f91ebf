#!/usr/bin/env python3
"""Storage benchmark (issue 3): disk and head bytes per sample, flame-graph latency vs go tool pprof.

  tests/bench/storage_bench.py [--hearth build-release/cmd/hearth] [--days 7] [--pods 20]
                               [--services 4] [--interval 15] [--runs 5] [--workers 2] [--keep]
                               [--head-only]

The fleet: --pods pods (default 20) spread over --services services
(default 4, so "one service" is 5 pods), each pod sending one CPU pprof
every --interval seconds (15) for --days days (7) ending at the last full
hour. A service has a fixed Go-like call graph (~300 functions, library
frames shared by every service) from which --stacks (400) distinct stacks
are drawn; a profile holds 500-1500 samples of 10 ms (load follows the
time of day) drawn Zipf-like over those stacks, so it has a few hundred
distinct stacks. One sample type (cpu/nanoseconds, like the Java, Python,
.NET and eBPF agents); the pprof carries the service's whole function and
location tables. Bodies are gzip (level 6), sent as two gzip members
(samples, then the tables compressed once per service; a valid gzip
stream, and ~5 % smaller than one member, so the ratio to gzip bytes below
is, if anything, pessimistic for hearth). The generator is seeded: every
run ingests the same profiles.

Steps:
 1. Head bytes per sample: a fresh hearth (no cuts) takes the first 10
    minutes and then the first hour of the fleet; hearth_ingester_head_bytes
    from /metrics divided by the samples in the head.
 2. All --days days are pushed, in time order, into a hearth with
    -ingester.block-duration=2s and -ingester.compaction-interval=1s (so
    the data goes through level-0 blocks and compaction to levels 1 and 2)
    and -storage.wal-sync=interval (fsync per push would only slow the
    load). SIGTERM flushes the head; a restart lets compaction finish.
 3. Bytes on disk per sample and as a ratio of the gzip pprof bytes
    ingested: du of the data dir once hearth has stopped (while it runs,
    RocksDB's preallocated log space is counted too; printed as well);
    blocks, block bytes and RocksDB SST bytes per level from /metrics.
 4. Flame graph of one service (GET /pyroscope/render, the whole response
    read) for the last 1 h, 24 h and --days days: the first (cold) run and
    the median of --runs runs.
 5. The same merge with `go tool pprof -proto` over the same pprof files
    (written to disk during the load) for 1 h and 24 h, in the same run,
    and the ratio go / hearth. The 1-hour merge's total is checked against
    hearth's numTicks.

Targets printed next to the figures: <= 2 bytes/sample on disk, <= 16 head
bytes/sample, 24 h flame graph < 200 ms, 7 days < 1 s. Exit status 0
unless the run itself failed (rejected pushes, a wrong total).
"""

import argparse
import collections
import http.client
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import hearth_test_lib as L  # noqa: E402

TARGET_DISK = 2.0
TARGET_HEAD = 16.0
TARGET_24H_MS = 200.0
TARGET_7D_MS = 1000.0
PERIOD_NS = 10 ** 7            # 100 Hz
CPU = L.CPU_TYPE


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hearth", default=L.hearth_bin(), help="hearth binary (a Release build)")
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--pods", type=int, default=20)
    ap.add_argument("--services", type=int, default=4)
    ap.add_argument("--interval", type=int, default=15, help="seconds between a pod's profiles")
    ap.add_argument("--stacks", type=int, default=400, help="distinct stacks per service call graph")
    ap.add_argument("--runs", type=int, default=5, help="query runs per range (median)")
    ap.add_argument("--workers", type=int, default=2, help="load generator processes")
    ap.add_argument("--go-timeout", type=int, default=600, help="seconds allowed per go tool pprof run")
    ap.add_argument("--keep", action="store_true", help="keep the data dir and pprof files")
    ap.add_argument("--tmp", default=None, help="where to put the data dir and pprof files")
    ap.add_argument("--head-only", action="store_true",
                    help="only step 1 (head bytes per sample after 10 min and 1 h of the fleet), ~3 min")
    return ap.parse_args()


# ---------------------------------------------------------------------------
# The fleet
# ---------------------------------------------------------------------------

LIB_FUNCS = [
    ("runtime.goexit", "runtime/asm_amd64.s"), ("runtime.main", "runtime/proc.go"),
    ("runtime.mallocgc", "runtime/malloc.go"), ("runtime.gcBgMarkWorker", "runtime/mgc.go"),
    ("runtime.scanobject", "runtime/mgcmark.go"), ("runtime.memmove", "runtime/memmove_amd64.s"),
    ("runtime.mapaccess2_faststr", "runtime/map_faststr.go"), ("runtime.growslice", "runtime/slice.go"),
    ("runtime.futex", "runtime/sys_linux_amd64.s"), ("runtime.schedule", "runtime/proc.go"),
    ("runtime.findrunnable", "runtime/proc.go"), ("runtime.netpoll", "runtime/netpoll_epoll.go"),
    ("syscall.Syscall", "syscall/syscall_linux.go"), ("syscall.write", "syscall/zsyscall_linux_amd64.go"),
    ("syscall.read", "syscall/zsyscall_linux_amd64.go"),
    ("net/http.(*conn).serve", "net/http/server.go"), ("net/http.serverHandler.ServeHTTP", "net/http/server.go"),
    ("net/http.(*ServeMux).ServeHTTP", "net/http/server.go"), ("net/http.HandlerFunc.ServeHTTP", "net/http/server.go"),
    ("net/http.(*response).Write", "net/http/server.go"), ("net/http.(*Transport).roundTrip", "net/http/transport.go"),
    ("net/http.(*persistConn).readLoop", "net/http/transport.go"), ("bufio.(*Writer).Flush", "bufio/bufio.go"),
    ("bufio.(*Reader).Read", "bufio/bufio.go"), ("net.(*conn).Read", "net/net.go"), ("net.(*conn).Write", "net/net.go"),
    ("internal/poll.(*FD).Read", "internal/poll/fd_unix.go"), ("internal/poll.(*FD).Write", "internal/poll/fd_unix.go"),
    ("encoding/json.Marshal", "encoding/json/encode.go"), ("encoding/json.(*encodeState).marshal", "encoding/json/encode.go"),
    ("encoding/json.Unmarshal", "encoding/json/decode.go"), ("encoding/json.(*decodeState).object", "encoding/json/decode.go"),
    ("encoding/json.(*decodeState).value", "encoding/json/decode.go"), ("reflect.Value.Field", "reflect/value.go"),
    ("strconv.AppendInt", "strconv/itoa.go"), ("strings.(*Builder).WriteString", "strings/builder.go"),
    ("fmt.Sprintf", "fmt/print.go"), ("fmt.(*pp).doPrintf", "fmt/print.go"),
    ("database/sql.(*DB).QueryContext", "database/sql/sql.go"), ("database/sql.(*Rows).Next", "database/sql/sql.go"),
    ("database/sql.(*DB).conn", "database/sql/sql.go"),
    ("github.com/jackc/pgx/v5/pgconn.(*PgConn).ExecParams", "github.com/jackc/pgx/v5/pgconn/pgconn.go"),
    ("github.com/jackc/pgx/v5/pgproto3.(*Frontend).Receive", "github.com/jackc/pgx/v5/pgproto3/frontend.go"),
    ("crypto/tls.(*Conn).Read", "crypto/tls/conn.go"), ("crypto/tls.(*Conn).Write", "crypto/tls/conn.go"),
    ("crypto/aes.(*aesCipherGCM).Seal", "crypto/aes/aes_gcm.go"), ("crypto/sha256.block", "crypto/sha256/sha256block_amd64.s"),
    ("compress/gzip.(*Writer).Write", "compress/gzip/gzip.go"), ("compress/flate.(*compressor).deflate", "compress/flate/deflate.go"),
    ("sync.(*Mutex).Lock", "sync/mutex.go"), ("sync.(*Pool).Get", "sync/pool.go"),
    ("google.golang.org/grpc.(*Server).handleStream", "google.golang.org/grpc/server.go"),
    ("google.golang.org/grpc.(*Server).processUnaryRPC", "google.golang.org/grpc/server.go"),
    ("google.golang.org/protobuf/proto.MarshalOptions.marshal", "google.golang.org/protobuf/proto/encode.go"),
    ("google.golang.org/protobuf/proto.UnmarshalOptions.unmarshal", "google.golang.org/protobuf/proto/decode.go"),
    ("go.opentelemetry.io/otel/sdk/trace.(*recordingSpan).End", "go.opentelemetry.io/otel/sdk/trace/span.go"),
    ("github.com/prometheus/client_golang/prometheus.(*histogram).Observe",
     "github.com/prometheus/client_golang/prometheus/histogram.go"),
]
SERVICE_NAMES = ["checkout", "catalog", "payments", "frontend", "search", "inventory", "shipping", "users"]
REGIONS = ["eu-west-1", "us-east-1", "ap-south-1"]


class Service:
    """One service's call graph, encoded pprof tables and Zipf-like stack draws."""

    def __init__(self, idx, n_stacks):
        rnd = random.Random(1000 + idx)
        self.name = "%s-%d" % (SERVICE_NAMES[idx % len(SERVICE_NAMES)], idx)
        pkg = "github.com/acme/%s" % self.name
        own = []
        for m in range(12):
            mod = ["api", "handler", "store", "cache", "model", "pricing", "auth", "render", "queue", "client",
                   "metrics", "util"][m]
            for k in range(20):
                typ = "".join(rnd.choice("ABCDEFGHIJKLMNOPRSTUVW") for _ in range(1)) + \
                    rnd.choice(["Service", "Store", "Handler", "Cache", "Client", "Encoder", "Worker"])
                meth = rnd.choice(["Get", "Put", "List", "Process", "Handle", "Apply", "Load", "Flush",
                                   "Compute", "Validate", "Encode", "Decode", "Lookup", "Update"]) + \
                    rnd.choice(["", "Item", "Order", "Batch", "Request", "Price", "User", "Entry", "Page"])
                own.append(("%s/internal/%s.(*%s).%s" % (pkg, mod, typ, meth),
                            "%s/internal/%s/%s.go" % (pkg, mod, typ.lower())))
        self.funcs = LIB_FUNCS + own           # function id = index + 1
        n_lib = len(LIB_FUNCS)
        # Stacks: runtime.goexit, an entry point, service frames, library leaves.
        entries = [15, 51, 1]                  # net/http conn.serve, grpc handleStream, runtime.main
        stacks, seen = [], set()
        while len(stacks) < n_stacks:
            st = [0, rnd.choice(entries)]
            if st[1] == 15:
                st += [16, 17, 18]
            elif st[1] == 51:
                st += [52]
            depth = rnd.randint(2, 9)
            for _ in range(depth):
                st.append(n_lib + rnd.randrange(len(own)))
            tail = rnd.choice([[2], [2, 5], [28, 29], [30, 31, 32], [38, 40], [39, 41, 42], [43, 44], [46],
                               [47, 48], [23, 12, 13], [24, 26, 14], [35], [36, 37], [6], [7], [49], [50],
                               [53], [54], [55], [56], [8, 9, 10], [20, 21], []])
            st += tail
            key = tuple(st)
            if key not in seen:
                seen.add(key)
                stacks.append(key)
        self.stacks = stacks
        weights = [1.0 / (k + 1) ** 1.1 for k in range(n_stacks)]
        rnd.shuffle(weights)
        self.pool = rnd.choices(range(n_stacks), weights=weights, k=1 << 19)
        self._enc = {}
        for st in range(n_stacks):          # counts seen in practice; rarer ones are added on demand
            for c in range(1, 33):
                self.sample_bytes(st, c)
        self.tables = self._tables()
        co = zlib.compressobj(6, zlib.DEFLATED, 31)
        self.tables_gz = co.compress(self.tables) + co.flush()

    def _tables(self):
        strings = [""]
        index = {"": 0}

        def s(x):
            if x not in index:
                index[x] = len(strings)
                strings.append(x)
            return index[x]

        out = bytearray()
        out += L.pb_bytes(1, L.pb_uint(1, s("cpu")) + L.pb_uint(2, s("nanoseconds")))
        out += L.pb_bytes(3, L.pb_uint(1, 1) + L.pb_uint(2, 0x400000) + L.pb_uint(3, 0x2000000) +
                          L.pb_uint(5, s("/app/" + self.name)) + L.pb_uint(6, s("4f1c2e9a7b")) +
                          L.pb_uint(7, 1) + L.pb_uint(8, 1) + L.pb_uint(9, 1))
        for fid, (name, fname) in enumerate(self.funcs, 1):
            out += L.pb_bytes(4, L.pb_uint(1, fid) + L.pb_uint(2, 1) + L.pb_uint(3, 0x401000 + fid * 0x40) +
                              L.pb_bytes(4, L.pb_uint(1, fid) + L.pb_uint(2, 20 + fid * 7 % 400)))
            out += L.pb_bytes(5, L.pb_uint(1, fid) + L.pb_uint(2, s(name)) + L.pb_uint(3, s(name)) +
                              L.pb_uint(4, s(fname)) + L.pb_uint(5, 10 + fid * 7 % 400))
        pt = L.pb_bytes(11, L.pb_uint(1, s("cpu")) + L.pb_uint(2, s("nanoseconds")))
        for x in strings:
            out += L.pb_bytes(6, x)
        out += pt + L.pb_uint(12, PERIOD_NS) + L.pb_uint(10, 15 * 10 ** 9)
        return bytes(out)

    def sample_bytes(self, stack, count):
        """The encoded Sample message (field 2 of Profile) of count 10-ms ticks on a stack."""
        key = (stack, count)
        b = self._enc.get(key)
        if b is None:
            locs = [f + 1 for f in reversed(self.stacks[stack])]
            b = L.pb_bytes(2, L.pb_packed(1, locs) + L.pb_packed(2, [count * PERIOD_NS]))
            self._enc[key] = b
        return b

    def profile(self, rnd, n_samples, t_s):
        """(gzip body, distinct stacks, total value) of one profile."""
        off = rnd.randrange(len(self.pool) - n_samples)
        counts = collections.Counter(self.pool[off:off + n_samples])
        enc = self._enc
        try:
            parts = [enc[k] for k in counts.items()]
        except KeyError:
            parts = [self.sample_bytes(s, c) for s, c in counts.items()]
        part = b"".join(parts) + L.pb_uint(9, t_s * 10 ** 9)
        co = zlib.compressobj(6, zlib.DEFLATED, 31)
        return co.compress(part) + co.flush() + self.tables_gz, len(counts), n_samples * PERIOD_NS


class Fleet:
    def __init__(self, a):
        self.services = [Service(i, a.stacks) for i in range(a.services)]
        self.pods = []       # (service index, pod name, region, time offset s)
        for p in range(a.pods):
            si = p % a.services
            self.pods.append((si, "%s-%05x" % (self.services[si].name, (p * 2654435761) & 0xFFFFF),
                              REGIONS[p % len(REGIONS)], (p * 7) % a.interval))
        self.interval = a.interval
        self.end_s = L.now_s() // 3600 * 3600
        self.start_s = self.end_s - int(a.days * 86400)

    def load(self, t_s, pod_index):
        """Samples in the profile of a pod at t: daily cycle plus noise."""
        rnd = random.Random(t_s * 131 + pod_index)
        day = (t_s % 86400) / 86400.0
        base = 900 + 450 * math.sin(2 * math.pi * (day - 0.3))
        return rnd, max(200, min(1600, int(base * (0.8 + 0.4 * rnd.random()))))

    def params(self, pod_index):
        si, pod, region, _ = self.pods[pod_index]
        return "/ingest?" + L.encode_query([
            ("name", "%s{pod=%s,namespace=prod,region=%s}" % (self.services[si].name, pod, region)),
            ("format", "pprof"), ("spyName", "gospy")])


def _worker(a, fleet, port, w, t_from, t_to, barrier, out_q, go_dir, go_service, go_from):
    """Push this worker's pods' profiles for [t_from, t_to), an hour at a time."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    hdr = {"Content-Type": "application/octet-stream"}
    mine = [p for p in range(len(fleet.pods)) if p % a.workers == w]
    paths = {p: fleet.params(p) for p in mine}
    st = {"profiles": 0, "samples": 0, "values": 0, "gz_bytes": 0, "bad": 0, "bad_first": "",
          "go_files": 0}
    hour = t_from
    while hour < t_to:
        hour_end = min(hour + 3600, t_to)
        for t in range(hour, hour_end, fleet.interval):
            for p in mine:
                si, _pod, _region, off = fleet.pods[p]
                ts = t + off
                rnd, n = fleet.load(ts, p)
                body, distinct, total = fleet.services[si].profile(rnd, n, ts)
                try:
                    conn.request("POST", paths[p], body, hdr)
                    r = conn.getresponse()
                    data = r.read()
                    status = r.status
                except (OSError, http.client.HTTPException) as e:
                    conn.close()
                    status, data = 0, repr(e).encode()
                if status != 200:
                    st["bad"] += 1
                    st["bad_first"] = st["bad_first"] or "%s -> %d %s" % (paths[p], status, data[:200])
                    continue
                st["profiles"] += 1
                st["samples"] += distinct
                st["values"] += total
                st["gz_bytes"] += len(body)
                if go_dir and si == go_service and ts >= go_from:
                    with open(os.path.join(go_dir, "%d-%02d.pb.gz" % (ts, p)), "wb") as f:
                        f.write(body)
                    st["go_files"] += 1
        hour = hour_end
        if barrier is not None:
            barrier.wait(timeout=600)
    conn.close()
    out_q.put(st)


def push_range(a, fleet, port, t_from, t_to, go_dir=None, go_service=0, go_from=None, progress=False):
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    barrier = ctx.Barrier(a.workers) if a.workers > 1 else None
    procs = [ctx.Process(target=_worker, args=(a, fleet, port, w, t_from, t_to, barrier, q, go_dir,
                                               go_service, go_from if go_from is not None else t_to))
             for w in range(a.workers)]
    t0 = time.monotonic()
    for p in procs:
        p.start()
    results = []
    while len(results) < len(procs):
        try:
            results.append(q.get(timeout=10))
        except Exception:
            if progress:
                sys.stdout.write(".")
                sys.stdout.flush()
            if not any(p.is_alive() for p in procs) and q.empty():
                raise SystemExit("load generator processes died")
    for p in procs:
        p.join(timeout=30)
    if progress:
        sys.stdout.write("\n")
    tot = {k: sum(r[k] for r in results) for k in ("profiles", "samples", "values", "gz_bytes", "bad", "go_files")}
    tot["bad_first"] = next((r["bad_first"] for r in results if r["bad_first"]), "")
    tot["seconds"] = time.monotonic() - t0
    return tot


# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------

def timed_get(port, path, params):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t0 = time.perf_counter()
    conn.request("GET", path + "?" + L.encode_query(params))
    r = conn.getresponse()
    body = r.read()
    dt = time.perf_counter() - t0
    conn.close()
    if r.status != 200:
        raise SystemExit("GET %s?%s -> %d %s" % (path, L.encode_query(params), r.status, body[:300]))
    return dt, body


def render_latency(h, service, frm_ms, until_ms, runs):
    params = [("query", '%s{service_name="%s"}' % (CPU, service)), ("from", str(frm_ms)),
              ("until", str(until_ms))]
    cold, body = timed_get(h.port, "/pyroscope/render", params)
    times = [timed_get(h.port, "/pyroscope/render", params)[0] for _ in range(runs)]
    fb = json.loads(body)["flamebearer"]
    return cold, statistics.median(times), fb["numTicks"], len(body)


def go_merge(files, timeout, runs=1):
    """Seconds of `go tool pprof -proto files...` (median of runs), and the merged total."""
    out = tempfile.NamedTemporaryFile(suffix=".pb.gz", delete=False)
    out.close()
    times = []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            with open(out.name, "wb") as f:
                r = subprocess.run(["go", "tool", "pprof", "-proto"] + files, stdout=f,
                                   stderr=subprocess.PIPE, timeout=timeout)
            times.append(time.perf_counter() - t0)
            if r.returncode != 0:
                raise RuntimeError("go tool pprof failed (%d): %s" % (r.returncode, r.stderr[-500:]))
        with open(out.name, "rb") as f:
            p = L.decode_pprof(f.read())
        total = sum(s.values[0] for s in p.samples)
        return statistics.median(times), total
    finally:
        os.unlink(out.name)


def wait_compaction_quiet(h, quiet_s=5.0, limit_s=600):
    """Wait until no compaction has started for quiet_s (and none is running)."""
    t0 = time.monotonic()
    last_n = -1
    last_change = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        started = len(h.log_matches('msg="compaction started"'))
        done = len(h.log_matches('msg="compaction done"'))
        n = started + done
        if n != last_n:
            last_n, last_change = n, time.monotonic()
        if started == done and time.monotonic() - last_change >= quiet_s:
            return started
        time.sleep(0.25)
    return None


def level_metrics(h):
    out = {}
    for name, lab, v in h.metrics():
        if name in ("hearth_storage_blocks", "hearth_storage_block_bytes", "hearth_storage_sst_bytes"):
            out.setdefault(name, {})[lab.get("level", "")] = v
    return out


def build_note(binary):
    d = os.path.dirname(os.path.abspath(binary))
    for _ in range(3):
        cache = os.path.join(d, "CMakeCache.txt")
        if os.path.exists(cache):
            text = open(cache).read()
            bt = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", text, re.M)
            return bt.group(1) if bt and bt.group(1) else "(project default)"
        d = os.path.dirname(d)
    return "?"


def main():
    a = parse_args()
    os.environ["HEARTH_BIN"] = a.hearth
    bt = build_note(a.hearth)
    print("hearth: %s (CMAKE_BUILD_TYPE=%s)" % (a.hearth, bt))
    if L.binary_is_sanitized(a.hearth):
        print("warning: sanitizer build; the numbers are not representative")
    if a.pods % a.services:
        raise SystemExit("--pods must be a multiple of --services")
    fleet = Fleet(a)
    per_svc = a.pods // a.services
    n_prof = int((fleet.end_s - fleet.start_s) / a.interval) * a.pods
    print("fleet: %d pods (%d services x %d pods), one CPU pprof per pod every %d s, %.1f days "
          "(%d profiles), %d distinct stacks per service call graph" % (
              a.pods, a.services, per_svc, a.interval, a.days, n_prof, a.stacks))
    tmp = tempfile.mkdtemp(prefix="hearth-storage-bench-", dir=a.tmp)
    go_dir = os.path.join(tmp, "pprof")
    os.makedirs(go_dir)
    svc0 = fleet.services[0].name
    rc = 0
    try:
        # 1. Head bytes per sample.
        flags_head = ["-ingester.block-duration=1000h", "-ingester.max-head-bytes=%d" % (8 << 30),
                      "-storage.wal-sync=interval"]
        with L.HearthProcess(flags=flags_head, data_dir=os.path.join(tmp, "head"), name="hearth-head") as h:
            head = []
            t = fleet.start_s
            for span in (600, 3000):
                r = push_range(a, fleet, h.port, t, t + span)
                t += span
                if r["bad"]:
                    raise SystemExit("head phase: %d pushes failed, first: %s" % (r["bad"], r["bad_first"]))
                head.append((h.metric("hearth_ingester_head_bytes"), r))
            s10 = head[0][1]["samples"]
            s60 = s10 + head[1][1]["samples"]
            hb10, hb60 = head[0][0], head[1][0]
        shutil.rmtree(os.path.join(tmp, "head"), ignore_errors=True)
        if a.head_only:
            print()
            print("== storage_bench results (--head-only) ==")
            for label, hb, s in (("10 min", hb10, s10), ("1 h", hb60, s60)):
                print("head after %s of the fleet: %d bytes for %d samples = %.2f bytes/sample (target <= %.0f: %s)"
                      % (label, hb, s, hb / s, TARGET_HEAD, "met" if hb / s <= TARGET_HEAD else "NOT met"))
            return rc

        # 2. The whole period.
        data_dir = os.path.join(tmp, "data")
        flags = ["-ingester.block-duration=2s", "-ingester.compaction-interval=1s",
                 "-storage.wal-sync=interval"]
        h = L.HearthProcess(flags=flags, data_dir=data_dir, name="hearth-bench")
        h.start()
        print("pushing %.1f days (progress: one dot per 10 s) ..." % a.days)
        load = push_range(a, fleet, h.port, fleet.start_s, fleet.end_s, go_dir=go_dir, go_service=0,
                          go_from=fleet.end_s - 86400, progress=True)
        if load["bad"]:
            print("ERROR: %d pushes failed, first: %s" % (load["bad"], load["bad_first"]))
            rc = 1
        t0 = time.monotonic()
        h.stop_checked()
        stop_s = time.monotonic() - t0
        h.cleanup()
        h = L.HearthProcess(flags=flags, data_dir=data_dir, name="hearth-bench-2")
        h.start()
        t0 = time.monotonic()
        compactions = wait_compaction_quiet(h)
        settle_s = time.monotonic() - t0
        disk = L.du_bytes(data_dir)
        lv = level_metrics(h)

        # 4. Flame graph latency.
        lat = {}
        end_ms = fleet.end_s * 1000 - 1
        for label, span in (("1 h", 3600), ("24 h", 86400), ("%g d" % a.days, int(a.days * 86400))):
            lat[label] = render_latency(h, svc0, (fleet.end_s - span) * 1000, end_ms, a.runs)

        # 5. go tool pprof.
        def files_since(span):
            out = []
            for n in sorted(os.listdir(go_dir)):
                if int(n.split("-")[0]) >= fleet.end_s - span:
                    out.append(os.path.join(go_dir, n))
            return out
        go = {}
        for label, span, runs in (("1 h", 3600, 3), ("24 h", 86400, 1)):
            files = files_since(span)
            try:
                go[label] = (go_merge(files, a.go_timeout, runs), len(files))
            except subprocess.TimeoutExpired:
                go[label] = (None, len(files))
            except (OSError, RuntimeError) as e:
                go[label] = (str(e), len(files))
        h.stop_checked()
        h.cleanup()
        disk_closed = L.du_bytes(data_dir)   # without RocksDB's preallocated log space

        # Report.
        samples, values = load["samples"], load["values"]
        print()
        print("== storage_bench results ==")
        print("load: %d profiles, %d samples (%.0f distinct stacks per profile on average), %.1f MB gzip pprof, "
              "in %.0f s (%.0f profiles/s); flush at SIGTERM %.1f s; compaction settled in %.1f s (%s "
              "compactions after restart)" % (
                  load["profiles"], samples, samples / max(load["profiles"], 1), load["gz_bytes"] / 1e6,
                  load["seconds"], load["profiles"] / load["seconds"], stop_s, settle_s, compactions))
        print("on disk: %d bytes (du of the closed data dir) = %.2f bytes/sample (target <= %.0f: %s); "
              "%.4f x the gzip pprof bytes (%.2f %%); while running: %d bytes (%.2f bytes/sample)" % (
                  disk_closed, disk_closed / samples, TARGET_DISK,
                  "met" if disk_closed / samples <= TARGET_DISK else "NOT met",
                  disk_closed / load["gz_bytes"], 100.0 * disk_closed / load["gz_bytes"], disk, disk / samples))
        if lv:
            bb = sum(lv.get("hearth_storage_block_bytes", {}).values())
            print("  blocks per level %s; block bytes per level %s (%.2f bytes/sample); RocksDB SST bytes per "
                  "level %s" % (
                      {k: int(v) for k, v in sorted(lv.get("hearth_storage_blocks", {}).items())},
                      {k: int(v) for k, v in sorted(lv.get("hearth_storage_block_bytes", {}).items())},
                      bb / samples,
                      {k: int(v) for k, v in sorted(lv.get("hearth_storage_sst_bytes", {}).items()) if v}))
        for label, hb, s in (("10 min", hb10, s10), ("1 h", hb60, s60)):
            if hb is None:
                print("head: hearth_ingester_head_bytes missing from /metrics")
                rc = 1
                continue
            print("head after %s of the fleet: %d bytes for %d samples = %.2f bytes/sample (target <= %.0f: %s)" % (
                label, hb, s, hb / s, TARGET_HEAD, "met" if hb / s <= TARGET_HEAD else "NOT met"))
        print("flame graph of one service (%s, %d pods), GET /pyroscope/render, median of %d runs:" % (
            svc0, per_svc, a.runs))
        for label, (cold, med, ticks, size) in lat.items():
            target = ""
            if label == "24 h":
                target = " (target < %.0f ms: %s)" % (TARGET_24H_MS, "met" if med * 1000 < TARGET_24H_MS else "NOT met")
            elif label == "%g d" % a.days and a.days >= 7:
                target = " (target < %.0f ms: %s)" % (TARGET_7D_MS, "met" if med * 1000 < TARGET_7D_MS else "NOT met")
            g = go.get(label)
            gtxt = ""
            if g is not None:
                res, n = g
                if res is None:
                    gtxt = "; go tool pprof -proto over %d files: did not finish in %d s" % (n, a.go_timeout)
                elif isinstance(res, str):
                    gtxt = "; go tool pprof -proto over %d files failed: %s" % (n, res)
                else:
                    secs, total = res
                    gtxt = "; go tool pprof -proto over %d files: %.0f ms = %.0f x hearth" % (
                        n, secs * 1000, secs / med)
                    if total != ticks:
                        gtxt += " [TOTALS DIFFER: go %d, hearth numTicks %d]" % (total, ticks)
                        rc = 1
                    else:
                        gtxt += " (same total)"
            print("  %-5s %8.1f ms (cold %.1f ms, %d-byte answer)%s%s" % (
                label, med * 1000, cold * 1000, size, target, gtxt))
        if "24 h" in go and go["24 h"][0] is None:
            print("  (go tool pprof for 24 h: no result within --go-timeout=%d s)" % a.go_timeout)
    finally:
        if a.keep:
            print("kept: %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
