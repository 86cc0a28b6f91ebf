"""Shared helpers of the packaging tests (tests/deploy/test_*.py).

What lives here:
  * require_modules(): the tests parse YAML (PyYAML) and check the chart's
    values.schema.json (jsonschema). When the running python3 lacks them
    (a pyenv interpreter, say) the test re-executes itself under Debian's
    /usr/bin/python3, where python3-yaml and python3-jsonschema put them
    (scripts/install-deps.sh --test installs both).
  * chart_render(): builds ../shared/tools/chart-render once into the work
    directory (atomically: tests may run in parallel) and renders the chart
    into a list of (source template, object) pairs.
  * Procs: background processes (hearth, nginx, the demo programs) with
    their output in a log file, always killed at the end, and their log
    tails printed when a test fails.
  * Small HTTP helpers on urllib that never raise on 4xx/5xx.

Environment: HEARTH_BIN, HEARTH_CLI_BIN (the built binaries; defaults under
<source>/build), HEARTH_DEPLOY_TMP (a work directory kept between runs for
the chart-render binary and the Go build cache; default: the system temp
directory), CHART_RENDER (use this chart-render binary instead of building).
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
SHARED = os.path.abspath(os.path.join(SOURCE_ROOT, "..", "shared"))
DEPLOY = os.path.join(SOURCE_ROOT, "deploy")
CHART = os.path.join(DEPLOY, "helm", "hearth")
DEBIAN_PYTHON = "/usr/bin/python3"


def require_modules(*names):
    """Import names, re-executing under Debian's python3 when one is missing."""
    try:
        for n in names:
            __import__(n)
    except ImportError as e:
        if os.path.realpath(sys.executable) != os.path.realpath(DEBIAN_PYTHON) and os.path.exists(DEBIAN_PYTHON) \
                and not os.environ.get("HEARTH_DEPLOY_REEXEC"):
            os.environ["HEARTH_DEPLOY_REEXEC"] = "1"
            os.execv(DEBIAN_PYTHON, [DEBIAN_PYTHON] + sys.argv)
        sys.exit("%s: %s (install python3-yaml and python3-jsonschema: scripts/install-deps.sh --test)"
                 % (os.path.basename(sys.argv[0]), e))


def work_dir():
    d = os.environ.get("HEARTH_DEPLOY_TMP") or os.path.join(tempfile.gettempdir(), "hearth-deploy-tests")
    os.makedirs(d, exist_ok=True)
    return d


def _build_bin(name):
    env_name = "HEARTH_CLI_BIN" if name == "hearth-cli" else "HEARTH_BIN"
    if os.environ.get(env_name):
        return os.environ[env_name]
    if name == "hearth-cli" and os.environ.get("HEARTH_BIN"):
        return os.path.join(os.path.dirname(os.environ["HEARTH_BIN"]), "hearth-cli")
    for rel in (("build", "cmd", name), ("build", name)):
        p = os.path.join(SOURCE_ROOT, *rel)
        if os.path.exists(p):
            return p
    return os.path.join(SOURCE_ROOT, "build", "cmd", name)


def hearth_bin():
    return _build_bin("hearth")


def hearth_cli_bin():
    return _build_bin("hearth-cli")


def run(cmd, timeout=120, **kw):
    """Runs cmd, returns CompletedProcess with text stdout/stderr."""
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)


# --- chart-render --------------------------------------------------------

def chart_render_bin():
    if os.environ.get("CHART_RENDER"):
        return os.environ["CHART_RENDER"]
    src_dir = os.path.join(SHARED, "tools", "chart-render")
    out = os.path.join(work_dir(), "chart-render")
    src_mtime = max(os.path.getmtime(os.path.join(src_dir, f)) for f in os.listdir(src_dir))
    if os.path.exists(out) and os.path.getmtime(out) >= src_mtime:
        return out
    tmp = "%s.%d" % (out, os.getpid())
    env = dict(os.environ, GOCACHE=os.path.join(work_dir(), "gocache"))
    r = run(["sh", os.path.join(src_dir, "build.sh"), tmp], env=env, timeout=300)
    if r.returncode != 0:
        raise RuntimeError("building chart-render failed (needs golang-go golang-github-masterminds-sprig-dev "
                           "golang-gopkg-yaml.v3-dev):\n%s%s" % (r.stdout, r.stderr))
    os.replace(tmp, out)
    return out


def chart_render_text(chart=CHART, values_files=(), sets=(), release="hearth", namespace="default"):
    """Rendered multi-document YAML; raises with chart-render's message on failure."""
    cmd = [chart_render_bin(), "-release", release, "-namespace", namespace]
    for f in values_files:
        cmd += ["-f", f]
    for s in sets:
        cmd += ["--set", s]
    cmd.append(chart)
    r = run(cmd)
    if r.returncode != 0:
        raise RuntimeError("chart-render %s failed:\n%s" % (" ".join(cmd[1:]), r.stderr))
    return r.stdout


def chart_render(**kw):
    """Rendered objects as a list of (source template, dict)."""
    import yaml
    out = []
    for doc in chart_render_text(**kw).split("\n---"):
        source = None
        for line in doc.splitlines():
            if line.startswith("# Source: "):
                source = line[len("# Source: "):]
                break
        obj = yaml.safe_load(doc)
        if obj:
            out.append((source, obj))
    return out


# --- processes -----------------------------------------------------------

def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Background processes of one test, each logging to DIR/<name>.log."""

    def __init__(self, root):
        self.root = root
        self.procs = []
        atexit.register(self.stop_all)

    def start(self, name, cmd, env=None, cwd=None):
        log = open(os.path.join(self.root, name + ".log"), "wb")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd or self.root,
                             start_new_session=True)
        log.close()
        self.procs.append((name, p))
        return p

    def log(self, name):
        try:
            with open(os.path.join(self.root, name + ".log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def tails(self, lines=15):
        out = []
        for name, _ in self.procs:
            tail = self.log(name).splitlines()[-lines:]
            out.append("--- %s.log (last %d lines)\n%s" % (name, len(tail), "\n".join(tail)))
        return "\n".join(out)

    def stop(self, p, timeout=20):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def stop_all(self):
        # Reverse order: front ends before what they front.
        for _, p in reversed(self.procs):
            self.stop(p)


# --- HTTP ----------------------------------------------------------------

def http(method, url, body=None, headers=None, timeout=10):
    """(status, headers, body bytes); status 0 when nothing answered."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except (urllib.error.URLError, OSError):
        return 0, {}, b""


def wait_for(what, fn, timeout=30.0, interval=0.2):
    """Polls fn() until it returns a true value; raises naming what on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what, last))


def wait_ready(base, timeout=None):
    if timeout is None:
        timeout = float(os.environ.get("HEARTH_START_TIMEOUT", "60"))
    wait_for(base + "/ready", lambda: http("GET", base + "/ready")[0] == 200, timeout)


def which(name):
    return shutil.which(name) or (os.path.exists("/usr/sbin/" + name) and "/usr/sbin/" + name) or None
