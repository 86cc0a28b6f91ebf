#!/usr/bin/env python3
"""The web UI in a real browser: Debian's chromium driven by playwright-core.

A real hearth is loaded with ../shared/testdata (every pprof file, under
service td-<file>), a two-version folded service (`shop`, version 1 without
and version 2 with a `main;leak;alloc` regression, pods a and b), and a
profile of 100k distinct nodes (`big`). A second hearth runs with
multi-tenancy on (tenant team-a). tests/ui/browser_test.mjs then clicks
through every view (see its top comment) and fails on any console error;
screenshots go to <build>/ui-screenshots/.

playwright-core is installed at the pinned version below into
<build>/ui-node/ by npm (a no-op when already there); it drives the system
chromium, it downloads no browser. HEARTH_BUILD_DIR is the build folder
(ctest sets it; default: the folder of the hearth binary's parent).
"""

import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

PLAYWRIGHT = "1.64.1"
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
SCRIPT = os.path.join(L.SOURCE_ROOT, "tests", "ui", "browser_test.mjs")
H = None
MT = None
FIXTURE = {}


def build_dir():
    d = os.environ.get("HEARTH_BUILD_DIR")
    if d:
        return d
    return os.path.dirname(os.path.dirname(os.path.abspath(L.hearth_bin())))


def chromium_path():
    for p in ("/usr/bin/chromium", shutil.which("chromium") or ""):
        if p and os.access(p, os.X_OK):
            return p
    raise L.HearthError("chromium not found: install Debian's chromium "
                        "(scripts/install-deps.sh --test does)")


def install_playwright(prefix):
    """npm install playwright-core@PLAYWRIGHT into prefix unless it is there."""
    pkg = os.path.join(prefix, "node_modules", "playwright-core", "package.json")
    try:
        with open(pkg) as f:
            if json.load(f).get("version") == PLAYWRIGHT:
                return
    except (OSError, ValueError):
        pass
    npm = shutil.which("npm")
    if npm is None:
        raise L.HearthError("npm not found: install it (scripts/install-deps.sh --test does)")
    os.makedirs(prefix, exist_ok=True)
    r = subprocess.run([npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", prefix,
                        "playwright-core@" + PLAYWRIGHT], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise L.HearthError("npm install playwright-core@%s failed:\n%s%s" % (
            PLAYWRIGHT, r.stdout[-2000:], r.stderr[-2000:]))


def big_profile():
    """Folded text with 317 * 316 leaves under 317 packages: ~100.5k nodes."""
    lines = []
    for a in range(317):
        for b in range(316):
            lines.append("main;pkg%03d.Serve;pkg%03d.handler%03d %d" % (a, a, b, 1 + (a * 7 + b) % 13))
    return ("\n".join(lines) + "\n").encode()


def setUpModule():
    global H, MT
    # The 100k-node profile has 100k distinct stacks.
    H = L.HearthProcess(flags=["-limits.max-profile-stacktrace-samples=0"], name="hearth").start()
    L.HearthTestCase.hearth = H
    now = L.now_s()
    # Every pprof of the shared testdata; the one the URL test opens keeps
    # its own (old) timestamp, so its range is absolute.
    files = {}
    for path in L.pprof_files():
        with open(path, "rb") as f:
            data = f.read()
        base = os.path.basename(path).split(".")[0]
        svc = "td-" + base
        params = [("name", svc), ("format", "pprof")]
        if "dotnet" in base:  # valid with the .NET agent's fixes, as it sends
            params.append(("spyName", "dotnetspy"))
        H.ingest(params, data)
        files[base] = (svc, data)
    svc, data = files["cpu"]
    p = L.decode_pprof(data)
    t_ms = p.time_nanos // 10 ** 6
    exp = [e for e in L.expected_per_type(p) if e.sample_type == "cpu"][0]
    top_self = sorted(exp.self_by_name.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    from_ms, until_ms = t_ms - 60000, t_ms + 60000
    r = H.render('%s{service_name="%s"}' % (CPU, svc), from_ms, until_ms)
    assert r["flamebearer"]["numTicks"] == exp.total, (r["flamebearer"]["numTicks"], exp.total)
    FIXTURE["cpu"] = {"service": svc, "from": str(from_ms), "until": str(until_ms),
                      "numTicks": exp.total, "topSelf": top_self,
                      "file": os.path.join(L.testdata_dir(), "pprof", "cpu.pb.gz")}
    # shop: version 1 five minutes ago, version 2 (with main;leak;alloc)
    # three minutes ago; 100 Hz, so one sample is 10 ms.
    base = "main;work;compute 60\nmain;work 20\nmain;idle 10\ngc 10\n"
    H.ingest([("name", "shop.cpu{version=1,pod=a}"), ("from", str(now - 300)),
              ("until", str(now - 290))], base.encode())
    H.ingest([("name", "shop.cpu{version=2,pod=b}"), ("from", str(now - 180)),
              ("until", str(now - 170))], (base + "main;leak;alloc 100\n").encode())
    H.ingest([("name", "big.cpu"), ("from", str(now - 120)), ("until", str(now - 110))],
             big_profile())
    MT = L.HearthProcess(flags=["-auth.multitenancy-enabled"], name="hearth-mt").start()
    MT.ingest([("name", "teamsvc.cpu"), ("from", str(now - 120)), ("until", str(now - 110))],
              b"main;serve 30\nmain;gc 10\n", headers={"X-Scope-OrgID": "team-a"})


def tearDownModule():
    for h in (H, MT):
        if h is not None:
            try:
                h.stop_checked()
            finally:
                h.cleanup()


class UiBrowserTest(L.HearthTestCase):

    def test_ui_in_chromium(self):
        node = shutil.which("node")
        self.assertIsNotNone(node, "node not found (Debian's nodejs)")
        bdir = build_dir()
        prefix = os.path.join(bdir, "ui-node")
        install_playwright(prefix)
        shots = os.path.join(bdir, "ui-screenshots")
        os.makedirs(shots, exist_ok=True)
        env = dict(os.environ)
        env.update({
            "HEARTH_URL": "http://127.0.0.1:%d" % H.port,
            "HEARTH_MT_URL": "http://127.0.0.1:%d" % MT.port,
            "HEARTH_UI_FIXTURE": json.dumps(FIXTURE),
            "PLAYWRIGHT_PREFIX": prefix,
            "CHROMIUM": chromium_path(),
            "SCREENSHOT_DIR": shots,
        })
        t0 = time.monotonic()
        r = subprocess.run([node, "--test-reporter=spec", SCRIPT], env=env, capture_output=True,
                           text=True, timeout=500)
        sys.stdout.write(r.stdout)
        sys.stdout.write(r.stderr)
        sys.stdout.write("browser tests: %.1f s, screenshots in %s\n" % (time.monotonic() - t0, shots))
        self.assertEqual(r.returncode, 0, "browser tests failed (output above)")


if __name__ == "__main__":
    L.run_tests()
