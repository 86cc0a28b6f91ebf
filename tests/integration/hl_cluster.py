"""Cluster helpers of the integration tests (hearth_test_lib re-exports them).

Ingesters, distributors and queriers as separate processes, with Debian's
etcd and nginx started by the test (tests/integration/test_cluster*.py).
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

from hearth_test_lib import (_LIVE_PROCS, SOURCE_ROOT, HearthError, HearthProcess, free_port,
                             http_request, now_s)
from hl_pprof import flamebearer_tree, self_by_name
from hl_storage import PushLedger


# ---------------------------------------------------------------------------
# Cluster tests: ingesters, distributors and queriers as separate processes,
# Debian's etcd and nginx started by the test (tests/integration/test_cluster*.py)
# ---------------------------------------------------------------------------

class OwnedProcess:
    """stop() for a helper that started self.proc (registered in _LIVE_PROCS,
    output to self._log): terminate, kill after 10 s, forget it."""

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


class Etcd(OwnedProcess):
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


    def cleanup(self):
        self.stop()
        if os.environ.get("HEARTH_KEEP_TMP") != "1":
            shutil.rmtree(self.tmp, ignore_errors=True)


NGINX_TEMPLATE = os.path.join(SOURCE_ROOT, "deploy", "local", "nginx.conf.in")


class Nginx(OwnedProcess, Endpoint):
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
