"""Shared helpers for hearth's integration tests (Python 3 standard library only).

Tests import this module alone (`import hearth_test_lib as L`); it holds the
process, HTTP and test-running helpers and re-exports the others, which live
in hl_pprof.py (multipart, protobuf, pprof, profile types, flamebearer),
hl_storage.py (logs, metrics, push ledgers, tenancy files), hl_services.py
(scrape targets, Connect) and hl_cluster.py (cluster processes, etcd, nginx).

What the helpers do:
  * HearthProcess: starts a real `hearth` on 127.0.0.1 with a free port and a
    temporary data directory, waits (bounded) for /ready, and always kills it
    (stop(), context manager, and an atexit hook). stderr goes to a file whose
    tail is printed when something fails.
  * HTTP helpers on urllib that never raise on 4xx/5xx (tests assert codes).
  * A multipart/form-data encoder that writes bodies byte for byte the way Go's
    mime/multipart writer does (what the Go SDK sends).
  * A tiny protobuf encoder plus PprofBuilder, to hand-build valid and
    malformed pprof profiles.
  * An independent pprof decoder: a hand-written protobuf wire parser (varints,
    packed and unpacked repeated fields, gzip) and the rules by which hearth
    turns a pprof into flame-graph stacks, so expected totals and per-function
    values are computed without any of hearth's code.
  * Profile type ID derivation (ingest-http.md §6/§7, model.md §1).
  * Flamebearer helpers: decode `levels` back into a tree, and an encoder of
    connect-apis.md §4.3 used to check exact output on small trees.
  * Storage-test helpers: a fixed -storage.path across restarts, SIGKILL on
    a log line (HearthProcess(watch=True).kill_on), waiting for log lines,
    logfmt and Prometheus parsing, RSS / CPU / du, and PushScheme +
    PushLedger + Pusher: pushes whose stored set is read back exactly from
    per-function values, with each push recorded as acked, rejected or
    unknown (no answer).

Environment: HEARTH_BIN (path of the hearth binary), HEARTH_TESTDATA (the
shared testdata folder, containing pprof/). Both have defaults relative to the
source tree. HEARTH_START_TIMEOUT (seconds, default 60: sanitizer builds start
slowly). HEARTH_CLI_BIN: hearth-cli (default: next to the hearth binary).
"""

import atexit
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def hearth_bin():
    if os.environ.get("HEARTH_BIN"):
        return os.environ["HEARTH_BIN"]
    for rel in (("build", "cmd", "hearth"), ("build", "hearth")):
        path = os.path.join(SOURCE_ROOT, *rel)
        if os.path.exists(path):
            return path
    return os.path.join(SOURCE_ROOT, "build", "cmd", "hearth")


def hearth_cli_bin():
    """Path of hearth-cli: HEARTH_CLI_BIN, else next to the hearth binary."""
    if os.environ.get("HEARTH_CLI_BIN"):
        return os.environ["HEARTH_CLI_BIN"]
    return os.path.join(os.path.dirname(hearth_bin()), "hearth-cli")


def run_cli(args, url=None, env=None, stdin=None, timeout=120):
    """Run hearth-cli with args (and --url url when given).

    Returns subprocess.CompletedProcess with text stdout/stderr (bytes when
    stdin is bytes). HEARTH_URL/HEARTH_TOKEN of the test's own environment
    are removed so they cannot leak into a case; pass env to set them.
    """
    cmd = [hearth_cli_bin()] + list(args)
    if url is not None:
        cmd += ["--url", url]
    e = {k: v for k, v in os.environ.items() if k not in ("HEARTH_URL", "HEARTH_TOKEN")}
    e.update(env or {})
    return subprocess.run(cmd, input=stdin, capture_output=True, env=e, timeout=timeout,
                          text=not isinstance(stdin, bytes))


def testdata_dir():
    return os.environ.get("HEARTH_TESTDATA",
                          os.path.abspath(os.path.join(SOURCE_ROOT, "..", "shared", "testdata")))


def pprof_files():
    """Every file of testdata/pprof, sorted by name (full paths)."""
    d = os.path.join(testdata_dir(), "pprof")
    return [os.path.join(d, n) for n in sorted(os.listdir(d))
            if os.path.isfile(os.path.join(d, n))]


def now_s():
    return int(time.time())


def unique(prefix):
    """A name unique within this test run (services, label values)."""
    return "%s-%d-%04x" % (prefix, os.getpid(), random.getrandbits(16))


# ---------------------------------------------------------------------------
# Process management
# ---------------------------------------------------------------------------

_LIVE_PROCS = []


def _kill_live_procs():
    for p in list(_LIVE_PROCS):
        try:
            p.kill()
            p.wait(timeout=5)
        except Exception:
            pass


atexit.register(_kill_live_procs)


def free_port():
    """A port that was free a moment ago (the kernel picked it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HearthError(AssertionError):
    pass


class HearthProcess:
    """One hearth process on 127.0.0.1.

    Use as a context manager, or call start()/stop(). `flags` are extra
    command-line flags; by default the time-window, query-range and
    ingestion-rate limits are disabled so the old testdata timestamps are
    accepted and queryable and tests may push as fast as they like.

    data_dir: the -storage.path to use (kept by cleanup(), so a second
    process can reopen it); by default a fresh directory inside the
    process's own temporary directory.

    watch=True reads stderr through a pipe on a thread (it still goes to the
    same file), so that kill_on() can SIGKILL the process the moment a log
    line appears, e.g. `msg="block flush started"`.

    env: extra environment variables for the process.

    port: a fixed HTTP port (kept across restarts, e.g. behind nginx);
    by default a free one is picked at every start.
    """

    DEFAULT_LIMIT_FLAGS = [
        "-limits.reject-older-than=0",
        "-limits.reject-newer-than=0",
        "-limits.max-query-lookback=0",
        "-limits.max-query-length=0",
        # Tests and benchmarks push as fast as they can; the per-tenant
        # rate limit (4 MiB/s by default) is tested on its own.
        "-limits.ingestion-rate-mb=0",
    ]

    def __init__(self, flags=None, default_limits=True, name="hearth", data_dir=None,
                 watch=False, env=None, port=None):
        self.binary = hearth_bin()
        self.fixed_port = port
        self.extra_flags = list(flags or [])
        self.default_limits = default_limits
        self.name = name
        self.data_dir = data_dir
        self.watch = watch
        self.env = dict(env or {})
        self.proc = None
        self.port = None
        self.tmpdir = None
        self.stderr_path = None
        self._stderr_file = None
        self._reader = None
        self._triggers = []        # [pattern bytes, fired-line or None]
        self._trigger_lock = threading.Lock()
        self.killed_by = None      # the log line that made kill_on() fire

    # -- lifecycle ---------------------------------------------------------
    def start(self, wait_ready=True):
        """Start the process; with wait_ready, wait (bounded) for GET /ready = 200."""
        if not os.access(self.binary, os.X_OK):
            raise HearthError("hearth binary not found or not executable: %s "
                              "(set HEARTH_BIN)" % self.binary)
        if self.tmpdir is None:  # a restart keeps its directory (cleanup removes it)
            self.tmpdir = tempfile.mkdtemp(prefix="hearth-it-")
        last_err = None
        for _attempt in range(3):  # a picked port can be taken by someone else meanwhile
            self.port = self.fixed_port or free_port()
            self.stderr_path = os.path.join(self.tmpdir, "stderr-%d.log" % self.port)
            self._stderr_file = open(self.stderr_path, "wb")
            data = self.data_dir or os.path.join(self.tmpdir, "data-%d" % self.port)
            args = [self.binary,
                    "-server.http-listen-address=127.0.0.1",
                    "-server.http-listen-port=%d" % self.port,
                    "-storage.path=%s" % data]
            if self.default_limits:
                args += self.DEFAULT_LIMIT_FLAGS
            args += self.extra_flags
            self.args = args
            env = dict(os.environ)
            env.update(self.env)
            if self.watch:
                self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT, env=env)
                self._reader = threading.Thread(target=self._read_stderr,
                                                args=(self.proc, self._stderr_file), daemon=True)
                self._reader.start()
            else:
                self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                             stdout=self._stderr_file, stderr=self._stderr_file,
                                             env=env)
            _LIVE_PROCS.append(self.proc)
            if not wait_ready:
                return self
            try:
                self._wait_ready(float(os.environ.get("HEARTH_START_TIMEOUT", "60")))
                return self
            except HearthError as e:
                last_err = e
                self._kill()
                if "address already in use" not in self.stderr_tail().lower():
                    break
        raise HearthError("%s did not become ready: %s\ncommand: %s\n%s" % (
            self.name, last_err, " ".join(self.args), self.stderr_tail()))

    def _read_stderr(self, proc, out):
        """Pipe reader (watch=True): copy lines to the file, fire kill_on() triggers."""
        for line in iter(proc.stdout.readline, b""):
            with self._trigger_lock:
                for t in self._triggers:
                    if t[1] is None and t[0] in line:
                        if proc.poll() is None:
                            proc.send_signal(signal.SIGKILL)
                        t[1] = line.decode("utf-8", "replace").rstrip("\n")
                        if self.killed_by is None:
                            self.killed_by = t[1]
            try:
                out.write(line)
                out.flush()
            except ValueError:   # file closed by _kill(); keep draining the pipe
                pass
        proc.stdout.close()

    def kill_on(self, pattern):
        """SIGKILL the process as soon as a stderr line contains pattern (watch=True only).

        Returns nothing; killed_by holds the line once it fired.
        """
        if not self.watch:
            raise HearthError("kill_on needs HearthProcess(watch=True)")
        if isinstance(pattern, str):
            pattern = pattern.encode()
        with self._trigger_lock:
            self._triggers.append([pattern, None])

    def clear_triggers(self):
        with self._trigger_lock:
            self._triggers = []

    def wait_ready(self, timeout=None):
        self._wait_ready(timeout if timeout is not None else
                         float(os.environ.get("HEARTH_START_TIMEOUT", "60")))

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HearthError("exited with status %d before /ready" % self.proc.returncode)
            try:
                r = self.get("/ready", timeout=2)
                if r.status == 200:
                    return
                last = "GET /ready -> %d %r" % (r.status, r.body[:200])
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        raise HearthError("not ready after %.0f s (%s)" % (timeout, last))

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        if self._reader is not None:
            self._reader.join(timeout=10)
            self._reader = None
        if self.proc in _LIVE_PROCS:
            _LIVE_PROCS.remove(self.proc)
        if self._stderr_file:
            self._stderr_file.close()
            self._stderr_file = None

    def kill9(self):
        """SIGKILL now (a crash), wait for the exit; returns the exit status."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        rc = self.proc.wait(timeout=30) if self.proc is not None else None
        self._kill()
        return rc

    def wait_exit(self, timeout=30):
        """Wait for the process to exit by itself (e.g. after kill_on fired)."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise HearthError("%s still running after %d s" % (self.name, timeout))
        self._kill()
        return rc

    def _dump_stacks(self):
        """Every thread's stack of a hung process (gdb, when installed), so
        that a shutdown that hangs in CI says where."""
        gdb = shutil.which("gdb")
        if gdb is None or self.proc is None:
            return
        try:
            out = subprocess.run([gdb, "-batch", "-nx", "-p", str(self.proc.pid),
                                  "-ex", "thread apply all bt 30"],
                                 capture_output=True, text=True, timeout=60)
            sys.stderr.write("---- stacks of %s (pid %d) ----\n%s\n" % (
                self.name, self.proc.pid, out.stdout[-30000:]))
        except (OSError, subprocess.SubprocessError) as e:
            sys.stderr.write("gdb stack dump of %s failed: %s\n" % (self.name, e))

    def stop(self, timeout=20):
        """SIGTERM, wait (bounded), then SIGKILL. Returns the exit status."""
        rc = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                sys.stderr.write("%s ignored SIGTERM for %d s; killing\n" % (self.name, timeout))
                self._dump_stacks()
        elif self.proc is not None:
            rc = self.proc.returncode
        self._kill()
        return rc

    SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                         "WARNING: ThreadSanitizer")

    def sanitizer_report(self):
        """The first sanitizer complaint in stderr, or None."""
        try:
            with open(self.stderr_path, "rb") as f:
                text = f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return None
        for m in self.SANITIZER_MARKERS:
            i = text.find(m)
            if i >= 0:
                return text[max(0, i - 200):i + 3000]
        return None

    def stop_checked(self):
        """Stop with SIGTERM and raise unless hearth exited 0 without sanitizer reports."""
        rc = self.stop()
        report = self.sanitizer_report()
        if report:
            raise HearthError("%s: sanitizer report:\n%s" % (self.name, report))
        if rc != 0:
            raise HearthError("%s exited with status %r after SIGTERM (expected 0)\n%s" % (
                self.name, rc, self.stderr_tail()))

    def cleanup(self):
        self.stop()
        if self.tmpdir and os.environ.get("HEARTH_KEEP_TMP") != "1":
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def sigstop(self):
        """SIGSTOP: the process hangs (sockets stay open, nothing answers)."""
        self.proc.send_signal(signal.SIGSTOP)

    def sigcont(self):
        self.proc.send_signal(signal.SIGCONT)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, *exc):
        try:
            if exc_type is None:
                self.stop_checked()
        finally:
            self.cleanup()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def pid(self):
        return self.proc.pid

    def stderr_tail(self, n=60):
        try:
            with open(self.stderr_path, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no stderr captured)"
        return "---- last %d lines of %s stderr (%s) ----\n%s" % (
            min(n, len(lines)), self.name, self.stderr_path, "\n".join(lines[-n:]))

    def log_lines(self):
        """Every stderr line so far (decoded)."""
        try:
            with open(self.stderr_path, "rb") as f:
                data = f.read()
        except (OSError, TypeError):
            return []
        lines = data.decode("utf-8", "replace").split("\n")
        return lines[:-1]   # the last piece is an unfinished line (or "")

    def log_matches(self, pattern, start=0):
        """Stderr lines (from line index start) containing pattern."""
        return [ln for ln in self.log_lines()[start:] if pattern in ln]

    def wait_log(self, pattern, timeout=30, start=0, count=1, while_alive=True):
        """Wait until count stderr lines from index start contain pattern; returns them.

        Raises HearthError naming the pattern on timeout (or when the process
        exited first and while_alive is set).
        """
        deadline = time.monotonic() + timeout
        while True:
            got = self.log_matches(pattern, start)
            if len(got) >= count:
                return got
            if while_alive and not self.alive():
                raise HearthError("%s exited (status %s) before %d line(s) with %r appeared\n%s" % (
                    self.name, self.proc.returncode if self.proc else None, count, pattern,
                    self.stderr_tail()))
            if time.monotonic() > deadline:
                raise HearthError("%s: no %d line(s) with %r in stderr within %.0f s (found %d)\n%s" % (
                    self.name, count, pattern, timeout, len(got), self.stderr_tail()))
            time.sleep(0.02)

    def rss_bytes(self):
        """VmRSS of the process from /proc/<pid>/status, in bytes."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise HearthError("no VmRSS in /proc/%d/status" % self.proc.pid)

    def metrics(self):
        """GET /metrics parsed: list of (name, {label: value}, float value)."""
        r = self.get("/metrics")
        if r.status != 200:
            raise HearthError("GET /metrics -> %d: %s" % (r.status, r.text()[:500]))
        return parse_prometheus(r.text())

    def metric(self, name, **labels):
        """Sum of the samples of metric `name` whose labels include `labels`; None if absent."""
        found = None
        for n, lab, v in self.metrics():
            if n == name and all(lab.get(k) == str(x) for k, x in labels.items()):
                found = (found or 0) + v
        return found

    # -- HTTP --------------------------------------------------------------
    def url(self, path, params=None):
        u = "http://127.0.0.1:%d%s" % (self.port, path)
        if params:
            u += "?" + encode_query(params)
        return u

    def request(self, method, path, params=None, body=None, headers=None, timeout=60):
        return http_request(method, self.url(path, params), body, headers, timeout)

    def get(self, path, params=None, **kw):
        return self.request("GET", path, params, **kw)

    def post(self, path, params=None, body=b"", headers=None, **kw):
        return self.request("POST", path, params, body, headers, **kw)

    def get_json(self, path, params=None, headers=None):
        r = self.get(path, params, headers=headers)
        if r.status != 200:
            raise HearthError("GET %s -> %d, expected 200: %s" % (
                self.url(path, params), r.status, r.text()[:2000]))
        try:
            return json.loads(r.body)
        except ValueError as e:
            raise HearthError("GET %s: response is not JSON (%s): %r" % (
                self.url(path, params), e, r.body[:500]))

    # -- high-level calls ----------------------------------------------------
    def ingest(self, params, body, headers=None, expect=200):
        r = self.post("/ingest", params, body, headers)
        if expect is not None and r.status != expect:
            raise HearthError("POST /ingest %s -> %d, expected %d: %s" % (
                encode_query(params), r.status, expect, r.text()[:2000]))
        return r

    def render(self, query, from_ms, until_ms, headers=None, **extra):
        params = [("query", query), ("from", str(from_ms)), ("until", str(until_ms))]
        for k, v in extra.items():
            if isinstance(v, (list, tuple)):
                params += [(k, str(x)) for x in v]
            else:
                params.append((k, str(v)))
        return self.get_json("/pyroscope/render", params, headers=headers)


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes

    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def header(self, name):
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None


def encode_query(params):
    """params: dict or list of pairs. Spaces become %20, everything reserved is escaped."""
    if isinstance(params, dict):
        params = list(params.items())
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote, safe="")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **kw):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def http_request(method, url, body=None, headers=None, timeout=60):
    """One HTTP request; returns Response for every status (never raises on 4xx/5xx)."""
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    if body is not None and not req.has_header("Content-type"):
        # urllib would otherwise label every POST as a form; hearth dispatches on it.
        req.add_header("Content-Type", "application/octet-stream")
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            return Response(resp.status, dict(resp.headers.items()), resp.read())
    except urllib.error.HTTPError as e:
        data = e.read() if e.fp is not None else b""
        return Response(e.code, dict(e.headers.items()) if e.headers else {}, data)


def raw_http(port, method, path, headers=None, body=b"", chunked=False, timeout=30):
    """One request on a fresh socket, for what urllib cannot do.

    A server may answer (413) and close while the body is still being sent;
    urllib then fails with EPIPE, while this keeps reading and returns the
    answer. chunked=True sends the body with Transfer-Encoding: chunked (no
    Content-Length). Returns a Response (status 0 if nothing came back).
    """
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n" % (method, path, port)
    for k, v in (headers or {}).items():
        head += "%s: %s\r\n" % (k, v)
    if chunked:
        head += "Transfer-Encoding: chunked\r\n"
        step = 65536
        wire = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + step]), body[i:i + step])
                        for i in range(0, len(body), step)) + b"0\r\n\r\n"
    else:
        head += "Content-Length: %d\r\n" % len(body)
        wire = body
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(head.encode() + b"\r\n")
            for i in range(0, len(wire), 65536):
                s.sendall(wire[i:i + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass   # the server answered early and closed; read what it said
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                data += b
        except (ConnectionResetError, socket.timeout):
            pass
    head_b, _, rest = data.partition(b"\r\n\r\n")
    lines = head_b.decode("latin-1").split("\r\n")
    parts = lines[0].split() if lines and lines[0] else []
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip()] = v.strip()
    n = hdrs.get("Content-Length") or hdrs.get("content-length")
    if n is not None and n.isdigit():
        rest = rest[:int(n)]
    return Response(status, hdrs, rest)


# ---------------------------------------------------------------------------
# Test running
# ---------------------------------------------------------------------------

class HearthTestCase(unittest.TestCase):
    """Base class: `hearth` is the HearthProcess under test (set by the module).

    After every test hearth must still be running (a crash or a sanitizer
    report fails the test that caused it), and a failing test prints the tail
    of hearth's stderr.
    """
    hearth = None
    maxDiff = 4000

    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before \
                and self.hearth is not None:
            sys.stderr.write("\n" + self.hearth.stderr_tail(40) + "\n")
        return out

    def tearDown(self):
        if self.hearth is not None and not self.hearth.alive():
            self.fail("hearth exited (status %s) during this test\n%s" % (
                self.hearth.proc.returncode, self.hearth.stderr_tail(80)))

    def assertStatus(self, resp, expected, what):
        self.assertEqual(resp.status, expected, "%s: expected HTTP %d, got %d; body: %s" % (
            what, expected, resp.status, resp.text()[:1000]))


def run_tests():
    """unittest main that prints a plain 'N passed, N failed' closing line."""
    prog = unittest.TestProgram(module="__main__", exit=False, verbosity=2)
    r = prog.result
    failed = len(r.failures) + len(r.errors) + len(getattr(r, "unexpectedSuccesses", []))
    skipped = len(r.skipped)
    passed = r.testsRun - failed - skipped
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed or r.testsRun == 0 else 0)


# The other modules' helpers, so that tests keep one name space (L.x). At the
# end: they import the names above from this module.
from hl_pprof import *  # noqa: E402,F401,F403
from hl_storage import *  # noqa: E402,F401,F403
from hl_services import *  # noqa: E402,F401,F403
from hl_cluster import *  # noqa: E402,F401,F403
from hl_cluster import _wait_http  # noqa: E402,F401  (test_cluster_ring)
