"""Scrape-target and Connect API helpers of the integration tests (hearth_test_lib re-exports them).

Go programs and fake pprof endpoints to scrape, `go tool pprof -top`
parsing, a Connect client, and a protobuf decoder driven by field tables
written in the tests from the spec.
"""

import gzip
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time

from hearth_test_lib import _LIVE_PROCS, HearthError
from hl_pprof import PbError, _int64, _msg, pb_bytes, pb_fields, pb_key, pb_repeated_varints


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
