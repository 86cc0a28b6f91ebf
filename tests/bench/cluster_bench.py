#!/usr/bin/env python3
"""Cluster benchmark: ingest throughput per distributor count, and the cost
of replica de-duplication on a 24 h query (RF = 1 vs RF = 3).

  tests/bench/cluster_bench.py [--hearth build/cmd/hearth] [--seconds 15]
      [--distributors 1,2,3] [--clients 6] [--hours 24] [--pods 20]
      [--interval 30] [--stacks 200] [--runs 7] [--skip-ingest] [--skip-query]

Not a ctest test: it prints figures (docs/cluster.md quotes them).

1. Ingest: 3 ingesters with RF = 3 and N distributor processes (N from
   --distributors), every process on this machine. --clients load-generator
   processes POST the testdata pprof files round-robin (format=pprof), each
   client to one distributor (client k → distributor k mod N), for
   --seconds. Prints accepted profiles/s and MB/s (compressed bodies) and,
   because the machine has 2 cores shared by everything, per-core figures:
   profiles per CPU second of all hearth processes, and the CPU ms one
   profile costs in the distributors and in the ingesters (3 copies).
2. Query: a synthetic 24 h dataset (--pods pods of one service, one folded
   profile per pod every --interval seconds, --stacks stacks each, old
   timestamps: the ingestion window limit is off) is loaded into a fresh
   3-ingester cluster with RF = 1 and again with RF = 3; the 24 h render is
   timed (--runs runs, median) and its per-function totals checked against
   what was pushed. Prints both medians and the ratio RF3 / RF1 (the goal
   is well under 2).
The default run takes about 5-8 minutes; --seconds, --hours and --runs
shorten it.
"""

import argparse
import http.client
import multiprocessing
import os
import random
import statistics
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import hearth_test_lib as L  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hearth", default=L.hearth_bin(), help="hearth binary (a release build)")
    ap.add_argument("--seconds", type=float, default=15.0, help="ingest load per distributor count")
    ap.add_argument("--distributors", default="1,2,3", help="distributor counts to measure")
    ap.add_argument("--clients", type=int, default=6, help="load-generator processes")
    ap.add_argument("--hours", type=float, default=24.0, help="span of the query dataset")
    ap.add_argument("--pods", type=int, default=20, help="series (pods) of the query dataset")
    ap.add_argument("--interval", type=int, default=30, help="seconds between a pod's profiles")
    ap.add_argument("--stacks", type=int, default=200, help="stacks per profile")
    ap.add_argument("--runs", type=int, default=7, help="query runs (median)")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--skip-query", action="store_true")
    ap.add_argument("--flag", action="append", default=[], metavar="-x=v",
                    help="extra flag for every hearth process, repeatable")
    a = ap.parse_args()
    os.environ["HEARTH_BIN"] = os.path.abspath(a.hearth)
    a.distributors = [int(x) for x in a.distributors.split(",") if x]
    return a


def cpu_of(procs):
    return sum(L.proc_cpu_seconds(p.proc.pid) for p in procs)


# -- 1. ingest ------------------------------------------------------------------

def request_list():
    reqs = []
    for i, f in enumerate(L.pprof_files()):
        with open(f, "rb") as fh:
            body = fh.read()
        path = "/ingest?" + L.encode_query([("name", "cbench-%d" % i), ("format", "pprof"),
                                            ("spyName", "dotnetspy" if "dotnet" in f else "unknown")])
        reqs.append((path, body))
    return reqs


def _client(port, reqs, start_at, seconds, offset, out_q):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    hdrs = {"Content-Type": "application/octet-stream"}
    ok = bad = sent = 0
    sample = ""
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = time.monotonic() + seconds
    i = offset
    try:
        while time.monotonic() < deadline:
            path, body = reqs[i % len(reqs)]
            i += 1
            try:
                conn.request("POST", path, body, hdrs)
                r = conn.getresponse()
                data = r.read()
            except (OSError, http.client.HTTPException) as e:
                conn.close()
                bad += 1
                sample = sample or repr(e)
                continue
            if r.status == 200:
                ok += 1
                sent += len(body)
            else:
                bad += 1
                sample = sample or "%d %r" % (r.status, data[:200])
    finally:
        conn.close()
    out_q.put((ok, bad, sample, sent))


def ingest_run(a, n_dist, reqs):
    cl = L.Cluster(n_ingesters=3, n_distributors=n_dist, rf=3, front=False, flags=a.flag)
    cl.start()
    try:
        ports = [d.port for d in cl.distributors]
        ctx = multiprocessing.get_context("fork")
        q = ctx.Queue()
        start_at = time.time() + 0.5
        procs = [ctx.Process(target=_client, args=(ports[c % n_dist], reqs, start_at, a.seconds, c * 5, q))
                 for c in range(a.clients)]
        ing = list(cl.ingesters.values())
        for p in procs:
            p.start()
        while time.time() < start_at:
            time.sleep(0.001)
        d0, i0, t0 = cpu_of(cl.distributors), cpu_of(ing), time.monotonic()
        results = [q.get(timeout=a.seconds + 120) for _ in procs]
        wall = time.monotonic() - t0
        d1, i1 = cpu_of(cl.distributors), cpu_of(ing)
        for p in procs:
            p.join(timeout=30)
        ok = sum(r[0] for r in results)
        bad = sum(r[1] for r in results)
        sent = sum(r[3] for r in results)
        sample = next((r[2] for r in results if r[2]), "")
        dcpu, icpu = d1 - d0, i1 - i0
        row = {"distributors": n_dist, "ok": ok, "bad": bad, "sample": sample, "wall": wall,
               "pps": ok / wall, "mbps": sent / wall / 1e6, "dcpu": dcpu, "icpu": icpu,
               "cores": (dcpu + icpu) / wall,
               "pp_cpu_s": ok / (dcpu + icpu) if dcpu + icpu else 0,
               "d_ms": 1000 * dcpu / ok if ok else 0, "i_ms": 1000 * icpu / ok if ok else 0}
    finally:
        problems = cl.cleanup()
    if problems:
        print("  shutdown problems: %s" % "; ".join(problems)[:500])
    return row


def bench_ingest(a):
    reqs = request_list()
    mb = sum(len(b) for _, b in reqs) / 1e6
    print("== ingest: 3 ingesters, RF=3, %d testdata pprof files (%.2f MB), %d client processes, %.0f s each"
          % (len(reqs), mb, a.clients, a.seconds))
    print("%-12s %10s %9s %8s %10s %11s %10s %10s %8s" % (
        "distributors", "profiles/s", "MB/s", "errors", "cpu cores", "prof/cpu-s", "dist ms/p", "ing ms/p", "wall s"))
    rows = []
    for n in a.distributors:
        r = ingest_run(a, n, reqs)
        rows.append(r)
        print("%-12d %10.0f %9.2f %8d %10.2f %11.0f %10.2f %10.2f %8.1f" % (
            n, r["pps"], r["mbps"], r["bad"], r["cores"], r["pp_cpu_s"], r["d_ms"], r["i_ms"], r["wall"]))
        if r["bad"]:
            print("  first error: %s" % r["sample"])
        sys.stdout.flush()
    print("  cpu cores = CPU seconds of all hearth processes per wall second (the machine has %d; the"
          " load generator shares them)" % (os.cpu_count() or 0))
    print("  prof/cpu-s = accepted profiles per CPU second of hearth (distributors + 3 ingesters): per-core throughput")
    return rows


# -- 2. 24 h query, RF = 1 vs RF = 3 ----------------------------------------------

class Dataset:
    """One service, `pods` series, a profile per pod every `interval` s over
    `hours` ending an hour ago; 8 body variants of `stacks` folded stacks."""

    def __init__(self, a):
        self.a = a
        self.service = "qbench"
        end = L.now_s() - 3600
        self.end = end - end % 60
        self.start = self.end - int(a.hours * 3600)
        self.variants = []
        for v in range(8):
            rnd = random.Random(1000 + v)
            st = [("main;mod_%d;fn_%d;leaf_%d" % (k % 13, k % 97, k), 1 + rnd.randrange(40))
                  for k in range(a.stacks)]
            self.variants.append(("".join("%s %d\n" % s for s in st).encode(),
                                  {s[0].rsplit(";", 1)[1]: s[1] * 10 ** 7 for s in st}))

    def pushes(self):
        out = []
        for t in range(self.start, self.end, self.a.interval):
            for pod in range(self.a.pods):
                out.append((t, pod))
        return out

    def request(self, t, pod):
        v = (t // self.a.interval + pod) % len(self.variants)
        params = [("name", "%s.cpu{pod=pod-%d}" % (self.service, pod)), ("from", str(t)), ("until", str(t + 10))]
        return "/ingest?" + L.encode_query(params), self.variants[v][0], v

    def expected(self, counts):
        out = {}
        for v, n in counts.items():
            for k, x in self.variants[v][1].items():
                out[k] = out.get(k, 0) + x * n
        return out


def load_dataset(ds, port, threads=4):
    items = ds.pushes()
    counts = {}
    lock = threading.Lock()
    errors = []
    nxt = [0]

    def run():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        hdrs = {"Content-Type": "application/octet-stream"}
        while True:
            with lock:
                if nxt[0] >= len(items) or errors:
                    break
                t, pod = items[nxt[0]]
                nxt[0] += 1
            path, body, v = ds.request(t, pod)
            conn.request("POST", path, body, hdrs)
            r = conn.getresponse()
            data = r.read()
            with lock:
                if r.status == 200:
                    counts[v] = counts.get(v, 0) + 1
                else:
                    errors.append("POST %s -> %d %r" % (path, r.status, data[:600]))
        conn.close()

    t0 = time.monotonic()
    ths = [threading.Thread(target=run) for _ in range(threads)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    if errors:
        raise SystemExit("loading the query dataset failed: %s" % errors[0])
    return counts, time.monotonic() - t0, len(items)


def query_run(a, ds, rf):
    cl = L.Cluster(n_ingesters=3, n_distributors=1, rf=rf, front=False, flags=a.flag)
    cl.start()
    try:
        counts, load_s, n = load_dataset(ds, cl.distributors[0].port)
        want = ds.expected(counts)
        q = '%s{service_name="%s"}' % (L.CPU_TYPE, ds.service)
        frm, until = ds.start * 1000, (ds.end + 60) * 1000
        times = []
        for k in range(a.runs + 1):
            t0 = time.monotonic()
            status, got, ticks, body = L.query_self_values(cl.querier, q, frm, until, timeout=300)
            took = time.monotonic() - t0
            if status != 200:
                raise SystemExit("RF=%d: 24 h render -> %d: %s" % (rf, status, body[:500]))
            if got != want:
                raise SystemExit("RF=%d: 24 h render is not exact:\n%s" % (rf, L.diff_dicts(want, got)))
            if k > 0:               # the first run warms caches
                times.append(took)
        series = cl.series_per_ingester()
    finally:
        problems = cl.cleanup()
    if problems:
        print("  shutdown problems: %s" % "; ".join(problems)[:500])
    return {"rf": rf, "median": statistics.median(times), "min": min(times), "max": max(times),
            "load_s": load_s, "pushes": n, "series": series}


def bench_query(a):
    ds = Dataset(a)
    n = len(ds.pushes())
    print("\n== 24 h query: %d pods x one profile per %d s over %.0f h = %d profiles of %d stacks,"
          " 3 ingesters, %d runs" % (a.pods, a.interval, a.hours, n, a.stacks, a.runs))
    rows = {}
    for rf in (1, 3):
        r = query_run(a, ds, rf)
        rows[rf] = r
        print("RF=%d: median %.1f ms (min %.1f, max %.1f); load %.1f s (%.0f profiles/s); series per ingester %r"
              % (rf, 1000 * r["median"], 1000 * r["min"], 1000 * r["max"], r["load_s"], r["pushes"] / r["load_s"],
                 r["series"]))
        sys.stdout.flush()
    ratio = rows[3]["median"] / rows[1]["median"]
    print("24 h query latency RF=3 / RF=1 = %.2f (goal: well under 2)" % ratio)
    return ratio


def main():
    a = parse_args()
    print("cluster_bench: %s, %d cores" % (a.hearth, os.cpu_count() or 0))
    if L.binary_is_sanitized(a.hearth):
        print("warning: %s is a sanitizer build; figures are not representative" % a.hearth)
    t0 = time.monotonic()
    if not a.skip_ingest:
        bench_ingest(a)
    if not a.skip_query:
        bench_query(a)
    print("\ntotal %.0f s" % (time.monotonic() - t0))


if __name__ == "__main__":
    main()
