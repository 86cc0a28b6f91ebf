#!/usr/bin/env python3
"""The multi-tenant gateway configurations of deploy/lb/, for real.

A local cluster (3 ingesters, RF 3, 2 distributors, 1 querier; the harness of
tests/integration/hearth_test_lib.py) runs with -auth.multitenancy-enabled=true.
In front of it, at the same time: Debian's nginx with
deploy/lb/nginx-multitenant.conf.in and Debian's HAProxy with
deploy/lb/haproxy-multitenant.cfg.in, both filled by deploy/lb/render.sh and
using the credentials of deploy/lb/credentials.example turned into map files
by deploy/lb/lb-credentials.sh. The same checks run through each:

  * two credentials (a bearer token and a basic-auth user) land in two
    tenants: each reads exactly its own pushes (legacy /ingest and Connect
    Push), and the querier asked directly as "team-a" / "team-b" agrees;
  * a client-forged X-Scope-OrgID is ignored (credential A + header "team-b"
    writes and reads team-a);
  * unknown, missing, mis-cased, malformed and doubled credentials get 401
    with a challenge, and nothing they sent is stored;
  * the cross-tenant read credential reads the union and cannot write (403);
  * ingest paths reach the distributors (both), the rest the querier;
    /ready is open, the per-process pages are not served.

Run: HEARTH_BIN=build/cmd/hearth python3 tests/integration/test_lb.py
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as h  # noqa: E402

LB_DIR = os.path.join(h.SOURCE_ROOT, "deploy", "lb")
CPU = h.CPU_TYPE
SCALE = 10 ** 7                       # folded counts at sampleRate=100, in ns
T0 = h.now_s() - 600
FROM_MS, UNTIL_MS = (T0 - 3600) * 1000, (T0 + 3600) * 1000
PUSH = "/push.v1.PusherService/Push"

CLUSTER = None
TMP = None
CREDS = {}        # tenant -> headers of its credential (from credentials.example)
GATEWAYS = {}     # "nginx" / "haproxy" -> Gateway


def read_credentials():
    """{tenant: Authorization headers} of deploy/lb/credentials.example."""
    out = {}
    with open(os.path.join(LB_DIR, "credentials.example")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            tenant, scheme, cred = line.split()
            if scheme == "bearer":
                out[tenant] = h.bearer(cred)
            else:
                user, _, password = cred.partition(":")
                out[tenant] = h.basic(user, password)
    return out


class Gateway(h.OwnedProcess, h.Endpoint):
    """nginx or HAProxy from the shipped template, on a free loopback port."""

    def __init__(self, kind, creds_dir, distributor_ports, querier_ports):
        super().__init__(None, kind)
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix="hearth-lb-%s-" % kind, dir=TMP)
        self.creds = os.path.join(creds_dir, "%s-credentials.map" % kind)
        self.distributor_ports = distributor_ports
        self.querier_ports = querier_ports
        self.proc = None

    def start(self, timeout=30):
        exe = shutil.which(self.kind) or "/usr/sbin/" + self.kind
        if not os.access(exe, os.X_OK):
            raise h.HearthError("%s not found: apt-get install %s (scripts/install-deps.sh --test)"
                                % (self.kind, self.kind))
        self.port = h.free_port()
        env = dict(os.environ, LB_DIR=self.dir, LB_LISTEN="127.0.0.1:%d" % self.port,
                   LB_CREDENTIALS=self.creds,
                   LB_DISTRIBUTORS=",".join("127.0.0.1:%d" % p for p in self.distributor_ports),
                   LB_QUERIERS=",".join("127.0.0.1:%d" % p for p in self.querier_ports))
        r = subprocess.run([os.path.join(LB_DIR, "render.sh"), self.kind], env=env,
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise h.HearthError("render.sh %s failed: %s" % (self.kind, r.stderr))
        self.conf = os.path.join(self.dir, "nginx.conf" if self.kind == "nginx" else "haproxy.cfg")
        with open(self.conf, "w") as f:
            f.write(r.stdout)
        if self.kind == "nginx":
            check = [exe, "-t", "-q", "-p", self.dir, "-c", self.conf]
            run = [exe, "-p", self.dir, "-c", self.conf]
        else:
            check = [exe, "-c", "-q", "-f", self.conf]
            run = [exe, "-f", self.conf, "-db"]
        r = subprocess.run(check, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise h.HearthError("%s rejects the rendered configuration:\n%s%s" % (
                self.kind, r.stdout, r.stderr))
        self.log_path = os.path.join(self.dir, "stderr.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(run, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        h._LIVE_PROCS.append(self.proc)
        # Ready once /ready answers 200 through it (HAProxy's first health
        # checks included).
        h._wait_http(self.url("/ready"), timeout, self.proc, self.kind)
        return self

    def stderr_tail(self, n=30):
        out = []
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.dir, name), "rb") as f:
                    out += f.read().decode("utf-8", "replace").splitlines()[-n:]
            except OSError:
                pass
        return "---- %s logs ----\n%s" % (self.kind, "\n".join(out))


def raw_request(port, method, path, header_lines, body=b""):
    """(status, headers {lower name: value}) of one request whose header lines
    are sent exactly as given (e.g. two Authorization lines)."""
    head = "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" % (method, path)
    head += "".join(line + "\r\n" for line in header_lines)
    head += "Content-Length: %d\r\n\r\n" % len(body)
    data = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode() + body)
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    lines = data.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    return int(lines[0].split()[1]), hdrs


def setUpModule():
    global CLUSTER, TMP, CREDS
    TMP = tempfile.mkdtemp(prefix="hearth-test-lb-")
    creds_dir = os.path.join(TMP, "credentials")
    os.makedirs(creds_dir)
    r = subprocess.run([os.path.join(LB_DIR, "lb-credentials.sh"),
                        os.path.join(LB_DIR, "credentials.example"), creds_dir],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise h.HearthError("lb-credentials.sh failed: %s" % r.stderr)
    CREDS = read_credentials()
    CLUSTER = h.Cluster(n_ingesters=3, n_distributors=2, rf=3, front=False,
                        flags=["-auth.multitenancy-enabled=true"])
    try:
        CLUSTER.start()
        for kind in ("nginx", "haproxy"):
            GATEWAYS[kind] = Gateway(kind, creds_dir, [d.port for d in CLUSTER.distributors],
                                     [CLUSTER.querier.port]).start()
    except Exception:
        sys.stderr.write(CLUSTER.tails(40) + "\n")
        for g in GATEWAYS.values():
            sys.stderr.write(g.stderr_tail() + "\n")
        tearDownModule()
        raise


def tearDownModule():
    for g in GATEWAYS.values():
        g.stop()
    problems = CLUSTER.cleanup() if CLUSTER is not None else []
    if os.environ.get("HEARTH_KEEP_TMP") != "1":
        shutil.rmtree(TMP, ignore_errors=True)
    if problems:
        raise h.HearthError("cluster shutdown:\n" + "\n".join(problems))


def with_tenant(headers, tenant):
    return dict(headers, **{"X-Scope-OrgID": tenant})


def push_folded(endpoint, service, stacks, headers):
    """POST /ingest of folded stacks [(frames, count)] at T0; the Response."""
    params = [("name", "%s.cpu{env=lb}" % service), ("from", str(T0)), ("until", str(T0 + 10)),
              ("sampleRate", "100")]
    return endpoint.post("/ingest", params, h.folded_body(stacks), headers=headers)


def push_connect(endpoint, service, stacks, headers):
    """Connect Push (binary proto) of one pprof of stacks [(frames, ns)] at T0."""
    b = h.PprofBuilder(time_nanos=T0 * 10 ** 9)
    for frames, v in stacks:
        b.sample(b.stack(*frames), [v])
    series = h.pb_msg(1, h.pb_msg(1, h.pb_bytes(1, "__name__"), h.pb_bytes(2, "process_cpu")),
                      h.pb_msg(1, h.pb_bytes(1, "service_name"), h.pb_bytes(2, service)),
                      h.pb_msg(2, h.pb_bytes(1, b.encode_gz()), h.pb_bytes(2, "lb-1")))
    return endpoint.post(PUSH, body=series, headers=dict(headers, **{"Content-Type": "application/proto"}))


def self_values(stacks, scale=SCALE):
    out = {}
    for frames, c in stacks:
        out[frames[-1]] = out.get(frames[-1], 0) + c * scale
    return out


def add(*dicts):
    out = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


class GatewayChecks:
    """The checks, run once per gateway (subclasses set KIND)."""
    KIND = None

    @classmethod
    def setUpClass(cls):
        cls.gw = GATEWAYS[cls.KIND]
        cls.svc = h.unique("lb-%s" % cls.KIND)

    def run(self, result=None):
        before = (len(result.failures) + len(result.errors)) if result is not None else 0
        out = super().run(result)
        if result is not None and len(result.failures) + len(result.errors) > before:
            sys.stderr.write("\n%s\n%s\n" % (self.gw.stderr_tail(), CLUSTER.tails(20)))
        return out

    def query(self, endpoint, headers, service=None):
        """{function: self} of the service's CPU flame graph (asserts 200)."""
        q = '%s{service_name="%s"}' % (CPU, service or self.svc)
        status, got, ticks, body = h.query_self_values(endpoint, q, FROM_MS, UNTIL_MS, headers=headers)
        self.assertEqual(status, 200, "%s: render through %s: %s" % (q, endpoint.name, body[:500]))
        self.assertEqual(ticks, sum(got.values()), "numTicks is the sum of self values")
        return got

    def as_tenant(self, tenant, service=None):
        """What the querier itself (no gateway) holds for tenant."""
        return self.query(CLUSTER.querier, {"X-Scope-OrgID": tenant}, service)

    def assertRefused(self, resp, status, code, what):
        self.assertEqual(resp.status, status, "%s through %s: expected %d, got %d: %s" % (
            what, self.KIND, status, resp.status, resp.text()[:300]))
        self.assertEqual(h.error_body(resp)["code"], code, what)
        if status == 401:
            self.assertRegex(resp.header("WWW-Authenticate") or "", r'^Bearer realm="hearth", Basic realm="hearth"',
                             "%s: a 401 carries the challenge" % what)

    # -------------------------------------------------------------------------
    def test_1_two_credentials_land_in_two_tenants(self):
        svc = self.svc + "-two"
        a_folded = [(["main", "work"], 3), (["main", "a_only_%s" % self.KIND], 2)]
        b_folded = [(["main", "work"], 5), (["main", "b_only_%s" % self.KIND], 7)]
        b_connect = [(["main", "b_connect_%s" % self.KIND], 11 * SCALE)]
        self.assertEqual(push_folded(self.gw, svc, a_folded, CREDS["team-a"]).status, 200)
        r = push_folded(self.gw, svc, b_folded, CREDS["team-b"])
        self.assertEqual(r.status, 200, r.text())
        r = push_connect(self.gw, svc, b_connect, CREDS["team-b"])
        self.assertEqual(r.status, 200, "Connect Push through %s: %s" % (self.KIND, r.text()[:300]))
        want_a = self_values(a_folded)
        want_b = add(self_values(b_folded), self_values(b_connect, 1))
        self.assertEqual(self.query(self.gw, CREDS["team-a"], svc), want_a, "credential A reads tenant A only")
        self.assertEqual(self.query(self.gw, CREDS["team-b"], svc), want_b, "credential B reads tenant B only")
        # The tenants are the ones the map names, asked without the gateway.
        self.assertEqual(self.as_tenant("team-a", svc), want_a)
        self.assertEqual(self.as_tenant("team-b", svc), want_b)

    def test_2_forged_scope_header_is_ignored(self):
        svc = self.svc + "-forged"
        mine = [(["main", "forged_%s" % self.KIND], 4)]
        r = push_folded(self.gw, svc, mine, with_tenant(CREDS["team-a"], "team-b"))
        self.assertEqual(r.status, 200, r.text())
        r = push_connect(self.gw, svc, [(["main", "forged_connect"], 3 * SCALE)],
                         with_tenant(CREDS["team-a"], "team-b"))
        self.assertEqual(r.status, 200, r.text())
        want = add(self_values(mine), {"forged_connect": 3 * SCALE})
        self.assertEqual(self.as_tenant("team-a", svc), want, "credential A + header team-b lands in team-a")
        self.assertEqual(self.as_tenant("team-b", svc), {}, "nothing of it reaches team-b")
        # Reads too: A asking for team-b (or both) still reads team-a.
        for forged in ("team-b", "team-a|team-b"):
            self.assertEqual(self.query(self.gw, with_tenant(CREDS["team-a"], forged), svc), want, forged)
        self.assertEqual(self.query(self.gw, with_tenant(CREDS["team-b"], "team-a"), svc), {})

    def test_3_unknown_and_missing_credentials_get_401(self):
        svc = self.svc + "-refused"
        token = CREDS["team-a"]["Authorization"].split(" ", 1)[1]
        bad = {
            "no credential": {},
            "unknown bearer token": h.bearer("not-a-token-of-this-gateway"),
            "token in the wrong case": h.bearer(token.upper()),
            "token with a suffix": h.bearer(token + "x"),
            "token and another word": {"Authorization": "Bearer %s extra" % token},
            "unknown basic user": h.basic("mallory", "example-team-b-password-7e41"),
            "wrong basic password": h.basic("ci-agent", "guess"),
            "token as a basic password": h.basic("anyone", token),
            "empty Authorization": {"Authorization": ""},
        }
        stacks = [(["main", "refused_%s" % self.KIND], 9)]
        for what, hdrs in bad.items():
            hdrs = with_tenant(hdrs, "team-a")
            self.assertRefused(push_folded(self.gw, svc, stacks, hdrs), 401, "unauthenticated",
                               "push, " + what)
            self.assertRefused(push_connect(self.gw, svc, [(["main", "x"], 1)], hdrs), 401,
                               "unauthenticated", "Connect push, " + what)
            r = self.gw.get("/pyroscope/render", [("query", '%s{service_name="%s"}' % (CPU, svc)),
                                                  ("from", str(FROM_MS)), ("until", str(UNTIL_MS))],
                            headers=hdrs)
            self.assertRefused(r, 401, "unauthenticated", "render, " + what)
            self.assertRefused(self.gw.get("/", headers=hdrs), 401, "unauthenticated", "UI, " + what)
        # The scheme name is case-insensitive (RFC 9110), the credential not.
        r = push_folded(self.gw, svc, [(["main", "scheme_case"], 1)],
                        {"Authorization": "bearer " + token})
        self.assertEqual(r.status, 200, "scheme in lower case: %s" % r.text())
        # Two Authorization headers, one of them valid: refused (nginx 400,
        # HAProxy 401), never a guess.
        status, _ = raw_request(self.gw.port, "GET", "/pyroscope/label-names",
                                ["Authorization: " + CREDS["team-a"]["Authorization"],
                                 "Authorization: Bearer nope"])
        self.assertIn(status, (400, 401), "two Authorization headers")
        # Nothing refused was stored, in any tenant.
        self.assertEqual(self.as_tenant("team-a", svc), {"scheme_case": SCALE})
        self.assertEqual(self.as_tenant("team-b", svc), {})

    def test_4_cross_tenant_reader(self):
        svc = self.svc + "-union"
        a = [(["main", "u_a"], 2)]
        b = [(["main", "u_b"], 3), (["main", "work"], 1)]
        self.assertEqual(push_folded(self.gw, svc, a, CREDS["team-a"]).status, 200)
        self.assertEqual(push_folded(self.gw, svc, b, CREDS["team-b"]).status, 200)
        reader = CREDS["team-a|team-b"]
        self.assertEqual(self.query(self.gw, reader, svc), add(self_values(a), self_values(b)),
                         "the team-a|team-b credential reads the union")
        self.assertEqual(self.query(self.gw, with_tenant(reader, "team-a"), svc),
                         add(self_values(a), self_values(b)), "its header cannot change it either")
        self.assertRefused(push_folded(self.gw, svc, a, reader), 403, "permission_denied",
                           "a push with the read-only cross-tenant credential")
        self.assertRefused(push_connect(self.gw, svc, [(["main", "x"], 1)], reader), 403,
                           "permission_denied", "a Connect push with the cross-tenant credential")
        self.assertEqual(self.as_tenant("team-a", svc), self_values(a))

    def test_5_routing_and_open_paths(self):
        r = self.gw.get("/ready")
        self.assertEqual(r.status, 200, "/ready needs no credential: %s" % r.text())
        for path in ("/metrics", "/config", "/targets", "/ring"):
            r = self.gw.get(path, headers=CREDS["team-a"])
            self.assertEqual(r.status, 404, "%s is not served through the gateway" % path)
            self.assertNotIn(b"hearth_", r.body, path)

        def ingests(p):
            return int(p.metric("hearth_http_requests_total", route="ingest", status="200") or 0)

        before = [ingests(d) for d in CLUSTER.distributors]
        q_before = ingests(CLUSTER.querier)
        n = 8
        for i in range(n):
            r = push_folded(self.gw, self.svc + "-route", [(["main", "r%d" % i], 1)], CREDS["team-a"])
            self.assertEqual(r.status, 200, r.text())
        got = [ingests(d) - b for d, b in zip(CLUSTER.distributors, before)]
        self.assertEqual(sum(got), n, "every push reached a distributor: %r" % got)
        self.assertTrue(all(g > 0 for g in got), "both distributors get pushes: %r" % got)
        self.assertEqual(ingests(CLUSTER.querier), q_before, "no push reaches the querier")
        self.assertEqual(self.as_tenant("team-a", self.svc + "-route"),
                         {"r%d" % i: SCALE for i in range(n)})
        # Query APIs reach the querier: label names (legacy) and Connect.
        r = self.gw.get("/pyroscope/label-names", headers=CREDS["team-a"])
        self.assertEqual(r.status, 200, r.text())
        self.assertIn("service_name", r.json())
        r = h.connect_call(self.gw, "/querier.v1.QuerierService/LabelValues",
                           {"name": "service_name", "start": FROM_MS, "end": UNTIL_MS},
                           headers=CREDS["team-a"])
        self.assertEqual(r.status, 200, r.text())
        self.assertIn(self.svc + "-route", r.json().get("names", []))
        self.assertNotIn(self.svc + "-route", json_names(h.connect_call(
            self.gw, "/querier.v1.QuerierService/LabelValues",
            {"name": "service_name", "start": FROM_MS, "end": UNTIL_MS}, headers=CREDS["team-b"])))


def json_names(resp):
    assert resp.status == 200, resp.text()
    return resp.json().get("names", [])


class NginxTest(GatewayChecks, h.HearthTestCase):
    KIND = "nginx"


class HAProxyTest(GatewayChecks, h.HearthTestCase):
    KIND = "haproxy"


class CredentialFilesTest(h.HearthTestCase):
    def test_shipped_maps_are_generated_from_the_example(self):
        for kind in ("nginx", "haproxy"):
            with open(os.path.join(TMP, "credentials", "%s-credentials.map" % kind)) as f:
                got = f.read()
            with open(os.path.join(LB_DIR, "%s-credentials.map.example" % kind)) as f:
                shipped = f.read()
            self.assertEqual(got, shipped, "deploy/lb/%s-credentials.map.example differs from what "
                             "lb-credentials.sh makes of credentials.example" % kind)
            mode = os.stat(os.path.join(TMP, "credentials", "%s-credentials.map" % kind)).st_mode & 0o777
            self.assertEqual(mode, 0o600, "the generated map holds secrets")

    def test_invalid_lines_are_refused_with_their_line_number(self):
        out = os.path.join(TMP, "bad")
        os.makedirs(out, exist_ok=True)
        cases = [
            ("team a bearer x\n", "expected TENANT SCHEME CREDENTIAL"),
            ("team/a bearer tok\n", "invalid tenant ID 'team/a'"),
            (".. bearer tok\n", "invalid tenant ID '..'"),
            ("a| bearer tok\n", "empty tenant"),
            ("a bearer to\"k\n", "a bearer token may hold only"),
            ("a basic nopassword\n", "USER:PASSWORD"),
            ("a digest x:y\n", "scheme must be bearer or basic"),
            ("a bearer tok\nb bearer tok\n", "creds.txt:3: the same credential as line 2"),
        ]
        for text, msg in cases:
            src = os.path.join(out, "creds.txt")
            with open(src, "w") as f:
                f.write("# comment\n" + text)
            r = subprocess.run([os.path.join(LB_DIR, "lb-credentials.sh"), src, out],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(msg, r.stderr, text)
            self.assertRegex(r.stderr, r"creds\.txt:\d+: ", "the message names the line")
            self.assertEqual(sorted(os.listdir(out)), ["creds.txt"], "nothing is written on error")


if __name__ == "__main__":
    h.run_tests()
