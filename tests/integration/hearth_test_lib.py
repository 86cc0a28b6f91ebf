"""Shared helpers for hearth's integration tests (Python 3 standard library only).

What lives here:
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
import gzip
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
from dataclasses import dataclass, field

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
# multipart/form-data, byte for byte like Go's mime/multipart.Writer
# ---------------------------------------------------------------------------

def go_boundary():
    """Go's randomBoundary: 30 random bytes in lowercase hex."""
    return os.urandom(30).hex()


def multipart_encode(parts, boundary=None, close=True):
    """parts: list of (name, filename or None, content_type or None, data bytes).

    Go writes, per part: "--B\\r\\n" (first) or "\\r\\n--B\\r\\n" (later), the
    headers sorted by key, a blank line, the data; Close() writes
    "\\r\\n--B--\\r\\n". CreateFormFile gives Content-Type
    application/octet-stream. Returns (content_type_header, body).
    """
    boundary = boundary or go_boundary()
    out = bytearray()
    for i, (name, filename, ctype, data) in enumerate(parts):
        out += (b"--" if i == 0 else b"\r\n--") + boundary.encode() + b"\r\n"
        disp = 'form-data; name="%s"' % _go_escape_quotes(name)
        if filename is not None:
            disp += '; filename="%s"' % _go_escape_quotes(filename)
            if ctype is None:
                ctype = "application/octet-stream"
        out += b"Content-Disposition: " + disp.encode() + b"\r\n"
        if ctype is not None:
            out += b"Content-Type: " + ctype.encode() + b"\r\n"
        out += b"\r\n" + data
    if close:
        out += b"\r\n--" + boundary.encode() + b"--\r\n"
    return "multipart/form-data; boundary=" + boundary, bytes(out)


def _go_escape_quotes(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')


def go_sdk_multipart(pprof_gz, sample_type_config=None, prev_profile=None):
    """The body the Go SDK posts: part `profile` (+ optional parts)."""
    parts = [("profile", "profile.pprof", None, pprof_gz)]
    if prev_profile is not None:
        parts.append(("prev_profile", "profile.pprof", None, prev_profile))
    if sample_type_config is not None:
        if not isinstance(sample_type_config, bytes):
            sample_type_config = json.dumps(sample_type_config).encode()
        parts.append(("sample_type_config", "sample_type_config.json", None, sample_type_config))
    return multipart_encode(parts)


# ---------------------------------------------------------------------------
# Protobuf wire format: encoder
# ---------------------------------------------------------------------------

def pb_varint(n):
    if n < 0:
        n += 1 << 64  # int64 negative values are 10-byte varints
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_key(field_no, wire_type):
    return pb_varint((field_no << 3) | wire_type)


def pb_uint(field_no, v):
    return pb_key(field_no, 0) + pb_varint(v)


def pb_bytes(field_no, data):
    if isinstance(data, str):
        data = data.encode()
    return pb_key(field_no, 2) + pb_varint(len(data)) + data


def pb_packed(field_no, values):
    return pb_bytes(field_no, b"".join(pb_varint(v) for v in values))


def pb_unpacked(field_no, values):
    return b"".join(pb_uint(field_no, v) for v in values)


class PprofBuilder:
    """Builds pprof Profile bytes; every part can be overridden to make bad input.

    Functions, locations and samples are plain dicts so a test can put ids or
    string indexes that do not exist. Strings are interned through s().
    """

    def __init__(self, sample_types=(("cpu", "nanoseconds"),), period_type=("cpu", "nanoseconds"),
                 period=10000000, time_nanos=None, duration_nanos=10 ** 10):
        self.strings = [""]
        self._index = {"": 0}
        self.sample_types = [(self.s(t), self.s(u)) for t, u in sample_types]
        self.period_type = (self.s(period_type[0]), self.s(period_type[1])) if period_type else None
        self.period = period
        self.time_nanos = time_nanos if time_nanos is not None else time.time_ns()
        self.duration_nanos = duration_nanos
        self.functions = []   # dicts: id, name, system_name, filename
        self.locations = []   # dicts: id, address, mapping_id, lines [(function_id, line)]
        self.samples = []     # dicts: locs (leaf first), values, labels [(key_idx, str_idx, num)]
        self.mappings = []
        self.packed = True
        self.extra = b""      # raw bytes appended to the Profile message

    def s(self, text):
        if text not in self._index:
            self._index[text] = len(self.strings)
            self.strings.append(text)
        return self._index[text]

    def func(self, name, system_name="", filename="f.go"):
        fid = len(self.functions) + 1
        self.functions.append({"id": fid, "name": self.s(name), "system_name": self.s(system_name),
                               "filename": self.s(filename)})
        return fid

    def loc(self, *function_ids, address=0, mapping_id=0):
        """A location whose lines are function_ids (first = innermost inlined)."""
        lid = len(self.locations) + 1
        self.locations.append({"id": lid, "address": address, "mapping_id": mapping_id,
                               "lines": [(f, 10 + i) for i, f in enumerate(function_ids)]})
        return lid

    def stack(self, *names):
        """Location ids (leaf first) for a root-first list of function names."""
        ids = []
        for n in names:
            fid = next((f["id"] for f in self.functions if self.strings[f["name"]] == n), None)
            if fid is None:
                fid = self.func(n)
            lid = next((l["id"] for l in self.locations if l["lines"] == [(fid, 10)]), None)
            if lid is None:
                lid = self.loc(fid)
            ids.append(lid)
        return list(reversed(ids))

    def sample(self, locs, values, labels=()):
        """labels: (key, value) string pairs, or raw (key_idx, str_idx, num) triples."""
        raw = []
        for lab in labels:
            if len(lab) == 2:
                raw.append((self.s(lab[0]), self.s(lab[1]), 0))
            else:
                raw.append(tuple(lab))
        self.samples.append({"locs": list(locs), "values": list(values), "labels": raw})

    def encode(self):
        rep = pb_packed if self.packed else pb_unpacked
        out = bytearray()
        for t, u in self.sample_types:
            out += pb_bytes(1, pb_uint(1, t) + pb_uint(2, u))
        for s in self.samples:
            body = rep(1, s["locs"]) + rep(2, s["values"])
            for k, v, num in s["labels"]:
                lab = pb_uint(1, k) + (pb_uint(2, v) if v else b"") + (pb_uint(3, num) if num else b"")
                body += pb_bytes(3, lab)
            out += pb_bytes(2, body)
        for m in self.mappings:
            out += pb_bytes(3, b"".join(pb_uint(k, v) for k, v in m))
        for l in self.locations:
            body = pb_uint(1, l["id"])
            if l.get("mapping_id"):
                body += pb_uint(2, l["mapping_id"])
            if l.get("address"):
                body += pb_uint(3, l["address"])
            for fid, line in l["lines"]:
                body += pb_bytes(4, pb_uint(1, fid) + pb_uint(2, line))
            out += pb_bytes(4, body)
        for f in self.functions:
            body = b""
            if f["id"]:
                body += pb_uint(1, f["id"])
            for no, key in ((2, "name"), (3, "system_name"), (4, "filename")):
                if f[key]:
                    body += pb_uint(no, f[key])
            out += pb_bytes(5, body)
        for st in self.strings:
            out += pb_bytes(6, st.encode() if isinstance(st, str) else st)
        if self.time_nanos:
            out += pb_uint(9, self.time_nanos)
        if self.duration_nanos:
            out += pb_uint(10, self.duration_nanos)
        if self.period_type:
            out += pb_bytes(11, pb_uint(1, self.period_type[0]) + pb_uint(2, self.period_type[1]))
        if self.period:
            out += pb_uint(12, self.period)
        return bytes(out) + self.extra

    def encode_gz(self):
        return gzip.compress(self.encode())


# ---------------------------------------------------------------------------
# Protobuf wire format: independent decoder
# ---------------------------------------------------------------------------

class PbError(ValueError):
    pass


def pb_read_varint(buf, pos):
    result = 0
    shift = 0
    n = len(buf)
    while True:
        if pos >= n:
            raise PbError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift >= 70:
            raise PbError("varint longer than 10 bytes")


def pb_fields(buf):
    """Yield (field_no, wire_type, value) of one message; LEN values are memoryview slices."""
    buf = memoryview(buf)
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = pb_read_varint(buf, pos)
        fno, wt = key >> 3, key & 7
        if fno == 0:
            raise PbError("field number 0")
        if wt == 0:
            v, pos = pb_read_varint(buf, pos)
        elif wt == 1:
            if pos + 8 > n:
                raise PbError("truncated fixed64")
            v = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == 2:
            ln, pos = pb_read_varint(buf, pos)
            if pos + ln > n:
                raise PbError("length-delimited field %d runs past the end" % fno)
            v = buf[pos:pos + ln]
            pos += ln
        elif wt == 5:
            if pos + 4 > n:
                raise PbError("truncated fixed32")
            v = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise PbError("unsupported wire type %d (field %d)" % (wt, fno))
        yield fno, wt, v


def pb_repeated_varints(wt, v, out):
    """Append a repeated varint field's value(s): packed (LEN) or one unpacked varint."""
    if wt == 0:
        out.append(v)
    elif wt == 2:
        pos = 0
        while pos < len(v):
            x, pos = pb_read_varint(v, pos)
            out.append(x)
    else:
        raise PbError("repeated varint field with wire type %d" % wt)


def _int64(u):
    return u - (1 << 64) if u >= (1 << 63) else u


def _scalar(wt, v, fno):
    if wt != 0:
        raise PbError("field %d: expected a varint, got wire type %d" % (fno, wt))
    return v


def _msg(wt, v, fno):
    if wt != 2:
        raise PbError("field %d: expected a message, got wire type %d" % (fno, wt))
    return v


# ---------------------------------------------------------------------------
# pprof model and decoding
# ---------------------------------------------------------------------------

class PprofError(ValueError):
    pass


@dataclass
class Function:
    id: int = 0
    name: int = 0
    system_name: int = 0
    filename: int = 0
    start_line: int = 0


@dataclass
class Location:
    id: int = 0
    mapping_id: int = 0
    address: int = 0
    lines: list = field(default_factory=list)   # [(function_id, line)]
    is_folded: bool = False


@dataclass
class Sample:
    location_ids: list = field(default_factory=list)   # leaf first
    values: list = field(default_factory=list)
    labels: list = field(default_factory=list)          # [(key, str, num, num_unit)] string indexes


@dataclass
class Pprof:
    sample_types: list = field(default_factory=list)    # [(type, unit)] as strings
    samples: list = field(default_factory=list)
    mappings: dict = field(default_factory=dict)         # id -> dict
    locations: dict = field(default_factory=dict)        # id -> Location
    functions: dict = field(default_factory=dict)        # id -> Function
    functions_in_order: list = field(default_factory=list)
    locations_in_order: list = field(default_factory=list)
    strings: list = field(default_factory=list)
    time_nanos: int = 0
    duration_nanos: int = 0
    period_type: tuple = ("", "")
    period: int = 0
    default_sample_type: int = 0

    def string(self, idx, what):
        if idx < 0 or idx >= len(self.strings):
            raise PprofError("string index %d out of range (%d strings) in %s" % (
                idx, len(self.strings), what))
        return self.strings[idx]


def maybe_gunzip(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)   # handles concatenated members
    return data


def decode_pprof(data, spy_name=None):
    """Decode pprof bytes (gzip sniffed by magic). Raises PprofError/PbError on bad input.

    spy_name applies the /ingest adjustments of ingest-http.md §5.3
    (dotnetspy function-id and sample-type fixes; pyspy/rbspy/scripting names).
    """
    raw = maybe_gunzip(data)
    p = Pprof()
    st_raw = []
    period_raw = (0, 0)
    for fno, wt, v in pb_fields(raw):
        if fno == 1:
            st_raw.append(_value_type(_msg(wt, v, fno)))
        elif fno == 2:
            p.samples.append(_decode_sample(_msg(wt, v, fno)))
        elif fno == 3:
            m = {}
            for f2, w2, v2 in pb_fields(_msg(wt, v, fno)):
                m[f2] = _scalar(w2, v2, f2)
            p.mappings[m.get(1, 0)] = m
        elif fno == 4:
            loc = _decode_location(_msg(wt, v, fno))
            p.locations_in_order.append(loc)
        elif fno == 5:
            fn = Function()
            for f2, w2, v2 in pb_fields(_msg(wt, v, fno)):
                x = _scalar(w2, v2, f2)
                if f2 == 1:
                    fn.id = x
                elif f2 == 2:
                    fn.name = _int64(x)
                elif f2 == 3:
                    fn.system_name = _int64(x)
                elif f2 == 4:
                    fn.filename = _int64(x)
                elif f2 == 5:
                    fn.start_line = _int64(x)
            p.functions_in_order.append(fn)
        elif fno == 6:
            b = bytes(_msg(wt, v, fno))
            try:
                p.strings.append(b.decode("utf-8"))
            except UnicodeDecodeError:
                raise PprofError("invalid UTF-8 in string_table[%d]" % len(p.strings))
        elif fno == 9:
            p.time_nanos = _int64(_scalar(wt, v, fno))
        elif fno == 10:
            p.duration_nanos = _int64(_scalar(wt, v, fno))
        elif fno == 11:
            period_raw = _value_type(_msg(wt, v, fno))
        elif fno == 12:
            p.period = _int64(_scalar(wt, v, fno))
        elif fno == 14:
            p.default_sample_type = _int64(_scalar(wt, v, fno))
        # 7, 8, 13, 15 and unknown fields: not needed for flame graphs
    if not p.strings or p.strings[0] != "":
        raise PprofError("string_table[0] must be the empty string")
    if not st_raw:
        raise PprofError("empty profile: no sample types")
    p.sample_types = [(p.string(t, "sample type"), p.string(u, "sample unit")) for t, u in st_raw]
    p.period_type = (p.string(period_raw[0], "period type"), p.string(period_raw[1], "period unit"))

    if spy_name == "dotnetspy":
        fns, locs = p.functions_in_order, p.locations_in_order
        if fns and all(f.id == 0 for f in fns) and len(fns) == len(locs):
            for f, l in zip(fns, locs):
                f.id = l.id
        p.sample_types = [(t.replace("-", "_"), u) for t, u in p.sample_types]

    for fn in p.functions_in_order:
        if fn.id == 0:
            raise PprofError("function with id 0")
        if fn.id in p.functions:
            raise PprofError("duplicate function id %d" % fn.id)
        for what in ("name", "system_name", "filename"):
            p.string(getattr(fn, what), "function %d %s" % (fn.id, what))
        p.functions[fn.id] = fn
    for loc in p.locations_in_order:
        if loc.id == 0:
            raise PprofError("location with id 0")
        if loc.id in p.locations:
            raise PprofError("duplicate location id %d" % loc.id)
        for fid, _line in loc.lines:
            if fid not in p.functions:
                raise PprofError("location %d references function id %d which does not exist" % (
                    loc.id, fid))
        p.locations[loc.id] = loc
    for i, s in enumerate(p.samples):
        if len(s.values) != len(p.sample_types):
            raise PprofError("sample %d has %d values, expected %d" % (
                i, len(s.values), len(p.sample_types)))
        for lid in s.location_ids:
            if lid not in p.locations:
                raise PprofError("sample %d references location id %d which does not exist" % (i, lid))
        for k, sv, _n, _u in s.labels:
            p.string(k, "sample %d label key" % i)
            p.string(sv, "sample %d label value" % i)
    for t, _u in p.sample_types:
        if "-" in t:
            raise PprofError("sample type name %r contains '-'" % t)

    if spy_name in ("pyspy", "rbspy", "scripting"):
        for fn in p.functions.values():
            fname = p.strings[fn.filename]
            if spy_name == "pyspy" and fname.startswith("/"):
                continue
            new = "%s %s" % (fname, p.strings[fn.name])
            p.strings.append(new)
            fn.name = len(p.strings) - 1
    return p


def _value_type(buf):
    t = u = 0
    for fno, wt, v in pb_fields(buf):
        if fno == 1:
            t = _int64(_scalar(wt, v, fno))
        elif fno == 2:
            u = _int64(_scalar(wt, v, fno))
    return (t, u)


def _decode_sample(buf):
    s = Sample()
    locs, vals = [], []
    for fno, wt, v in pb_fields(buf):
        if fno == 1:
            pb_repeated_varints(wt, v, locs)
        elif fno == 2:
            pb_repeated_varints(wt, v, vals)
        elif fno == 3:
            lab = {}
            for f2, w2, v2 in pb_fields(_msg(wt, v, fno)):
                lab[f2] = _int64(_scalar(w2, v2, f2))
            s.labels.append((lab.get(1, 0), lab.get(2, 0), lab.get(3, 0), lab.get(4, 0)))
    s.location_ids = locs
    s.values = [_int64(x) for x in vals]
    return s


def _decode_location(buf):
    loc = Location()
    for fno, wt, v in pb_fields(buf):
        if fno == 1:
            loc.id = _scalar(wt, v, fno)
        elif fno == 2:
            loc.mapping_id = _scalar(wt, v, fno)
        elif fno == 3:
            loc.address = _scalar(wt, v, fno)
        elif fno == 4:
            fid = line = 0
            for f2, w2, v2 in pb_fields(_msg(wt, v, fno)):
                if f2 == 1:
                    fid = _scalar(w2, v2, f2)
                elif f2 == 2:
                    line = _int64(_scalar(w2, v2, f2))
            loc.lines.append((fid, line))
        elif fno == 5:
            loc.is_folded = bool(_scalar(wt, v, fno))
    return loc


# ---------------------------------------------------------------------------
# Expected flame-graph content of a pprof (hearth's rules)
# ---------------------------------------------------------------------------

MAX_STACK_DEPTH = 1000   # max_profile_stacktrace_depth default: keep the root-side frames


def sample_frames(p, s):
    """Root-first frame names of one sample.

    Locations come leaf first in the sample, so walk them backwards; inside a
    Location the Lines go from the LAST one (the function the code was inlined
    into) to line[0] (innermost). A frame is the Function's name, or its
    system_name when the name is empty; a Location without lines is one frame
    named by its address in lowercase hex.
    """
    frames = []
    for lid in reversed(s.location_ids):
        loc = p.locations[lid]
        if not loc.lines:
            frames.append("0x%x" % loc.address)
            continue
        for fid, _line in reversed(loc.lines):
            fn = p.functions[fid]
            name = p.strings[fn.name] or p.strings[fn.system_name]
            frames.append(name)
    return frames[:MAX_STACK_DEPTH]


def sample_kept(s):
    """Normalisation: samples with any negative value or with all values zero are dropped."""
    return all(v >= 0 for v in s.values) and any(v != 0 for v in s.values)


@dataclass
class TypeExpectation:
    sample_type: str
    sample_unit: str
    total: int
    self_by_name: dict    # function name -> summed self (only non-zero)
    tree: dict            # root-first path tuple -> [total, self] (only non-zero totals)


def expected_per_type(p):
    """One TypeExpectation per sample type, in sample-type order."""
    out = []
    stacks = [(sample_frames(p, s), s.values) for s in p.samples if sample_kept(s)]
    for i, (t, u) in enumerate(p.sample_types):
        total = 0
        tree = {}
        for frames, values in stacks:
            v = values[i]
            if v == 0:
                continue
            total += v
            add_stack(tree, frames, v)
        out.append(TypeExpectation(t, u, total, self_by_name(tree), tree))
    return out


def add_stack(tree, frames, v):
    """Add a root-first stack with value v to a path->[total, self] tree."""
    path = ()
    for f in frames:
        path = path + (f,)
        node = tree.setdefault(path, [0, 0])
        node[0] += v
    if path:
        tree[path][1] += v


def self_by_name(tree):
    out = {}
    for path, (_total, self_v) in tree.items():
        if self_v:
            out[path[-1]] = out.get(path[-1], 0) + self_v
    return out


def parse_folded(text, lines_mode=False, scale=1):
    """Expected tree of a folded/lines body: {path: [total, self]}, and its total."""
    tree = {}
    total = 0
    for line in text.splitlines():
        if lines_mode:
            if not line.strip():
                continue
            stack, count = line, 1
        else:
            if " " not in line:
                continue
            stack, _, c = line.rpartition(" ")
            count = int(c)
        frames = [f for f in stack.split(";") if f != ""]
        v = count * scale
        if v == 0 or not frames:
            continue
        add_stack(tree, frames, v)
        total += v
    return tree, total


# ---------------------------------------------------------------------------
# Profile type IDs
# ---------------------------------------------------------------------------

DEFAULT_DISPLAY_NAMES = {"samples": "cpu", "goroutine": "goroutines",
                         "contentions": "mutex_count", "delay": "mutex_duration"}


def profile_name(sample_types, stconfig=None):
    """`__name__` heuristic of ingest-http.md §7 (stconfig: parsed sample_type_config or None)."""
    if any(t == "wall" for t in sample_types):
        return "wall"
    st = ""
    for t in sample_types:
        if stconfig is None:
            st = DEFAULT_DISPLAY_NAMES.get(t, t)
        else:
            st = (stconfig.get(t) or {}).get("display-name") or t
        if "cpu" in st:
            return "process_cpu"
        if "alloc_" in st or "inuse_" in st or st in ("space", "objects"):
            return "memory"
        if "mutex_" in st:
            return "mutex"
        if "block_" in st:
            return "block"
        if "goroutines" in st:
            return "goroutines"
    return st


def profile_type_ids(p, stconfig=None):
    """The 5-part profile type IDs of a decoded pprof, one per sample type."""
    name = profile_name([t for t, _u in p.sample_types], stconfig)
    pt, pu = p.period_type
    return ["%s:%s:%s:%s:%s" % (name, t, u, pt, pu) for t, u in p.sample_types]


# Suffix table of ingest-http.md §6 (tree path): suffix -> (name, type, unit, period).
# "SCALED" marks the cpu/wall rows whose type depends on sampleRate.
TREE_SUFFIXES = {
    "cpu": ("process_cpu", "SCALED", "cpu"), "itimer": ("process_cpu", "SCALED", "cpu"),
    "wall": ("wall", "SCALED", "wall"), "seconds": ("wall", "SCALED", "wall"),
    "nanoseconds": ("wall", "SCALED", "wall"), "microseconds": ("wall", "SCALED", "wall"),
    "milliseconds": ("wall", "SCALED", "wall"),
    "inuse_objects": ("memory", "inuse_objects:count", None),
    "inuse_space": ("memory", "inuse_space:bytes", None),
    "alloc_objects": ("memory", "alloc_objects:count", None),
    "alloc_space": ("memory", "alloc_space:bytes", None),
    "goroutines": ("goroutine", "goroutines:count", None),
    "mutex_count": ("mutex", "contentions:count", None),
    "mutex_duration": ("mutex", "delay:nanoseconds", None),
    "block_count": ("block", "contentions:count", None),
    "block_duration": ("block", "delay:nanoseconds", None),
    "lock_count": ("block", "contentions:count", None),
    "lock_duration": ("block", "delay:nanoseconds", None),
    "exceptions": ("exceptions", "samples:count", None),
    "bytes": ("memory", "samples:bytes", None),
    "live": ("memory", "live:count", None),
}


def tree_profile_type(app_name, sample_rate=100):
    """(service_name, profile type id, value scale) for a folded/lines upload."""
    app, dot, suffix = app_name.rpartition(".")
    if not dot:
        app, suffix = app_name, "cpu"
    name, st, period = TREE_SUFFIXES[suffix]
    if st == "SCALED":
        if sample_rate > 0:
            kind = "cpu" if period == "cpu" else "wall"
            return app, "%s:%s:nanoseconds:%s:nanoseconds" % (name, kind, kind), 1000000000 // sample_rate
        return app, "%s:samples:count::" % name, 1
    return app, "%s:%s::" % (name, st), 1


# ---------------------------------------------------------------------------
# Flamebearer
# ---------------------------------------------------------------------------

def expected_metadata(profile_type_id, fmt="single"):
    """Flamebearer `metadata` for a profile type (render-http.md §4)."""
    parts = profile_type_id.split(":")
    st, su = parts[1], parts[2]
    if st == "cpu":
        units = "samples"
    elif st in ("inuse_objects", "alloc_objects", "goroutine", "samples"):
        units = "objects"
    else:
        units = su
    return {"format": fmt, "spyName": "", "sampleRate": 1000000000 if st == "cpu" else 100,
            "units": units, "name": st}


def flamebearer_tree(fb, width=4, side=0):
    """Decode flamebearer levels into {path: [total, self]} (connect-apis.md §4.3 step 8).

    width 4 = single; width 7 = diff, side 0 = left, 1 = right. Nodes whose
    total is 0 are left out (they carry nothing). Returns (tree, root_total).
    """
    names = fb["names"]
    levels = fb["levels"]
    off = 3 * side
    prev = []      # (x, end, path) of the previous level
    tree = {}
    root_total = None
    for depth, lv in enumerate(levels):
        if len(lv) % width:
            raise AssertionError("level %d has %d numbers, not a multiple of %d" % (depth, len(lv), width))
        cur = []
        end = 0
        for g in range(0, len(lv), width):
            xd, total, self_v = lv[g + off], lv[g + off + 1], lv[g + off + 2]
            name = names[lv[g + width - 1]]
            x = end + xd
            end = x + total
            if depth == 0:
                root_total = total
                path = ()
            else:
                parent = None
                for px, pend, ppath in prev:
                    if px <= x and end <= pend:
                        parent = ppath
                        break
                if parent is None:
                    raise AssertionError("level %d node %r at [%d,%d) has no parent span" % (
                        depth, name, x, end))
                path = parent + (name,)
            cur.append((x, end, path))
            if depth > 0 and total:
                node = tree.setdefault(path, [0, 0])
                node[0] += total
                node[1] += self_v
        prev = cur
    return tree, root_total


def encode_single(tree, max_nodes=0):
    """Flamebearer names/levels of a {path: [total, self]} tree (connect-apis.md §4.3).

    Used as an independent expectation for small hand-made trees.
    """
    children = {(): []}
    for path in sorted(tree):
        children.setdefault(path, [])
        children.setdefault(path[:-1], []).append(path)
    for k in children:
        children[k].sort(key=lambda p: p[-1].encode())
    total = sum(tree[p][0] for p in children[()])
    threshold = 0
    if max_nodes > 0:
        totals = sorted((v[0] for v in tree.values()), reverse=True)
        if len(totals) >= max_nodes:
            threshold = totals[max_nodes - 1]
    names, name_idx = [], {}

    def nid(n):
        if n not in name_idx:
            name_idx[n] = len(names)
            names.append(n)
        return name_idx[n]

    levels = []
    # stack entries: (depth, x, name, total, self, child paths)
    stack = [(0, 0, "total", total, 0, children[()])]
    rows = {}
    while stack:
        depth, x, name, ntotal, nself, kids = stack.pop()
        rows.setdefault(depth, []).append((x, ntotal, nself, nid(name)))
        cx = x + nself
        kept, other = [], 0
        for k in kids:
            if tree[k][0] >= threshold and k[-1] != "other":
                kept.append((depth + 1, cx, k[-1], tree[k][0], tree[k][1], children.get(k, [])))
                cx += tree[k][0]
            else:
                other += tree[k][0]
        if other > 0:
            kept.append((depth + 1, cx, "other", other, other, []))
        stack.extend(kept)
    max_self = 0
    for depth in sorted(rows):
        row = sorted(rows[depth])
        flat, end = [], 0
        for x, t, s, n in row:
            flat += [x - end, t, s, n]
            end = x + t
            max_self = max(max_self, s)
        levels.append(flat)
    return {"names": names, "levels": levels, "numTicks": total, "maxSelf": max_self}


def diff_dicts(expected, got, limit=15):
    """Human-readable differences between two dicts (expected vs got)."""
    out = []
    for k in sorted(set(expected) | set(got), key=repr):
        e, g = expected.get(k), got.get(k)
        if e != g:
            out.append("  %r: expected %r, got %r" % (k, e, g))
    more = "" if len(out) <= limit else "\n  ... %d more differences" % (len(out) - limit)
    return "\n".join(out[:limit]) + more


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


# ---------------------------------------------------------------------------
# Scrape targets (the pull model): Go programs, fake pprof endpoints, pprof CLI
# ---------------------------------------------------------------------------

class GoProgram:
    """Builds a Go module (stdlib only) with Debian's golang-go and runs it.

    The build is offline and hermetic: GOPROXY=off, GOFLAGS=-mod=mod, and
    GOCACHE/HOME/PPROF_TMPDIR inside a temporary directory (go tool pprof
    would otherwise save copies under $HOME/pprof). The program must print
    "listening HOST:PORT" as its first line of stdout. env() is that
    environment, for `go tool pprof` too.
    """

    def __init__(self, source_dir, name="goprog"):
        self.source_dir = source_dir
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="hearth-go-")
        self.binary = os.path.join(self.tmp, name)
        self.proc = None
        self.address = None

    def env(self):
        e = dict(os.environ)
        e.update({"GOPROXY": "off", "GOFLAGS": "-mod=mod", "GOCACHE": os.path.join(self.tmp, "cache"),
                  "HOME": self.tmp, "PPROF_TMPDIR": os.path.join(self.tmp, "pprof"),
                  "CGO_ENABLED": "0"})
        return e

    def build(self, timeout=300):
        go = shutil.which("go")
        if go is None:
            raise HearthError("`go` not found: install golang-go (scripts/install-deps.sh does)")
        src = os.path.join(self.tmp, "src")
        shutil.copytree(self.source_dir, src)
        r = subprocess.run([go, "build", "-o", self.binary, "."], cwd=src, env=self.env(),
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        if r.returncode != 0:
            raise HearthError("go build failed:\n%s" % r.stdout.decode("utf-8", "replace"))
        return self

    def start(self, timeout=30):
        self._stderr = open(os.path.join(self.tmp, "stderr.log"), "wb")
        self.proc = subprocess.Popen([self.binary], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        _LIVE_PROCS.append(self.proc)
        line = b""
        deadline = time.monotonic() + timeout
        while not line.endswith(b"\n") and time.monotonic() < deadline:
            b = self.proc.stdout.read(1)
            if not b:
                break
            line += b
        if not line.startswith(b"listening "):
            raise HearthError("%s did not print its address (got %r)" % (self.name, line))
        self.address = line.split()[1].decode()
        return self

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.proc is not None:
            self.proc.stdout.close()
            self._stderr.close()
        if self.proc in _LIVE_PROCS:
            _LIVE_PROCS.remove(self.proc)

    def cleanup(self):
        self.stop()
        if os.environ.get("HEARTH_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)

    def pprof_top(self, profile, sample_index=None, diff_base=None):
        """`go tool pprof -top` as {function: flat}, exact (-unit=B for bytes).

        With diff_base, flat is profile minus diff_base per function.
        """
        args = [shutil.which("go"), "tool", "pprof", "-top", "-nodefraction=0", "-nodecount=1000000"]
        if sample_index:
            args.append("-sample_index=" + sample_index)
            if sample_index.endswith("_space"):
                args.append("-unit=B")
        if diff_base:
            args.append("-diff_base=" + diff_base)
        args.append(profile)
        r = subprocess.run(args, env=self.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        if r.returncode != 0:
            raise HearthError("%s failed: %s" % (" ".join(args), r.stderr.decode("utf-8", "replace")))
        return parse_pprof_top(r.stdout.decode("utf-8", "replace"))


def parse_pprof_top(text):
    """Rows of `pprof -top` ("flat flat% sum% cum cum% name") as {name: flat}.

    Values are plain integers or integers with a B suffix (-unit=B).
    """
    out = {}
    rows = False
    for line in text.splitlines():
        if line.strip().startswith("flat") and "cum" in line:
            rows = True
            continue
        if not rows or not line.strip():
            continue
        parts = line.split(None, 5)
        if len(parts) < 6:
            continue
        flat = parts[0]
        if flat.endswith("B"):
            flat = flat[:-1]
        try:
            out[parts[5]] = out.get(parts[5], 0) + int(flat)
        except ValueError:
            raise HearthError("cannot read pprof -top row %r (use an exact -unit)" % line)
    return out


class FakeTarget:
    """An HTTP server on 127.0.0.1 (own thread) whose GETs `handler` answers.

    handler(path, headers) -> (status, body bytes) or None to hang up without
    answering. `requests` counts GETs per path.
    """

    def __init__(self, handler):
        import http.server

        target = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                with target.lock:
                    target.requests[self.path] = target.requests.get(self.path, 0) + 1
                ans = handler(self.path, self.headers)
                if ans is None:
                    return
                status, body = ans
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *a):
                pass

        self.lock = threading.Lock()
        self.requests = {}
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def count(self, path):
        with self.lock:
            return self.requests.get(path, 0)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def scrape_targets(hearth):
    """GET /targets as JSON: the list of {job, instance, profile, health, ...}."""
    return hearth.get_json("/targets", headers={"Accept": "application/json"})["targets"]


def scrape_target(hearth, job, instance, profile):
    """The /targets entry of one (job, instance, profile), or None."""
    for t in scrape_targets(hearth):
        if t["job"] == job and t["instance"] == instance and t["profile"] == profile:
            return t
    return None


# ---------------------------------------------------------------------------
# Connect APIs (connect-apis.md §1): a client, and a protobuf decoder driven
# by field tables written in the tests from the spec (independent of
# hearth's own .proto files and encoder)
# ---------------------------------------------------------------------------

def pb_double(field_no, v):
    """A double field (wire type 1, little-endian IEEE 754)."""
    import struct
    return pb_key(field_no, 1) + struct.pack("<d", v)


def pb_msg(field_no, *parts):
    """An embedded message field made of already-encoded parts."""
    return pb_bytes(field_no, b"".join(parts))


def connect_call(hearth, path, body, codec="json", headers=None, gzip_body=False,
                 accept_gzip=False, tenant=None, timeout=120):
    """POST a unary Connect call; body is a dict/str (json) or bytes (proto).

    gzip_body: Content-Encoding gzip (what pyroscope-rs does for Push);
    accept_gzip: offer Accept-Encoding gzip. Returns Response (never raises).
    """
    hdrs = {"Content-Type": "application/json" if codec == "json" else "application/proto"}
    if isinstance(body, dict):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    if gzip_body:
        body = gzip.compress(body)
        hdrs["Content-Encoding"] = "gzip"
    if accept_gzip:
        hdrs["Accept-Encoding"] = "gzip"
    if tenant is not None:
        hdrs["X-Scope-OrgID"] = tenant
    hdrs.update(headers or {})
    return hearth.post(path, body=body, headers=hdrs, timeout=timeout)


def connect_body(resp):
    """The response body with Content-Encoding: gzip removed."""
    if (resp.header("Content-Encoding") or "").lower() == "gzip":
        return gzip.decompress(resp.body)
    return resp.body


def pb_decode(buf, schema):
    """Decode one message with a field table {no: (name, kind[, sub])}.

    kind: "string", "bytes", "int64", "uint64", "int32", "uint32", "bool",
    "enum", "double", "msg" (sub = the message's table); a name ending in
    "[]" is repeated (packed or not) and comes back as a list under the name
    without "[]". Unknown fields are skipped. Absent fields are absent.
    """
    import struct
    out = {}
    for fno, wt, v in pb_fields(buf):
        if fno not in schema:
            continue
        name, kind = schema[fno][0], schema[fno][1]
        rep = name.endswith("[]")
        key = name[:-2] if rep else name
        vals = []
        if kind in ("int64", "uint64", "int32", "uint32", "bool", "enum"):
            raw = []
            pb_repeated_varints(wt, v, raw)
            for x in raw:
                if kind in ("int64", "enum"):
                    x = _int64(x)
                elif kind == "int32":
                    x = _int64(x)
                elif kind == "bool":
                    x = bool(x)
                vals.append(x)
        elif kind == "double":
            if wt == 1:
                vals.append(struct.unpack("<d", v.to_bytes(8, "little"))[0])
            elif wt == 2:
                b = bytes(v)
                vals += [x[0] for x in struct.iter_unpack("<d", b)]
            else:
                raise PbError("field %d: double with wire type %d" % (fno, wt))
        elif kind == "string":
            vals.append(bytes(_msg(wt, v, fno)).decode("utf-8"))
        elif kind == "bytes":
            vals.append(bytes(_msg(wt, v, fno)))
        elif kind == "msg":
            vals.append(pb_decode(_msg(wt, v, fno), schema[fno][2]))
        else:
            raise ValueError("unknown kind %r" % kind)
        if rep:
            out.setdefault(key, []).extend(vals)
        else:
            out[key] = vals[-1]
    return out


def go_pprof_top(paths, sample_index, unit=None, tmpdir=None):
    """Per-function (flat, cum) of `go tool pprof -top` over paths (merged).

    Values are read in the sample type's own unit (-unit), " (inline)" and
    " (partial-inline)" markers are dropped, and rows of the same name are summed (flat) /
    kept apart (cum is returned per row list). Returns (flat, cums, total)
    with flat {name: int}, cums {name: [int, ...]}.
    """
    import re
    env = dict(os.environ)
    env["PPROF_TMPDIR"] = tmpdir or tempfile.gettempdir()
    env.setdefault("HOME", env["PPROF_TMPDIR"])
    cmd = ["go", "tool", "pprof", "-top", "-nodefraction=0", "-edgefraction=0",
           "-nodecount=1000000", "-sample_index=%s" % sample_index]
    if unit:
        cmd.append("-unit=%s" % unit)
    cmd += list(paths)
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    if p.returncode != 0:
        raise HearthError("%s failed (%d): %s" % (" ".join(cmd), p.returncode, p.stderr[-2000:]))
    flat, cums, total = {}, {}, None
    num = r"(-?[0-9]+(?:\.[0-9]+)?)([A-Za-z]*)"
    row = re.compile(r"^\s*" + num + r"\s+\S+%\s+\S+%\s+" + num + r"\s+\S+%\s+(.*)$")
    for line in p.stdout.splitlines():
        m = re.match(r"^Showing nodes accounting for \S+, \S+ of " + num + r" total", line)
        if m:
            total = int(float(m.group(1)))
            continue
        m = row.match(line)
        if not m:
            continue
        name = m.group(5)
        for marker in (" (inline)", " (partial-inline)"):
            if name.endswith(marker):
                name = name[: -len(marker)]
        flat[name] = flat.get(name, 0) + int(float(m.group(1)))
        cums.setdefault(name, []).append(int(float(m.group(3))))
    return flat, cums, total


PPROF_UNITS = {"nanoseconds": "ns", "microseconds": "us", "milliseconds": "ms",
               "bytes": "B", "count": None}


# ---------------------------------------------------------------------------
# Cluster tests: ingesters, distributors and queriers as separate processes,
# Debian's etcd and nginx started by the test (tests/integration/test_cluster*.py)
# ---------------------------------------------------------------------------

class Endpoint:
    """HTTP helpers (get, post, get_json, render, ...) for any port, e.g. nginx."""

    def __init__(self, port, name="endpoint"):
        self.port = port
        self.name = name

    url = HearthProcess.url
    request = HearthProcess.request
    get = HearthProcess.get
    post = HearthProcess.post
    get_json = HearthProcess.get_json
    render = HearthProcess.render

    def stderr_tail(self, n=60):
        return ""


def _wait_http(url, timeout, proc=None, what="service"):
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise HearthError("%s exited with status %d" % (what, proc.returncode))
        try:
            r = http_request("GET", url, timeout=2)
            if r.status == 200:
                return r
            last = "HTTP %d %r" % (r.status, r.body[:200])
        except OSError as e:
            last = repr(e)
        time.sleep(0.1)
    raise HearthError("%s: GET %s not 200 within %.0f s (%s)" % (what, url, timeout, last))


class Etcd:
    """Debian's etcd (etcd-server) on two free loopback ports, data in a temp dir."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="hearth-etcd-")
        self.proc = None
        self.port = None

    def start(self, timeout=30):
        exe = shutil.which("etcd")
        if exe is None:
            raise HearthError("etcd not found: apt-get install etcd-server (scripts/install-deps.sh --test)")
        self.port, peer = free_port(), free_port()
        self.log_path = os.path.join(self.tmp, "etcd.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [exe, "--name", "hearth-it", "--data-dir", os.path.join(self.tmp, "data"),
             "--listen-client-urls", "http://127.0.0.1:%d" % self.port,
             "--advertise-client-urls", "http://127.0.0.1:%d" % self.port,
             "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-cluster", "hearth-it=http://127.0.0.1:%d" % peer],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        _LIVE_PROCS.append(self.proc)
        _wait_http(self.endpoint() + "/health", timeout, self.proc, "etcd")
        return self

    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def keys(self, prefix):
        """{key: value} under prefix, read with Debian's etcdctl (independent of hearth)."""
        r = subprocess.run(["etcdctl", "--endpoints=127.0.0.1:%d" % self.port, "get", "--prefix", prefix],
                           capture_output=True, text=True, timeout=30,
                           env=dict(os.environ, ETCDCTL_API="3"))
        if r.returncode != 0:
            raise HearthError("etcdctl get --prefix %s failed: %s" % (prefix, r.stderr))
        lines = r.stdout.splitlines()
        return dict(zip(lines[0::2], lines[1::2]))

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc in _LIVE_PROCS:
            _LIVE_PROCS.remove(self.proc)
        if self.proc is not None:
            self._log.close()
        self.proc = None

    def cleanup(self):
        self.stop()
        if os.environ.get("HEARTH_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


NGINX_TEMPLATE = os.path.join(SOURCE_ROOT, "deploy", "local", "nginx.conf.in")


class Nginx(Endpoint):
    """Debian's nginx from deploy/local/nginx.conf.in: ingest paths to the
    distributors' ports, everything else to the querier's, on one free port."""

    def __init__(self, distributor_ports, querier_port):
        super().__init__(None, "nginx")
        self.tmp = tempfile.mkdtemp(prefix="hearth-nginx-")
        self.distributor_ports = list(distributor_ports)
        self.querier_port = querier_port
        self.proc = None

    def start(self, timeout=30):
        exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
        if exe is None:
            raise HearthError("nginx not found: apt-get install nginx (scripts/install-deps.sh --test)")
        self.port = free_port()
        os.makedirs(os.path.join(self.tmp, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.tmp, "nginx"), exist_ok=True)
        ups = "\n".join("\t\tserver 127.0.0.1:%d max_fails=0;" % p
                        for p in self.distributor_ports)
        with open(NGINX_TEMPLATE) as f:
            text = f.read()
        text = (text.replace("@DISTRIBUTORS@", ups).replace("@DIR@", self.tmp)
                .replace("@FRONT_PORT@", str(self.port)).replace("@QUERIER_PORT@", str(self.querier_port)))
        conf = os.path.join(self.tmp, "nginx", "nginx.conf")
        with open(conf, "w") as f:
            f.write(text)
        self._log = open(os.path.join(self.tmp, "logs", "nginx.out"), "wb")
        self.proc = subprocess.Popen([exe, "-p", os.path.join(self.tmp, "nginx"), "-c", conf],
                                     stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        _LIVE_PROCS.append(self.proc)
        deadline = time.monotonic() + timeout
        while True:   # nginx itself answers as soon as it listens (502 without a querier)
            if self.proc.poll() is not None:
                raise HearthError("nginx exited with status %d: %s" % (
                    self.proc.returncode, self.stderr_tail()))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    raise HearthError("nginx did not listen on %d within %d s" % (self.port, timeout))
                time.sleep(0.05)

    def stderr_tail(self, n=30):
        out = []
        for name in ("nginx.out", "nginx-error.log"):
            try:
                with open(os.path.join(self.tmp, "logs", name), "rb") as f:
                    out += f.read().decode("utf-8", "replace").splitlines()[-n:]
            except OSError:
                pass
        return "---- nginx logs ----\n" + "\n".join(out)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc in _LIVE_PROCS:
            _LIVE_PROCS.remove(self.proc)
        if self.proc is not None:
            self._log.close()
        self.proc = None

    def cleanup(self):
        self.stop()
        if os.environ.get("HEARTH_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


def ring_json(proc):
    """GET /ring with Accept: application/json, parsed."""
    return proc.get_json("/ring", headers={"Accept": "application/json"})


def ring_states(proc):
    """{member id: state} of proc's /ring; {} when it does not answer 200 yet."""
    try:
        r = proc.get("/ring", headers={"Accept": "application/json"}, timeout=5)
    except OSError:
        return {}
    if r.status != 200:
        return {}
    return {m["id"]: m["state"] for m in json.loads(r.body)["members"]}


class Cluster:
    """Ingesters, distributors and one querier as separate hearth processes on
    127.0.0.1, optionally with etcd (membership="etcd") and nginx (front=True).

    Ingester ids are ingester-1, ingester-2, ...; each keeps its RPC port and
    its -storage.path across restarts. Distributors keep their HTTP ports
    (nginx points at them), so they can be restarted behind the front.
    With static membership, the routers (distributors and querier) get
    -ring.members from `members`, which add_ingester/remove_member change;
    restart_routers() applies a change (rolling, one process at a time).
    """

    def __init__(self, n_ingesters=3, n_distributors=2, rf=3, shard_size=None,
                 membership="static", front=True, flags=(), ingester_flags=(),
                 distributor_flags=(), querier_flags=(), heartbeat_interval="250ms",
                 heartbeat_timeout="2s"):
        assert membership in ("static", "etcd")
        self.tmp = tempfile.mkdtemp(prefix="hearth-cluster-")
        self.rf = rf
        self.shard_size = shard_size
        self.membership = membership
        self.front_wanted = front
        self.flags = list(flags)
        self.ingester_flags = list(ingester_flags)
        self.distributor_flags = list(distributor_flags)
        self.querier_flags = list(querier_flags)
        self.hb = ["-ring.heartbeat-interval=%s" % heartbeat_interval,
                   "-ring.heartbeat-timeout=%s" % heartbeat_timeout]
        self.etcd = None
        self.nginx = None
        self.ingesters = {}        # id -> HearthProcess (with .rpc_port)
        self.members = []          # ids the routers are given (static)
        self.distributors = []
        self.querier = None
        self.n_ingesters = n_ingesters
        self.n_distributors = n_distributors
        self._next = 1

    # -- flags -----------------------------------------------------------------
    def ring_source_flags(self):
        if self.membership == "etcd":
            return ["-ring.etcd-endpoints=%s" % self.etcd.endpoint(), "-ring.etcd-lease-ttl=4s"]
        return ["-ring.members=" + ",".join("%s=127.0.0.1:%d" % (i, self.ingesters[i].rpc_port)
                                            for i in self.members)]

    def router_flags(self):
        f = self.ring_source_flags() + ["-ring.replication-factor=%d" % self.rf] + self.hb
        if self.shard_size is not None:
            f.append("-ring.shard-size=%d" % self.shard_size)
        return f + self.flags

    # -- lifecycle ---------------------------------------------------------------
    def start(self):
        if self.membership == "etcd":
            self.etcd = Etcd().start()
        ids = [self.new_ingester() for _ in range(self.n_ingesters)]
        for i in ids:
            self.start_fresh(self.ingesters[i])
        self.members = list(ids)
        for k in range(self.n_distributors):
            d = HearthProcess(["-target=distributor"] + self.router_flags() + self.distributor_flags,
                              name="distributor-%d" % (k + 1), port=free_port())
            self.distributors.append(d)
            self.start_fresh(d)
        self.querier = HearthProcess(["-target=querier"] + self.router_flags() + self.querier_flags,
                                     name="querier", port=free_port())
        self.start_fresh(self.querier)
        if self.front_wanted:
            self.nginx = Nginx([d.port for d in self.distributors], self.querier.port).start()
        self.wait_active()
        return self

    def start_fresh(self, p, attempts=3):
        """First start of p (ready). Its ports were free a moment ago; when
        another process took one meanwhile, pick new ones and try again."""
        for attempt in range(attempts):
            try:
                return p.start()
            except HearthError as e:
                if "in use" not in str(e).lower() or attempt == attempts - 1:
                    raise
            if p.fixed_port:
                p.fixed_port = free_port()
            if getattr(p, "rpc_port", None):
                old, p.rpc_port = p.rpc_port, free_port()
                p.extra_flags = [f.replace(":%d" % old, ":%d" % p.rpc_port)
                                 .replace("-ring.listen-port=%d" % old, "-ring.listen-port=%d" % p.rpc_port)
                                 for f in p.extra_flags]

    def new_ingester(self):
        """Create (not start) the next ingester; returns its id."""
        iid = "ingester-%d" % self._next
        self._next += 1
        rpc = free_port()
        data = os.path.join(self.tmp, iid)
        os.makedirs(data, exist_ok=True)
        f = ["-target=ingester", "-ring.listen-address=127.0.0.1", "-ring.listen-port=%d" % rpc,
             "-ring.instance-id=%s" % iid, "-ring.instance-addr=127.0.0.1:%d" % rpc]
        if self.membership == "etcd":
            f += self.ring_source_flags()
        p = HearthProcess(f + self.hb + self.flags + self.ingester_flags, name=iid, data_dir=data)
        p.rpc_port = rpc
        p.member_id = iid
        self.ingesters[iid] = p
        return iid

    def add_ingester(self):
        """Start one more ingester (ready); static: also added to `members`
        (the routers see it after restart_routers())."""
        iid = self.new_ingester()
        self.start_fresh(self.ingesters[iid])
        if iid not in self.members:
            self.members.append(iid)
        return iid

    def remove_member(self, iid):
        """Static: drop iid from the routers' member list (restart_routers applies it)."""
        self.members.remove(iid)

    def restart_ingester(self, iid):
        """Start a stopped or killed ingester again on the same RPC port and data."""
        p = self.ingesters[iid]
        p.start()
        return p

    def restart_routers(self, wait_ids=None):
        """Rolling restart of every distributor, then the querier, with the
        current router flags; each is ready and sees wait_ids (default:
        `members`) ACTIVE before the next one stops."""
        if wait_ids is None and self.membership == "static":
            wait_ids = list(self.members)
        for p in self.routers():
            p.stop_checked()
            p.extra_flags = [p.extra_flags[0]] + self.router_flags() + (
                self.distributor_flags if p in self.distributors else self.querier_flags)
            p.start()
            self.wait_active(wait_ids, procs=[p])

    def routers(self):
        return list(self.distributors) + ([self.querier] if self.querier else [])

    def live(self):
        return [p for p in self.routers() + list(self.ingesters.values()) if p.proc is not None]

    def wait_active(self, ids=None, procs=None, timeout=30):
        """Wait until every router's /ring lists exactly ids (default: the
        running ingesters), all ACTIVE."""
        if ids is None:
            ids = [i for i, p in self.ingesters.items() if p.alive()]
        want = {i: "ACTIVE" for i in ids}
        deadline = time.monotonic() + timeout
        for p in procs or self.routers():
            while True:
                got = ring_states(p)
                if got == want:
                    break
                if time.monotonic() > deadline:
                    raise HearthError("%s's /ring shows %r, expected %r after %d s" % (
                        p.name, got, want, timeout))
                time.sleep(0.1)

    def wait_state(self, iid, state, procs=None, timeout=30):
        """Wait until every router's /ring shows member iid in state (None: absent)."""
        deadline = time.monotonic() + timeout
        for p in procs or self.routers():
            while True:
                got = ring_states(p)
                if got.get(iid) == state:
                    break
                if time.monotonic() > deadline:
                    raise HearthError("%s's /ring: %s is %r, expected %r (all: %r)" % (
                        p.name, iid, got.get(iid), state, got))
                time.sleep(0.1)

    def front(self):
        """Where to push and query: nginx, or the first distributor / the querier."""
        return self.nginx

    def series_per_ingester(self, tenant="anonymous"):
        """{id: hearth_ingester_head_series{tenant}} read from each live ingester's /metrics."""
        out = {}
        for iid, p in self.ingesters.items():
            if p.alive():
                out[iid] = int(p.metric("hearth_ingester_head_series", tenant=tenant) or 0)
        return out

    def proc_states(self):
        """'name pid state' per process (/proc/<pid>/stat: R, S, T = stopped,
        Z), to tell a hung process from a stopped or dead one in a failure."""
        out = []
        for p in self.routers() + list(self.ingesters.values()):
            if p.proc is None:
                continue
            try:
                with open("/proc/%d/stat" % p.proc.pid) as f:
                    st = f.read().rsplit(")", 1)[1].split()[0]
            except OSError:
                st = "gone"
            out.append("%s pid %d state %s" % (p.name, p.proc.pid, st))
        return "process states: " + ", ".join(out)

    def tails(self, n=25):
        parts = [self.proc_states()] + [p.stderr_tail(n) for p in self.live()]
        if self.nginx is not None:
            parts.append(self.nginx.stderr_tail(n))
        return "\n".join(parts)

    def sanitizer_reports(self):
        out = []
        for p in self.routers() + list(self.ingesters.values()):
            r = p.sanitizer_report()
            if r:
                out.append("%s: %s" % (p.name, r))
        return out

    def stop(self):
        """Stop everything (front, routers, ingesters, etcd); returns the
        problems found: non-zero exits after SIGTERM and sanitizer reports."""
        problems = []
        if self.nginx is not None:
            self.nginx.stop()
        for p in self.routers() + list(self.ingesters.values()):
            if p.proc is None:
                continue
            was_alive = p.alive()
            rc = p.stop()
            if was_alive and rc != 0:
                problems.append("%s exited with status %r after SIGTERM\n%s" % (p.name, rc, p.stderr_tail(30)))
        problems += self.sanitizer_reports()
        if self.etcd is not None:
            self.etcd.stop()
        return problems

    def cleanup(self):
        problems = self.stop()
        for p in self.routers() + list(self.ingesters.values()):
            p.cleanup()
        if self.nginx is not None:
            self.nginx.cleanup()
        if self.etcd is not None:
            self.etcd.cleanup()
        if os.environ.get("HEARTH_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)
        return problems


def cluster_ledger(schemes):
    """A PushLedger for pushes through distributors: every 5xx is 'unknown'."""
    return PushLedger(schemes, unknown_statuses=(500, 502, 503, 504))


def self_values_over(sch, ids):
    """Expected per-function self values of the pushes ids of scheme sch."""
    out = {}
    for i in ids:
        for k, v in sch.self_values(i).items():
            out[k] = out.get(k, 0) + v
    return out


def query_self_values(endpoint, query, from_ms, until_ms, headers=None, timeout=60):
    """(status, {function: self}, numTicks, body) of GET /pyroscope/render."""
    params = [("query", query), ("from", str(from_ms)), ("until", str(until_ms)),
              ("maxNodes", "1048576")]
    r = endpoint.get("/pyroscope/render", params, headers=headers, timeout=timeout)
    if r.status != 200:
        return r.status, None, None, r.text()
    fb = json.loads(r.body)["flamebearer"]
    tree, _ = flamebearer_tree(fb)
    return 200, self_by_name(tree), fb["numTicks"], r.text()


def hour_aligned_base(days_back=2):
    """A timestamp days_back days ago on an hour boundary plus 5 min: pushes
    a minute apart then cover several of the querier's 1 h id windows."""
    t = now_s() - days_back * 86400
    return t - t % 3600 + 300


def marker_problems(ledger, sch, got, acked_before):
    """While pushes are still in flight only markers can be checked: every
    push acknowledged before the query is there, and every marker present
    has exactly its push's value (counted once, not once per replica)."""
    out = []
    prefix = sch.marker
    for name, v in got.items():
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            i = int(name[len(prefix):])
            want = sch.self_values(i)[name]
            if v != want:
                out.append("%s = %d, expected %d (push counted %.2f times)" % (name, v, want, v / want))
    for i in acked_before:
        if sch.marker_name(i) not in got:
            out.append("push #%d acknowledged before the query is missing (%s)" % (i, sch.describe(i)))
    return out
