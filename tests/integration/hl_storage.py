"""Storage, tenancy and limits helpers of the integration tests (hearth_test_lib re-exports them).

logfmt and Prometheus parsing, disk and CPU readings, PushScheme, PushLedger
and Pusher (pushes whose stored set is read back exactly, each recorded as
acked, rejected or unknown), and the tokens / overrides file writers.
"""

import json
import os
import random
import subprocess
import threading
import time

from hearth_test_lib import HearthError, encode_query, hearth_bin
from hl_pprof import PprofBuilder, diff_dicts, flamebearer_tree, self_by_name


# ---------------------------------------------------------------------------
# Storage tests: log lines, metrics, disk usage, tracked pushes
# ---------------------------------------------------------------------------

CPU_TYPE = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def logfmt_parse(line):
    """key=value pairs of one logfmt line ("quoted values" unescaped)."""
    out = {}
    i, n = 0, len(line)
    while i < n:
        while i < n and line[i] == " ":
            i += 1
        j = i
        while j < n and line[j] not in "= ":
            j += 1
        key = line[i:j]
        if j >= n or line[j] != "=":
            if key:
                out[key] = ""
            i = j + 1
            continue
        j += 1
        if j < n and line[j] == '"':
            j += 1
            val = []
            while j < n and line[j] != '"':
                if line[j] == "\\" and j + 1 < n:
                    j += 1
                val.append(line[j])
                j += 1
            out[key] = "".join(val)
            i = j + 1
        else:
            k = j
            while k < n and line[k] != " ":
                k += 1
            out[key] = line[j:k]
            i = k
    return out


def parse_prometheus(text):
    """Prometheus text format -> list of (name, {label: value}, float)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        labels = {}
        if "{" in line:
            name, _, rest = line.partition("{")
            body, _, value = rest.rpartition("}")
            i = 0
            while i < len(body):
                eq = body.index("=", i)
                k = body[i:eq].strip().lstrip(",").strip()
                j = eq + 2          # after ="
                v = []
                while body[j] != '"':
                    if body[j] == "\\":
                        j += 1
                        v.append({"n": "\n"}.get(body[j], body[j]))
                    else:
                        v.append(body[j])
                    j += 1
                labels[k] = "".join(v)
                i = j + 1
                while i < len(body) and body[i] in ", ":
                    i += 1
        else:
            name, _, value = line.partition(" ")
        value = value.strip().split(" ")[0]
        try:
            v = float(value)
        except ValueError:
            continue
        out.append((name.strip(), labels, v))
    return out


def du_bytes(path):
    """Bytes allocated on disk under path (like `du -s -B1`): st_blocks x 512."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_blocks * 512
            except FileNotFoundError:
                pass    # RocksDB deleted it meanwhile
    return total


def proc_cpu_seconds(pid):
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()   # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def binary_is_sanitized(path=None):
    """True when the hearth binary was built with AddressSanitizer."""
    path = path or hearth_bin()
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


class PushScheme:
    """What push number i of a test looks like, so that any set of stored pushes
    has exactly computable per-function values.

    Every push carries the same three stacks with values derived from i, one
    of them ending in a function named `<marker><i>` that no other push has:
    the flame graph's self value per function then tells exactly which pushes
    were stored, and each marker's value shows one push was counted once.
    kind "folded" (a .cpu upload, sampleRate 100: a count is 1e7 ns) or
    "pprof" (gzip pprof with the same stacks). Timestamps: base_s + i*step_s.

    bulk=N adds N more stacks main;mod_<k%37>;fn_<k%211>;leaf_<k> (k < N)
    with pseudo-random counts 1..50 (bulk_variants variants, by i % that,
    each built once):
    bigger profiles whose function names are shared by every push (the
    head's sample arrays grow, its stack tree does not).
    """

    SCALE = 10 ** 7

    def __init__(self, kind, service, marker, base_s, step_s=1, tenant=None, pods=4, bulk=0,
                 bulk_variants=16):
        assert kind in ("folded", "pprof")
        self.kind = kind
        self.service = service
        self.marker = marker
        self.base_s = base_s
        self.step_s = step_s
        self.tenant = tenant
        self.pods = pods
        self.bulk = bulk
        self.BULK_VARIANTS = bulk_variants

    def ts(self, i):
        return self.base_s + i * self.step_s

    def stacks(self, i, small=False):
        """[(root-first frames, count)]; the value stored is count x SCALE.
        small: only the three stacks every push has (not the bulk)."""
        out = [(["main", "serve", "handler_%d" % (i % 5), "shared_%d" % (i % 3)], 1 + i % 7),
               (["main", "serve", "%s%d" % (self.marker, i)], 1 + i % 4),
               (["main", "gc"], 2)]
        if self.bulk and not small:
            out += self._bulk(i)[0]
        return out

    def _bulk(self, i):
        """(stacks, folded text, self values) of push i's bulk part; by variant, cached."""
        v = i % self.BULK_VARIANTS
        cache = self.__dict__.setdefault("_bulk_cache", {})
        if v not in cache:
            rnd = random.Random(v * 7919 + 17 + self.bulk)
            st = [(["main", "mod_%d" % (k % 37), "fn_%d" % (k % 211), "leaf_%d" % k], 1 + rnd.randrange(50))
                  for k in range(self.bulk)]
            text = "".join("%s %d\n" % (";".join(f), c) for f, c in st)
            selfv = {}
            for f, c in st:
                selfv[f[-1]] = selfv.get(f[-1], 0) + c * self.SCALE
            cache[v] = (st, text.encode(), selfv)
        return cache[v]

    def marker_name(self, i):
        return "%s%d" % (self.marker, i)

    def self_values(self, i):
        out = dict(self._bulk(i)[2]) if self.bulk else {}
        for frames, count in self.stacks(i, small=True):
            out[frames[-1]] = out.get(frames[-1], 0) + count * self.SCALE
        return out

    def total(self, i):
        return sum(self.self_values(i).values())

    def headers(self):
        return {"X-Scope-OrgID": self.tenant} if self.tenant else {}

    def request(self, i):
        """(query params, body, headers) of POST /ingest for push i."""
        ts = self.ts(i)
        hdrs = self.headers()
        if self.kind == "folded":
            body = "".join("%s %d\n" % (";".join(f), c) for f, c in self.stacks(i, small=True)).encode()
            if self.bulk:
                body += self._bulk(i)[1]
            params = [("name", "%s.cpu{pod=pod-%d}" % (self.service, i % self.pods)),
                      ("from", str(ts)), ("until", str(ts + 10))]
            return params, body, hdrs
        b = PprofBuilder(time_nanos=ts * 10 ** 9)
        locs = {}     # function name -> location id (PprofBuilder.stack searches linearly)
        for frames, count in self.stacks(i):
            ids = []
            for name in frames:
                if name not in locs:
                    locs[name] = b.loc(b.func(name))
                ids.append(locs[name])
            b.sample(list(reversed(ids)), [count * self.SCALE])
        params = [("name", "%s{pod=pod-%d}" % (self.service, i % self.pods)), ("format", "pprof")]
        return params, b.encode_gz(), hdrs

    def describe(self, i):
        params, body, hdrs = self.request(i)
        return "POST /ingest?%s (%d-byte %s body%s)" % (
            encode_query(params), len(body), self.kind,
            ", X-Scope-OrgID: %s" % self.tenant if self.tenant else "")

    def query(self):
        return '%s{service_name="%s"}' % (CPU_TYPE, self.service)


class PushLedger:
    """Every push a test made and what became of it.

    States: "acked" (200), "rejected" (an HTTP error status, or the connection
    was refused, so nothing was sent), "unknown" (sent, but no answer came:
    the process died meanwhile; or 504, the distributor stopped waiting).
    verify() reads the stored set back and turns each unknown push into
    "stored" or "lost" so that later checks are exact.
    Push i uses schemes[i % len(schemes)].

    unknown_statuses: HTTP statuses after which a push may or may not be
    stored (default 504). In a cluster every 5xx is one: a write that missed
    its quorum may still sit on one replica, and a 502 from a proxy says
    nothing about what the distributor did.
    """

    def __init__(self, schemes, unknown_statuses=(504,)):
        self.schemes = list(schemes)
        self.unknown_statuses = tuple(unknown_statuses)
        self.lock = threading.Lock()
        self.next_id = 0
        self.state = {}          # id -> state
        self.detail = {}         # id -> status/error text for rejected and unknown pushes
        self.ack_time = {}       # id -> time.monotonic() of the answer

    def new_id(self):
        with self.lock:
            i = self.next_id
            self.next_id += 1
            return i

    def scheme(self, i):
        return self.schemes[i % len(self.schemes)]

    def record(self, i, state, detail=None):
        with self.lock:
            self.state[i] = state
            self.ack_time[i] = time.monotonic()
            if detail is not None:
                self.detail[i] = detail

    def ids(self, *states):
        with self.lock:
            return sorted(i for i, s in self.state.items() if s in states)

    def counts(self):
        out = {}
        with self.lock:
            for s in self.state.values():
                out[s] = out.get(s, 0) + 1
        return out

    def push_once(self, port, i=None, timeout=60):
        """Make push i (a fresh id by default) on a new connection; record and return the state."""
        import http.client
        i = self.new_id() if i is None else i
        sch = self.scheme(i)
        params, body, hdrs = sch.request(i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            return self._push_on(conn, i, params, body, hdrs)
        finally:
            conn.close()

    def _push_on(self, conn, i, params, body, hdrs):
        """One push on an open (or lazily connecting) HTTPConnection. Returns (state, status, body)."""
        h = {"Content-Type": "application/octet-stream"}
        h.update(hdrs)
        if conn.sock is None:
            try:
                conn.connect()
            except OSError as e:
                self.record(i, "rejected", "connect: %r" % e)
                return "rejected", 0, b""
        try:
            conn.request("POST", "/ingest?" + encode_query(params), body, h)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, EOFError, ValueError) as e:   # http.client errors are OSErrors or ValueErrors
            conn.close()
            self.record(i, "unknown", "no answer: %r" % e)
            return "unknown", 0, b""
        except Exception as e:                          # RemoteDisconnected, BadStatusLine, ...
            conn.close()
            self.record(i, "unknown", "no answer: %r" % e)
            return "unknown", 0, b""
        if resp.status == 200:
            self.record(i, "acked")
            return "acked", 200, data
        detail = "HTTP %d: %s" % (resp.status, data[:300].decode("utf-8", "replace"))
        # 504: the distributor gave up waiting; the ingester may still have stored it.
        state = "unknown" if resp.status in self.unknown_statuses else "rejected"
        self.record(i, state, detail)
        if resp.getheader("Connection", "").lower() == "close":
            conn.close()
        return state, resp.status, data

    # -- reading back ---------------------------------------------------------
    def query_range_ms(self, sch):
        n = max(self.next_id, 1)
        return (sch.base_s - 60) * 1000, (sch.ts(n) + 60) * 1000

    def stored_values(self, hearth, sch):
        """(per-function self dict, numTicks, the request made) of one scheme's service."""
        frm, until = self.query_range_ms(sch)
        params = [("query", sch.query()), ("from", str(frm)), ("until", str(until)),
                  ("maxNodes", "1048576")]
        req = "GET /pyroscope/render?%s%s" % (encode_query(params),
                                            " (X-Scope-OrgID: %s)" % sch.tenant if sch.tenant else "")
        fb = hearth.get_json("/pyroscope/render", params, headers=sch.headers())
        tree, _root = flamebearer_tree(fb["flamebearer"])
        return self_by_name(tree), fb["flamebearer"]["numTicks"], req

    def verify(self, hearth, exact=False, resolve=True):
        """Check what hearth answers against the ledger; returns a list of problems.

        For every scheme: acked ⊆ stored ⊆ acked ∪ unknown (exact=True: stored
        == acked, no unknown allowed), every stored push counted once, and the
        per-function self values equal the sum over the stored pushes exactly.
        With resolve, unknown pushes become "stored"/"lost" afterwards.
        """
        problems = []
        found_all = set()
        for si, sch in enumerate(self.schemes):
            got, ticks, req = self.stored_values(hearth, sch)
            mine = [i for i in range(self.next_id) if i % len(self.schemes) == si]
            prefix = sch.marker
            stored = set()
            for name in got:
                if name.startswith(prefix) and name[len(prefix):].isdigit():
                    stored.add(int(name[len(prefix):]))
            found_all |= stored
            with self.lock:
                st = {i: self.state.get(i) for i in mine}
            expected = {}
            variants = {}
            for i in sorted(stored):
                for frames, count in sch.stacks(i, small=True):
                    expected[frames[-1]] = expected.get(frames[-1], 0) + count * sch.SCALE
                if sch.bulk:
                    v = i % sch.BULK_VARIANTS
                    variants[v] = variants.get(v, 0) + 1
            for v, n in variants.items():       # bulk parts: per variant, times its pushes
                for k, x in sch._bulk(v)[2].items():
                    expected[k] = expected.get(k, 0) + x * n
            bad = []
            for i in mine:
                s = st[i]
                if s in ("acked", "stored") and i not in stored:
                    bad.append("  acknowledged push #%d missing: %s; expected function %s = %d, got absent"
                               % (i, sch.describe(i), sch.marker_name(i), sch.self_values(i)[sch.marker_name(i)]))
                elif s in ("rejected", "lost") and i in stored:
                    bad.append("  push #%d is stored but was %s (%s): %s" % (
                        i, s, self.detail.get(i, ""), sch.describe(i)))
                elif s == "unknown" and i in stored and exact:
                    bad.append("  push #%d had no answer but is stored: %s" % (i, sch.describe(i)))
                elif s is None and i in stored:
                    bad.append("  push #%d stored though it was never completed" % i)
            for i in sorted(stored):
                if i not in st:
                    bad.append("  function %s%d belongs to no push of this test" % (prefix, i))
            if got != expected:
                bad.append("  per-function self values differ from the sum over the %d stored pushes "
                           "(expected vs got):\n%s" % (len(stored), diff_dicts(expected, got)))
            exp_ticks = sum(expected.values())
            if ticks != exp_ticks:
                bad.append("  numTicks: expected %d, got %d" % (exp_ticks, ticks))
            if bad:
                problems.append("%s\n%s" % (req, "\n".join(bad[:25]) + (
                    "\n  ... %d more" % (len(bad) - 25) if len(bad) > 25 else "")))
        if resolve:
            with self.lock:
                for i, s in self.state.items():
                    if s == "unknown":
                        self.state[i] = "stored" if i in found_all else "lost"
        return problems


class Pusher:
    """Threads pushing fresh ids of a ledger to one hearth port until stop().

    Each thread keeps one keep-alive connection; after an error it reconnects.
    A push is never retried (a retry would be a second profile). pause_s
    sleeps between pushes of a thread.
    """

    def __init__(self, ledger, port, threads=2, pause_s=0.0, max_pushes=None):
        self.ledger = ledger
        self.port = port
        self.n_threads = threads
        self.pause_s = pause_s
        self.max_pushes = max_pushes
        self.stop_event = threading.Event()
        self.threads = []
        self.statuses = {}     # HTTP status (0 = no answer / refused) -> count
        self.first_error = {}  # status -> (push id, detail)
        self.lock = threading.Lock()
        self.made = 0

    def start(self):
        for _ in range(self.n_threads):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self.threads.append(t)
        return self

    def _run(self):
        import http.client
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stop_event.is_set():
            with self.lock:
                if self.max_pushes is not None and self.made >= self.max_pushes:
                    break
                self.made += 1
            i = self.ledger.new_id()
            params, body, hdrs = self.ledger.scheme(i).request(i)
            state, status, data = self.ledger._push_on(conn, i, params, body, hdrs)
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status != 200 and status not in self.first_error:
                    self.first_error[status] = (i, self.ledger.detail.get(i, ""))
            if state in ("rejected", "unknown") and status in (0,) and not self.stop_event.is_set():
                time.sleep(0.01)   # the server is gone or restarting: do not spin
            if self.pause_s:
                time.sleep(self.pause_s)
        conn.close()

    def stop(self, timeout=90):
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout)
        alive = [t for t in self.threads if t.is_alive()]
        if alive:
            raise HearthError("%d pusher thread(s) still running %d s after stop" % (len(alive), timeout))


# ---------------------------------------------------------------------------
# Tenancy, authentication and limits (tokens file, overrides file, errors)
# ---------------------------------------------------------------------------

def write_file_atomic(path, text):
    """Replace path in one step (write a sibling, rename over it), as a
    config manager or a Kubernetes ConfigMap update does."""
    tmp = "%s.tmp-%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def sha256_hex(text):
    import hashlib
    return hashlib.sha256(text.encode()).hexdigest()


def password_hash(password):
    """A SHA-512 crypt(3) hash ($6$), made with openssl(1) (Python's crypt
    module is deprecated)."""
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", "hearthtestsalt", password],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _yaml_list(items):
    return "[" + ", ".join('"%s"' % i for i in items) + "]"


def tokens_yaml(tokens=(), users=()):
    """The tokens file (common/auth.h). tokens: dicts {name, token, read,
    write}; users: dicts {name, password, read, write}. Only hashes are
    written."""
    out = ["tokens:"] if tokens else []
    for t in tokens:
        out += ["  - name: %s" % t["name"], "    sha256: %s" % sha256_hex(t["token"]),
                "    read: %s" % _yaml_list(t.get("read", [])),
                "    write: %s" % _yaml_list(t.get("write", []))]
    if users:
        out.append("users:")
    for u in users:
        out += ["  - name: %s" % u["name"],
                "    password_hash: '%s'" % password_hash(u["password"]),
                "    read: %s" % _yaml_list(u.get("read", [])),
                "    write: %s" % _yaml_list(u.get("write", []))]
    return "\n".join(out) + "\n"


def overrides_yaml(overrides):
    """The runtime overrides file: {tenant: {limit_key: value}}."""
    out = ["overrides:"]
    for tenant, limits in overrides.items():
        out.append('  "%s":' % tenant)
        for k, v in limits.items():
            out.append("    %s: %s" % (k, v))
    return "\n".join(out) + "\n"


def bearer(token, tenant=None):
    h = {"Authorization": "Bearer " + token}
    if tenant is not None:
        h["X-Scope-OrgID"] = tenant
    return h


def basic(user, password, tenant=None):
    import base64
    h = {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (user, password)).encode()).decode()}
    if tenant is not None:
        h["X-Scope-OrgID"] = tenant
    return h


def error_body(resp):
    """The {"code","message"} of an error response (HearthError if not JSON)."""
    try:
        j = json.loads(resp.body)
    except ValueError:
        raise HearthError("HTTP %d: body is not a JSON error: %r" % (resp.status, resp.body[:300]))
    if not isinstance(j, dict) or "code" not in j or "message" not in j:
        raise HearthError("HTTP %d: not a {code, message} error: %r" % (resp.status, j))
    return j


def folded_body(stacks):
    """Folded text from [(frames, count)]."""
    return "".join("%s %d\n" % (";".join(f), c) for f, c in stacks).encode()
