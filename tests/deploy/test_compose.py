#!/usr/bin/env python3
"""The docker-compose lab stack: deploy/docker-compose.yml and deploy/compose/.

No Docker engine here. What is checked:
  * Debian's docker-compose validates the file (`config -q`), and rejects
    a broken copy (so the check has teeth);
  * the topology, from `docker-compose config`'s normalised output: 3
    ingesters with named volumes and stable member ids, 2 distributors and
    a querier with the same static member list and RF 3, only one
    distributor scraping, every hearth container non-root-image, read-only
    root, a /tmp tmpfs; every bind-mounted file exists;
  * nginx.conf routes ingest paths to the distributors and the rest to the
    querier, and Debian's nginx accepts it (`nginx -t`, with the container
    host names mapped to 127.0.0.1);
  * Prometheus scrapes every hearth service's HTTP port and demo-app;
    Grafana's data sources are the provisioned uids the dashboard uses;
    the dashboard's CPU panel links hearth's flame graph UI with the
    panel's time range;
  * a smoke run of the lab's pieces as local processes: the demo programs
    built with the local Go toolchain (offline), a real hearth with the
    lab's scrape config (target moved to 127.0.0.1), Debian's nginx with the
    lab's nginx.conf in front; demo-app's profiles arrive by scraping and
    demo-pusher's through nginx, and the dashboard's link, with Grafana's
    variables filled in, opens the UI and its query gives demo-app's flame
    graph.
"""

import json
import os
import re
import sys
import tempfile
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_lib as lib  # noqa: E402

lib.require_modules("yaml")
import yaml  # noqa: E402

COMPOSE_FILE = os.path.join(lib.DEPLOY, "docker-compose.yml")
COMPOSE_DIR = os.path.join(lib.DEPLOY, "compose")
INGESTERS = ["ingester-1", "ingester-2", "ingester-3"]
DISTRIBUTORS = ["distributor-1", "distributor-2"]
HEARTH_SERVICES = INGESTERS + DISTRIBUTORS + ["querier"]
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"


def compose(*args, stdin=None):
    return lib.run(["docker-compose"] + list(args), input=stdin, cwd=lib.DEPLOY)


def hearth_flags(service):
    out = {}
    for a in service.get("command", []):
        k, _, v = a.lstrip("-").partition("=")
        out[k] = v
    return out


def volumes(service):
    """A service's volumes as dicts (docker-compose 1.29 prints the short
    syntax SOURCE:TARGET[:ro]): type bind (absolute source) or volume."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out.append(v)
            continue
        parts = v.split(":")
        out.append({"type": "bind" if parts[0].startswith("/") else "volume", "source": parts[0],
                    "target": parts[1], "read_only": len(parts) > 2 and "ro" in parts[2].split(",")})
    return out


def load_yaml(*parts):
    with open(os.path.join(COMPOSE_DIR, *parts)) as f:
        return yaml.safe_load(f)


def nginx_conf():
    with open(os.path.join(COMPOSE_DIR, "nginx.conf")) as f:
        return f.read()


def dashboard():
    with open(os.path.join(COMPOSE_DIR, "grafana", "dashboards", "hearth-lab.json")) as f:
        return json.load(f)


def flame_link(dash):
    """The CPU panel's link to hearth's flame graph UI."""
    (panel,) = [p for p in dash["panels"] if p["type"] == "timeseries" and "CPU" in p["title"]]
    links = panel["links"] + panel["fieldConfig"]["defaults"]["links"]
    urls = {ln["url"] for ln in links}
    assert len(urls) == 1, urls
    return panel, urls.pop()


class TestComposeFile(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = compose("-f", "docker-compose.yml", "config")
        if r.returncode != 0:
            raise AssertionError("docker-compose config failed:\n" + r.stderr)
        cls.cfg = yaml.safe_load(r.stdout)
        cls.services = cls.cfg["services"]

    def test_compose_config_valid(self):
        r = compose("-f", "docker-compose.yml", "config", "-q")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "", ""))

    def test_compose_config_rejects_broken_copy(self):
        with open(COMPOSE_FILE) as f:
            text = f.read()
        bad = text.replace("\n  read_only: true\n", "\n  read_onyl: true\n", 1)
        self.assertNotEqual(bad, text)
        r = compose("-f", "-", "config", "-q", stdin=bad)
        self.assertEqual(r.returncode, 1)
        self.assertIn("Unsupported config option for services.ingester-1: 'read_onyl'", r.stderr)

    def test_compose_services(self):
        self.assertEqual(set(self.services), set(HEARTH_SERVICES) | {
            "nginx", "prometheus", "grafana", "demo-app", "demo-pusher"})
        for name in HEARTH_SERVICES:
            s = self.services[name]
            self.assertEqual(s["image"], "hearth:lab", name)
            self.assertIs(s["read_only"], True, name)
            self.assertIn("/tmp", s["tmpfs"], name)
            self.assertNotIn("user", s, name + ": the image's non-root user must stay")
            self.assertNotIn("-server.http-listen-port", " ".join(s["command"]), name)
        # One build of the image, from the repository root with deploy/Dockerfile.
        builds = {n: s["build"] for n, s in self.services.items() if "build" in s and s.get("image") == "hearth:lab"}
        self.assertEqual(list(builds), ["ingester-1"])
        self.assertEqual(builds["ingester-1"]["context"], lib.SOURCE_ROOT)
        self.assertEqual(builds["ingester-1"]["dockerfile"], "deploy/Dockerfile")
        self.assertEqual(self.services["demo-app"]["build"]["context"], os.path.join(COMPOSE_DIR, "demo"))

    def test_compose_ingesters(self):
        named = set(self.cfg["volumes"])
        for name in INGESTERS:
            s = self.services[name]
            f = hearth_flags(s)
            self.assertEqual(f["target"], "ingester")
            self.assertEqual(f["ring.instance-id"], name)
            self.assertEqual(f["ring.instance-addr"], name + ":9095")
            # The data directory is a named volume of its own.
            (vol,) = [v for v in volumes(s) if v["target"] == f["storage.path"]]
            self.assertEqual(vol["type"], "volume")
            self.assertEqual(vol["source"], name + "-data")
            self.assertIn(vol["source"], named)
            self.assertGreaterEqual(int(s["stop_grace_period"].rstrip("m")), 2)

    def test_compose_ring(self):
        want = ",".join("%s=%s:9095" % (n, n) for n in INGESTERS)
        for name in DISTRIBUTORS + ["querier"]:
            s = self.services[name]
            f = hearth_flags(s)
            self.assertEqual(f["target"], name.split("-")[0])
            self.assertEqual(f["ring.members"], want, name)
            self.assertEqual(f["ring.replication-factor"], "3", name)
            self.assertEqual(set(s["depends_on"]), set(INGESTERS))
            for dep in s["depends_on"].values():
                self.assertEqual(dep["condition"], "service_healthy")

    def test_compose_one_scraper(self):
        scrapers = []
        for name in HEARTH_SERVICES:
            f = hearth_flags(self.services[name])
            if "config.file" not in f:
                continue
            (mount,) = [v for v in volumes(self.services[name]) if v["target"] == f["config.file"]]
            self.assertTrue(os.path.isfile(mount["source"]), mount["source"])
            with open(mount["source"]) as fh:
                if yaml.safe_load(fh).get("scrape_configs"):
                    scrapers.append(name)
        self.assertEqual(scrapers, ["distributor-1"])
        jobs = load_yaml("hearth-scrape.yaml")["scrape_configs"]
        self.assertEqual([(j["job_name"], j["static_configs"][0]["targets"]) for j in jobs],
                         [("demo-app", ["demo-app:6060"])])
        self.assertEqual(self.services["demo-app"]["command"], ["demo-app", "-listen", ":6060"])

    def test_compose_bind_mounts_exist(self):
        n = 0
        for name, s in self.services.items():
            for v in volumes(s):
                if v["type"] == "bind":
                    n += 1
                    self.assertTrue(os.path.exists(v["source"]), "%s mounts missing %s" % (name, v["source"]))
                    self.assertTrue(v["source"].startswith(COMPOSE_DIR), v["source"])
                    self.assertIs(v.get("read_only"), True, "%s: %s" % (name, v["target"]))
        # hearth-scrape.yaml, nginx.conf, prometheus.yml, Grafana's
        # provisioning and dashboards.
        self.assertEqual(n, 5)

    def test_compose_prometheus_scrapes_every_hearth_process(self):
        prom = load_yaml("prometheus.yml")
        jobs = {j["job_name"]: j for j in prom["scrape_configs"]}
        groups = jobs["hearth"]["static_configs"]
        targets = {t: g["labels"] for g in groups for t in g["targets"]}
        self.assertEqual(set(targets), {n + ":4040" for n in HEARTH_SERVICES})
        for t, labels in targets.items():
            name = t.split(":")[0]
            self.assertEqual(labels, {"role": name.split("-")[0], "process": name})
        self.assertEqual(jobs["demo-app"]["static_configs"][0]["targets"], ["demo-app:6060"])
        mounts = {v["target"]: v["source"] for v in volumes(self.services["prometheus"])}
        self.assertEqual(mounts["/etc/prometheus/prometheus.yml"], os.path.join(COMPOSE_DIR, "prometheus.yml"))
        promtool = lib.which("promtool")
        if promtool:
            r = lib.run([promtool, "check", "config", os.path.join(COMPOSE_DIR, "prometheus.yml")])
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)

    def test_compose_nginx_routes(self):
        conf = nginx_conf()
        ups = dict(re.findall(r"upstream (\w+) \{(.*?)\}", conf, re.S))
        servers = lambda u: re.findall(r"server (\S+?)[ ;]", ups[u])  # noqa: E731
        self.assertEqual(servers("hearth_distributors"), [n + ":4040" for n in DISTRIBUTORS])
        self.assertEqual(servers("hearth_querier"), ["querier:4040"])
        routes = dict(re.findall(r"location ([=^~ ]*\S+) \{\s*proxy_pass http://([\w:.-]+);", conf))
        self.assertEqual(routes, {
            "= /ingest": "hearth_distributors", "= /pyroscope/ingest": "hearth_distributors",
            "/push.v1.PusherService/": "hearth_distributors", "= /targets": "distributor-1:4040",
            "/": "hearth_querier"})
        self.assertIn("listen 4040;", conf)
        self.assertIn("4040:4040", [p if isinstance(p, str) else "%s:%s" % (p["published"], p["target"])
                                    for p in self.services["nginx"]["ports"]])
        self.assertIn("client_max_body_size 0;", conf)
        mounts = {v["target"]: v["source"] for v in volumes(self.services["nginx"])}
        self.assertEqual(mounts["/etc/nginx/nginx.conf"], os.path.join(COMPOSE_DIR, "nginx.conf"))

    def test_compose_nginx_conf_accepted_by_nginx(self):
        nginx = lib.which("nginx")
        self.assertTrue(nginx, "nginx not found (scripts/install-deps.sh --test installs it)")
        with tempfile.TemporaryDirectory() as tmp:
            path = write_local_nginx_conf(tmp, lib.free_port(), lib.free_port())
            r = lib.run([nginx, "-t", "-p", tmp, "-c", path])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("test is successful", r.stderr)

    def test_compose_grafana(self):
        ds = load_yaml("grafana", "provisioning", "datasources", "datasources.yaml")["datasources"]
        by_uid = {d["uid"]: d for d in ds}
        self.assertEqual(by_uid["hearth"]["type"], "grafana-pyroscope-datasource")
        self.assertEqual(by_uid["hearth"]["url"], "http://nginx:4040")
        self.assertEqual(by_uid["prometheus"]["type"], "prometheus")
        self.assertEqual(by_uid["prometheus"]["url"], "http://prometheus:9090")
        mounts = {v["target"]: v["source"] for v in volumes(self.services["grafana"])}
        self.assertEqual(mounts["/etc/grafana/provisioning"], os.path.join(COMPOSE_DIR, "grafana", "provisioning"))
        (prov,) = load_yaml("grafana", "provisioning", "dashboards", "dashboards.yaml")["providers"]
        self.assertEqual(mounts[prov["options"]["path"]], os.path.join(COMPOSE_DIR, "grafana", "dashboards"))
        home = self.services["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        self.assertEqual(os.path.join(mounts[os.path.dirname(home)], os.path.basename(home)),
                         os.path.join(COMPOSE_DIR, "grafana", "dashboards", "hearth-lab.json"))
        dash = dashboard()
        used = set()
        for p in dash["panels"]:
            used.add(p["datasource"]["uid"])
            for t in p["targets"]:
                self.assertEqual(t["datasource"], p["datasource"])
                self.assertEqual(by_uid[t["datasource"]["uid"]]["type"], t["datasource"]["type"])
        self.assertEqual(used, {"hearth", "prometheus"})
        flames = [p for p in dash["panels"] if p["type"] == "flamegraph"]
        self.assertEqual({t["labelSelector"] for p in flames for t in p["targets"]},
                         {'{service_name="demo-app"}', '{service_name="demo-pusher"}'})
        self.assertEqual({t["profileTypeId"] for p in flames for t in p["targets"]}, {CPU})

    def test_compose_dashboard_links_flame_graph(self):
        panel, url = flame_link(dashboard())
        self.assertEqual(panel["datasource"]["uid"], "prometheus")
        self.assertIn('job="demo-app"', panel["targets"][0]["expr"])
        self.assertTrue(url.startswith("${hearth_url}/?"), url)
        q = urllib.parse.parse_qs(url.split("?", 1)[1])
        self.assertEqual(q, {"query": [CPU + '{service_name="demo-app"}'],
                             "from": ["${__from}"], "until": ["${__to}"]})
        var = {v["name"]: v for v in dashboard()["templating"]["list"]}["hearth_url"]
        self.assertEqual(var["query"], "http://localhost:4040")


def write_local_nginx_conf(tmp, front_port, upstream_port):
    """The lab's nginx.conf for Debian's nginx on loopback: container names
    to 127.0.0.1:upstream_port, the listen port to front_port, pid and
    temporary files under tmp."""
    conf = nginx_conf()
    for name in DISTRIBUTORS + ["querier"]:
        conf = conf.replace(name + ":4040", "127.0.0.1:%d" % upstream_port)
    conf = conf.replace("listen 4040;", "listen 127.0.0.1:%d;" % front_port)
    conf = conf.replace("pid /tmp/nginx.pid;", "pid %s/nginx.pid;" % tmp)
    conf = conf.replace("http {\n", "http {\n" + "".join(
        "\t%s_temp_path %s/%s;\n" % (k, tmp, k) for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")), 1)
    path = os.path.join(tmp, "nginx.conf")
    with open(path, "w") as f:
        f.write(conf)
    return path


def render(base, query, frm, until):
    qs = urllib.parse.urlencode({"query": query, "from": frm, "until": until})
    status, _, body = lib.http("GET", base + "/pyroscope/render?" + qs)
    return status, (json.loads(body) if status == 200 else body)


class TestLabSmoke(unittest.TestCase):
    """The lab's demo programs, scrape config and nginx.conf with a real hearth."""

    def test_lab_smoke(self):
        go = lib.which("go")
        nginx = lib.which("nginx")
        self.assertTrue(go, "go not found (golang-go, scripts/install-deps.sh --test)")
        self.assertTrue(nginx, "nginx not found (scripts/install-deps.sh --test)")
        with tempfile.TemporaryDirectory(prefix="hearth-lab-") as tmp:
            procs = lib.Procs(tmp)
            try:
                self.run_lab(tmp, procs, go, nginx)
            except BaseException:
                sys.stderr.write(procs.tails(25) + "\n")
                raise
            finally:
                procs.stop_all()

    def run_lab(self, tmp, procs, go, nginx):
        # The demo programs, offline, standard library only.
        env = dict(os.environ, GOPROXY="off", GOFLAGS="-mod=mod", CGO_ENABLED="0",
                   GOCACHE=os.path.join(lib.work_dir(), "gocache"), GOPATH=os.path.join(lib.work_dir(), "gopath"))
        bins = {}
        for prog in ("app", "pusher"):
            bins[prog] = os.path.join(tmp, "demo-" + prog)
            r = lib.run([go, "build", "-o", bins[prog], "./" + prog], cwd=os.path.join(COMPOSE_DIR, "demo"),
                        env=env, timeout=300)
            self.assertEqual(r.returncode, 0, "go build ./%s:\n%s%s" % (prog, r.stdout, r.stderr))

        app_port = lib.free_port()
        procs.start("demo-app", [bins["app"], "-listen", "127.0.0.1:%d" % app_port])

        # hearth with the lab's scrape config, the target moved to the
        # local demo-app and the interval shortened (CPU window 2 s).
        cfg = load_yaml("hearth-scrape.yaml")
        job = cfg["scrape_configs"][0]
        job["static_configs"][0]["targets"] = ["127.0.0.1:%d" % app_port]
        job["scrape_interval"] = "3s"
        cfg_path = os.path.join(tmp, "hearth.yaml")
        with open(cfg_path, "w") as f:
            yaml.safe_dump(cfg, f)
        port = lib.free_port()
        procs.start("hearth", [lib.hearth_bin(), "-config.file=" + cfg_path, "-server.http-listen-port=%d" % port,
                               "-server.http-listen-address=127.0.0.1", "-storage.path=" + os.path.join(tmp, "data")])
        lib.wait_ready("http://127.0.0.1:%d" % port)

        # nginx with the lab's configuration in front (every upstream is
        # the one hearth, which runs all roles).
        front_port = lib.free_port()
        conf = write_local_nginx_conf(tmp, front_port, port)
        procs.start("nginx", [nginx, "-p", tmp, "-c", conf, "-g", "daemon off;"])
        front = "http://127.0.0.1:%d" % front_port
        lib.wait_ready(front, timeout=20)

        # The push model through nginx: two 2-second CPU profiles.
        r = lib.run([bins["pusher"], "-url", front, "-interval", "2s", "-count", "2"], timeout=60)
        self.assertEqual(r.returncode, 0, "demo-pusher: " + r.stdout + r.stderr)
        self.assertEqual(r.stderr.count("demo-pusher: pushed "), 2, r.stderr)

        # The pull model: /targets (routed to the scraping distributor)
        # shows demo-app's CPU profile scraped.
        def cpu_target_up():
            status, _, body = lib.http("GET", front + "/targets?format=json")
            if status != 200:
                return None
            ts = [t for t in json.loads(body)["targets"] if t["profile"] == "process_cpu" and t["health"] == "up"]
            return ts[0] if ts else None
        t = lib.wait_for("demo-app's process_cpu target up", cpu_target_up, timeout=30)
        self.assertEqual(t["labels"]["service_name"], "demo-app")
        self.assertEqual(t["labels"]["env"], "lab")

        now = int(time.time())
        status, fb = render(front, CPU + '{service_name="demo-pusher"}', now - 600, now + 60)
        self.assertEqual(status, 200, fb)
        self.assertGreater(fb["flamebearer"]["numTicks"], 0)
        names = set(fb["flamebearer"]["names"])
        self.assertTrue(names & {"main.parseRecords", "main.checksumRecords", "main.work"}, sorted(names)[:40])

        # The dashboard's link with Grafana's variables filled in: the UI
        # page opens, and its query and range give demo-app's flame graph.
        _, url = flame_link(dashboard())
        frm_ms, to_ms = (now - 600) * 1000, (now + 60) * 1000
        url = url.replace("${hearth_url}", front).replace("${__from}", str(frm_ms)).replace("${__to}", str(to_ms))
        status, headers, body = lib.http("GET", url)
        self.assertEqual(status, 200)
        self.assertTrue(headers.get("Content-Type", "").startswith("text/html"), headers)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(urllib.parse.urlsplit(url).query).items()}

        def demo_app_flame():
            st, got = render(front, q["query"], q["from"], q["until"])
            return got if st == 200 and got["flamebearer"]["numTicks"] > 0 else None
        fb = lib.wait_for("demo-app's CPU flame graph", demo_app_flame, timeout=20)
        names = set(fb["flamebearer"]["names"])
        self.assertTrue(names & {"main.hashBlocks", "main.encodeOrders", "main.sortPrices", "main.worker"},
                        sorted(names)[:40])


if __name__ == "__main__":
    unittest.main(verbosity=2)
