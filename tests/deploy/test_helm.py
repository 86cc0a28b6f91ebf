#!/usr/bin/env python3
"""The Helm chart deploy/helm/hearth, rendered with ../shared/tools/chart-render.

No Kubernetes here, so the chart is checked in three ways:
  * the rendered objects, for the default values (all-in-one), for
    values-microservices.yaml and for variants (--set): kinds, names,
    replicas, PVCs, probes, ports against the rendered hearth config, the
    headless Service behind -ring.dns, security contexts, PDBs, HPAs,
    the scraper, ServiceMonitor and Ingress only when enabled, and that
    every Service, PDB and HPA points at an existing workload;
  * values.schema.json against values.yaml and values-microservices.yaml
    (valid) and against bad values (each rejected, naming the bad key);
  * the real hearth binary started with a rendered container's args and
    the rendered ConfigMaps (paths moved to a temporary directory): it must
    accept them, and /config must show what the chart meant.
NOTES.txt is rendered too (wrapped in a ConfigMap, since chart-render, like
`helm template`, renders only manifests).
"""

import copy
import json
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_lib as lib  # noqa: E402

lib.require_modules("yaml", "jsonschema")
import jsonschema  # noqa: E402
import yaml  # noqa: E402

MICRO = os.path.join(lib.CHART, "values-microservices.yaml")
WORKLOADS = ("StatefulSet", "Deployment")


def find(objs, kind, name=None):
    got = [o for _, o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]
    return got


def one(objs, kind, name):
    got = find(objs, kind, name)
    if len(got) != 1:
        raise AssertionError("want exactly one %s %s, got %d (have: %s)"
                             % (kind, name, len(got), sorted(kinds_names(objs))))
    return got[0]


def kinds_names(objs):
    return {(o["kind"], o["metadata"]["name"]) for _, o in objs}


def container(workload):
    cs = workload["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in cs] == ["hearth"], cs
    return cs[0]


def flags(c):
    """The container's hearth flags as {name: value}."""
    out = {}
    for a in c["args"]:
        assert a.startswith("-") and "=" in a, "arg %r is not -flag=value" % a
        k, v = a[1:].split("=", 1)
        assert k not in out, "flag -%s given twice" % k
        out[k] = v
    return out


def configmap_file(objs, path):
    """The content of a file the chart mounts from a ConfigMap, by its path
    inside the container (/etc/hearth/config/hearth.yaml)."""
    for w in [o for _, o in objs if o["kind"] in WORKLOADS]:
        c = container(w)
        vols = {v["name"]: v for v in w["spec"]["template"]["spec"]["volumes"]}
        for m in c["volumeMounts"]:
            if path.startswith(m["mountPath"].rstrip("/") + "/") and "configMap" in vols.get(m["name"], {}):
                key = path[len(m["mountPath"].rstrip("/")) + 1:]
                cm = one(objs, "ConfigMap", vols[m["name"]]["configMap"]["name"])
                if key not in cm["data"]:
                    raise AssertionError("ConfigMap %s has no key %s (mounted at %s)"
                                         % (cm["metadata"]["name"], key, m["mountPath"]))
                return cm["data"][key]
    raise AssertionError("no ConfigMap volume is mounted at a parent of " + path)


def hearth_config(objs, workload):
    return yaml.safe_load(configmap_file(objs, flags(container(workload))["config.file"]))


def matches(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def merge(dst, src):
    """Helm's merge of a values file over values.yaml."""
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v
    return dst


def write_values(tmp, name, values):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        yaml.safe_dump(values, f)
    return path


class ChartCase(unittest.TestCase):
    def check_workload(self, objs, w, want_rpc):
        """What every hearth workload must have."""
        name = w["metadata"]["name"]
        pod = w["spec"]["template"]["spec"]
        c = container(w)
        cfg = hearth_config(objs, w)
        http_port = cfg["server"]["http_listen_port"]
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        want = {"http": http_port}
        if want_rpc:
            want["rpc"] = cfg["ring"]["listen_port"]
        self.assertEqual(ports, want, name + ": container ports must be the config's ports")
        for probe, path in (("readinessProbe", "/ready"), ("livenessProbe", "/metrics")):
            self.assertEqual(c[probe]["httpGet"], {"path": path, "port": "http"}, name + " " + probe)
        # Non-root, no privilege, read-only root file system.
        psc, csc = pod["securityContext"], c["securityContext"]
        self.assertIs(psc["runAsNonRoot"], True, name)
        self.assertGreater(psc["runAsUser"], 0, name)
        self.assertGreater(psc["runAsGroup"], 0, name)
        self.assertEqual(psc["seccompProfile"], {"type": "RuntimeDefault"}, name)
        self.assertIs(csc["readOnlyRootFilesystem"], True, name)
        self.assertIs(csc["allowPrivilegeEscalation"], False, name)
        self.assertEqual(csc["capabilities"], {"drop": ["ALL"]}, name)
        self.assertIs(pod["automountServiceAccountToken"], False, name)
        # Everything hearth writes is a volume: /tmp, and the data directory
        # for the roles that store data.
        mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
        self.assertIn("/tmp", mounts, name)
        for m in c["volumeMounts"]:
            if m["mountPath"].startswith("/etc/hearth"):
                self.assertIs(m.get("readOnly"), True, name + " " + m["mountPath"])
                self.assertNotIn("subPath", m, name + ": a subPath mount is never refreshed")
        # The overrides file named in the config is mounted.
        self.assertEqual(cfg["runtime_config"]["file"], "/etc/hearth/overrides/overrides.yaml")
        self.assertIn("overrides:", configmap_file(objs, cfg["runtime_config"]["file"]))
        # Pod template labels satisfy the selector.
        self.assertTrue(matches(w["spec"]["selector"]["matchLabels"], w["spec"]["template"]["metadata"]["labels"]))
        self.assertEqual(c["env"][0], {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
        return cfg, c, mounts

    def check_references(self, objs):
        """Every Service, PDB, HPA and Ingress backend points at something real."""
        pods = [(w["metadata"]["name"], w["spec"]["template"]["metadata"]["labels"])
                for _, w in objs if w["kind"] in WORKLOADS]
        services = {o["metadata"]["name"]: o for _, o in objs if o["kind"] == "Service"}
        for s in services.values():
            hit = [n for n, labels in pods if matches(s["spec"]["selector"], labels)]
            self.assertEqual(len(hit), 1, "Service %s selects %s" % (s["metadata"]["name"], hit))
            w = next(o for _, o in objs if o["kind"] in WORKLOADS and o["metadata"]["name"] == hit[0])
            names = {p["name"] for p in container(w)["ports"]}
            for p in s["spec"]["ports"]:
                self.assertIn(p["targetPort"], names, "Service %s port %s" % (s["metadata"]["name"], p["name"]))
        for pdb in find(objs, "PodDisruptionBudget"):
            hit = [n for n, labels in pods if matches(pdb["spec"]["selector"]["matchLabels"], labels)]
            self.assertEqual(len(hit), 1, "PDB %s selects %s" % (pdb["metadata"]["name"], hit))
        for hpa in find(objs, "HorizontalPodAutoscaler"):
            ref = hpa["spec"]["scaleTargetRef"]
            d = one(objs, ref["kind"], ref["name"])
            self.assertNotIn("replicas", d["spec"], "an autoscaled Deployment must leave replicas to the HPA")
        for ing in find(objs, "Ingress"):
            for rule in ing["spec"]["rules"]:
                for p in rule["http"]["paths"]:
                    self.assertIn(p["backend"]["service"]["name"], services)


class TestAllInOne(ChartCase):
    @classmethod
    def setUpClass(cls):
        cls.objs = lib.chart_render()

    def test_allinone_objects(self):
        self.assertEqual(kinds_names(self.objs), {
            ("StatefulSet", "hearth"), ("Service", "hearth"), ("Service", "hearth-headless"),
            ("ConfigMap", "hearth-config"), ("ConfigMap", "hearth-overrides"), ("ServiceAccount", "hearth")})
        self.check_references(self.objs)

    def test_allinone_statefulset(self):
        sts = one(self.objs, "StatefulSet", "hearth")
        self.assertEqual(sts["spec"]["replicas"], 1)
        self.assertEqual(sts["spec"]["serviceName"], "hearth-headless")
        cfg, c, mounts = self.check_workload(self.objs, sts, want_rpc=False)
        f = flags(c)
        self.assertEqual(f["target"], "all")
        self.assertNotIn("ring.dns", f)
        self.assertEqual(cfg["scrape_configs"], [])
        # The data volume is the PVC, mounted where the config stores data.
        (pvc,) = sts["spec"]["volumeClaimTemplates"]
        self.assertEqual(pvc["metadata"]["name"], "data")
        self.assertEqual(pvc["spec"]["accessModes"], ["ReadWriteOnce"])
        self.assertEqual(pvc["spec"]["resources"]["requests"]["storage"], "10Gi")
        self.assertEqual(mounts[cfg["storage"]["path"]]["name"], "data")
        self.assertEqual(cfg["storage"]["path"], "/var/lib/hearth")
        self.assertGreaterEqual(sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"], 120)

    def test_allinone_services(self):
        svc = one(self.objs, "Service", "hearth")
        self.assertEqual(svc["spec"]["type"], "ClusterIP")
        self.assertEqual(svc["spec"]["ports"], [{"name": "http", "port": 4040, "targetPort": "http", "protocol": "TCP"}])
        headless = one(self.objs, "Service", "hearth-headless")
        self.assertEqual(headless["spec"]["clusterIP"], "None")

    def test_allinone_without_persistence(self):
        objs = lib.chart_render(sets=["allInOne.persistence.enabled=false"])
        sts = one(objs, "StatefulSet", "hearth")
        self.assertNotIn("volumeClaimTemplates", sts["spec"])
        vols = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        self.assertEqual(vols["data"], {"name": "data", "emptyDir": {}})

    def test_allinone_ports_follow_config(self):
        objs = lib.chart_render(sets=["config.server.http_listen_port=8080", "config.storage.path=/data/hearth"])
        sts = one(objs, "StatefulSet", "hearth")
        cfg, c, mounts = self.check_workload(objs, sts, want_rpc=False)
        self.assertEqual(c["ports"][0]["containerPort"], 8080)
        self.assertEqual(one(objs, "Service", "hearth")["spec"]["ports"][0]["port"], 8080)
        self.assertEqual(mounts["/data/hearth"]["name"], "data")

    def test_allinone_release_name(self):
        objs = lib.chart_render(release="prof", namespace="obs")
        self.assertIn(("StatefulSet", "prof-hearth"), kinds_names(objs))
        self.check_references(objs)

    def test_allinone_runs_in_real_hearth(self):
        run_rendered(self, self.objs, "StatefulSet", "hearth", expect_ready=True,
                     expect_config={"target": "all"})


class TestMicroservices(ChartCase):
    @classmethod
    def setUpClass(cls):
        cls.objs = lib.chart_render(values_files=[MICRO])

    def test_micro_objects(self):
        self.assertEqual(kinds_names(self.objs), {
            ("StatefulSet", "hearth-ingester"), ("Service", "hearth-ingester"),
            ("Deployment", "hearth-distributor"), ("Service", "hearth-distributor"),
            ("HorizontalPodAutoscaler", "hearth-distributor"),
            ("Deployment", "hearth-querier"), ("Service", "hearth-querier"),
            ("PodDisruptionBudget", "hearth-ingester"), ("PodDisruptionBudget", "hearth-distributor"),
            ("PodDisruptionBudget", "hearth-querier"),
            ("ConfigMap", "hearth-config"), ("ConfigMap", "hearth-overrides"), ("ServiceAccount", "hearth")})
        self.check_references(self.objs)

    def test_micro_ingesters(self):
        sts = one(self.objs, "StatefulSet", "hearth-ingester")
        spec = sts["spec"]
        self.assertEqual(spec["replicas"], 3)
        self.assertEqual(spec["podManagementPolicy"], "Parallel")
        self.assertEqual(spec["serviceName"], "hearth-ingester")
        self.assertGreaterEqual(spec["template"]["spec"]["terminationGracePeriodSeconds"], 120)
        cfg, c, mounts = self.check_workload(self.objs, sts, want_rpc=True)
        self.assertEqual(cfg["ring"]["replication_factor"], 3)
        (pvc,) = spec["volumeClaimTemplates"]
        self.assertEqual(pvc["metadata"]["name"], "data")
        self.assertEqual(pvc["spec"]["resources"]["requests"]["storage"], "50Gi")
        self.assertEqual(mounts[cfg["storage"]["path"]]["name"], "data")
        f = flags(c)
        self.assertEqual(f["target"], "ingester")
        # Member id = pod name = the first label of its SRV target.
        self.assertEqual(f["ring.instance-id"], "$(POD_NAME)")
        self.assertEqual(f["ring.instance-addr"], "$(POD_NAME).hearth-ingester.default.svc.cluster.local:9095")
        anti = spec["template"]["spec"]["affinity"]["podAntiAffinity"]
        term = anti["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
        self.assertTrue(matches(term["labelSelector"]["matchLabels"], spec["template"]["metadata"]["labels"]))

    def test_micro_headless_service_is_the_ring(self):
        sts = one(self.objs, "StatefulSet", "hearth-ingester")
        cfg = hearth_config(self.objs, sts)
        svc = one(self.objs, "Service", "hearth-ingester")
        self.assertEqual(svc["spec"]["clusterIP"], "None")
        self.assertIs(svc["spec"]["publishNotReadyAddresses"], True)
        self.assertTrue(matches(svc["spec"]["selector"], sts["spec"]["template"]["metadata"]["labels"]))
        rpc = [p for p in svc["spec"]["ports"] if p["name"] == "rpc"]
        self.assertEqual(rpc, [{"name": "rpc", "port": cfg["ring"]["listen_port"], "targetPort": "rpc", "protocol": "TCP"}])
        want = "dnssrv+_rpc._tcp.hearth-ingester.default.svc.cluster.local"
        for name in ("hearth-distributor", "hearth-querier"):
            d = one(self.objs, "Deployment", name)
            f = flags(container(d))
            self.assertEqual(f["ring.dns"], want, name)
            self.assertEqual(f["target"], name.split("-")[1])
            self.assertNotIn("ring.members", f)
        # Every component reads the same hearth.yaml: RF, shard size and
        # tokens cannot disagree.
        files = {flags(container(w))["config.file"] for _, w in self.objs if w["kind"] in WORKLOADS}
        self.assertEqual(files, {"/etc/hearth/config/hearth.yaml"})

    def test_micro_namespace_and_domain(self):
        objs = lib.chart_render(values_files=[MICRO], namespace="profiling", sets=["clusterDomain=k8s.example"])
        f = flags(container(one(objs, "Deployment", "hearth-querier")))
        self.assertEqual(f["ring.dns"], "dnssrv+_rpc._tcp.hearth-ingester.profiling.svc.k8s.example")
        f = flags(container(one(objs, "StatefulSet", "hearth-ingester")))
        self.assertEqual(f["ring.instance-addr"], "$(POD_NAME).hearth-ingester.profiling.svc.k8s.example:9095")

    def test_micro_stateless_workloads(self):
        d = one(self.objs, "Deployment", "hearth-distributor")
        q = one(self.objs, "Deployment", "hearth-querier")
        for w in (d, q):
            cfg, c, mounts = self.check_workload(self.objs, w, want_rpc=False)
            self.assertNotIn(cfg["storage"]["path"], mounts, "stateless roles get no data volume")
            self.assertEqual(w["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0)
        self.assertNotIn("replicas", d["spec"])
        self.assertEqual(q["spec"]["replicas"], 2)
        hpa = one(self.objs, "HorizontalPodAutoscaler", "hearth-distributor")
        self.assertEqual(hpa["apiVersion"], "autoscaling/v2")
        self.assertEqual((hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]), (2, 10))
        self.assertEqual(hpa["spec"]["metrics"], [{"type": "Resource", "resource": {
            "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 70}}}])

    def test_micro_hpa_options(self):
        objs = lib.chart_render(values_files=[MICRO], sets=[
            "querier.autoscaling.enabled=true", "querier.autoscaling.maxReplicas=4",
            "querier.autoscaling.targetMemoryUtilizationPercentage=80", "distributor.autoscaling.enabled=false"])
        self.assertEqual(find(objs, "HorizontalPodAutoscaler", "hearth-distributor"), [])
        self.assertEqual(one(objs, "Deployment", "hearth-distributor")["spec"]["replicas"], 2)
        hpa = one(objs, "HorizontalPodAutoscaler", "hearth-querier")
        self.assertEqual(hpa["spec"]["maxReplicas"], 4)
        self.assertEqual([m["resource"]["name"] for m in hpa["spec"]["metrics"]], ["cpu", "memory"])
        self.check_references(objs)

    def test_micro_pdbs(self):
        for name in ("hearth-ingester", "hearth-distributor", "hearth-querier"):
            pdb = one(self.objs, "PodDisruptionBudget", name)
            self.assertEqual(pdb["apiVersion"], "policy/v1")
            self.assertEqual(pdb["spec"]["maxUnavailable"], 1)
        objs = lib.chart_render(values_files=[MICRO], sets=["querier.podDisruptionBudget.enabled=false"])
        self.assertEqual(find(objs, "PodDisruptionBudget", "hearth-querier"), [])
        self.assertEqual(len(find(objs, "PodDisruptionBudget")), 2)

    def test_micro_scraper_only_with_scrape_configs(self):
        self.assertEqual([o for _, o in self.objs if "scraper" in o["metadata"]["name"]], [])
        with tempfile.TemporaryDirectory() as tmp:
            extra = write_values(tmp, "scrape.yaml", {"scrapeConfigs": [
                {"job_name": "checkout", "static_configs": [{"targets": ["checkout:6060"]}]}]})
            objs = lib.chart_render(values_files=[MICRO, extra])
        s = one(objs, "Deployment", "hearth-scraper")
        self.assertEqual(s["spec"]["replicas"], 1)
        self.assertEqual(s["spec"]["strategy"], {"type": "Recreate"})
        cfg, c, _ = self.check_workload(objs, s, want_rpc=False)
        self.assertEqual(flags(c)["target"], "distributor")
        self.assertEqual(flags(c)["ring.dns"], "dnssrv+_rpc._tcp.hearth-ingester.default.svc.cluster.local")
        self.assertEqual([j["job_name"] for j in cfg["scrape_configs"]], ["checkout"])
        # The client-facing distributors do not scrape.
        dcfg = hearth_config(objs, one(objs, "Deployment", "hearth-distributor"))
        self.assertNotIn("scrape_configs", dcfg)
        self.assertEqual(dcfg["ring"], cfg["ring"])
        self.check_references(objs)

    def test_micro_runs_in_real_hearth(self):
        run_rendered(self, self.objs, "StatefulSet", "hearth-ingester", expect_ready=True,
                     expect_config={"target": "ingester", "ring": {"instance_id": "hearth-ingester-0"}})
        # No SRV records here: the distributor starts, is alive, and is not
        # ready (it sees no ingester), which is what the probes expect.
        run_rendered(self, self.objs, "Deployment", "hearth-distributor", expect_ready=False,
                     expect_config={"target": "distributor", "ring": {
                         "dns": "dnssrv+_rpc._tcp.hearth-ingester.default.svc.cluster.local"}})


class TestOptionalObjects(ChartCase):
    def test_servicemonitor_when_enabled(self):
        for files in ([], [MICRO]):
            self.assertEqual(find(lib.chart_render(values_files=files), "ServiceMonitor"), [])
            objs = lib.chart_render(values_files=files, sets=["serviceMonitor.enabled=true",
                                                              "serviceMonitor.labels.release=kube-prometheus"])
            sm = one(objs, "ServiceMonitor", "hearth")
            self.assertEqual(sm["apiVersion"], "monitoring.coreos.com/v1")
            self.assertEqual(sm["metadata"]["labels"]["release"], "kube-prometheus")
            self.assertEqual(sm["spec"]["endpoints"][0]["port"], "http")
            self.assertEqual(sm["spec"]["endpoints"][0]["path"], "/metrics")
            # Every workload's pods are scraped through exactly one Service.
            picked = [s for s in find(objs, "Service") if matches(sm["spec"]["selector"]["matchLabels"], s["metadata"]["labels"])]
            for _, w in objs:
                if w["kind"] not in WORKLOADS:
                    continue
                via = [s["metadata"]["name"] for s in picked
                       if matches(s["spec"]["selector"], w["spec"]["template"]["metadata"]["labels"])]
                self.assertEqual(len(via), 1, "%s scraped through %s" % (w["metadata"]["name"], via))
                self.assertIn("http", [p["name"] for p in one(objs, "Service", via[0])["spec"]["ports"]])

    def test_ingress_when_enabled(self):
        self.assertEqual(find(lib.chart_render(values_files=[MICRO]), "Ingress"), [])
        objs = lib.chart_render(values_files=[MICRO], sets=["ingress.enabled=true", "ingress.className=nginx"])
        ing = one(objs, "Ingress", "hearth")
        self.assertEqual(ing["spec"]["ingressClassName"], "nginx")
        (rule,) = ing["spec"]["rules"]
        self.assertEqual(rule["host"], "hearth.example.com")
        routes = {p["path"]: (p["pathType"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
                  for p in rule["http"]["paths"]}
        self.assertEqual(routes, {
            "/ingest": ("Exact", "hearth-distributor", 4040),
            "/pyroscope/ingest": ("Exact", "hearth-distributor", 4040),
            "/push.v1.PusherService": ("Prefix", "hearth-distributor", 4040),
            "/targets": ("Exact", "hearth-distributor", 4040),
            "/": ("Prefix", "hearth-querier", 4040)})
        self.check_references(objs)
        objs = lib.chart_render(sets=["ingress.enabled=true"])
        paths = one(objs, "Ingress", "hearth")["spec"]["rules"][0]["http"]["paths"]
        self.assertEqual({p["backend"]["service"]["name"] for p in paths}, {"hearth"})

    def test_overrides_configmap_is_loaded(self):
        with tempfile.TemporaryDirectory() as tmp:
            extra = write_values(tmp, "ov.yaml", {"overrides": {
                "team-a": {"ingestion_rate_mb": 16, "max_query_length": "7d"},
                "team-b": {"max_global_series_per_tenant": 100000}}})
            objs = lib.chart_render(values_files=[extra])
        sts = one(objs, "StatefulSet", "hearth")
        cfg = hearth_config(objs, sts)
        ov = yaml.safe_load(configmap_file(objs, cfg["runtime_config"]["file"]))
        self.assertEqual(ov, {"overrides": {"team-a": {"ingestion_rate_mb": 16, "max_query_length": "7d"},
                                            "team-b": {"max_global_series_per_tenant": 100000}}})
        # The overrides are reloaded live: they are not in the checksum that
        # restarts pods, hearth.yaml is.
        base = one(lib.chart_render(), "StatefulSet", "hearth")
        ann = lambda w: w["spec"]["template"]["metadata"]["annotations"]["checksum/config"]  # noqa: E731
        self.assertEqual(ann(sts), ann(base))
        changed = one(lib.chart_render(sets=["config.limits.ingestion_rate_mb=8"]), "StatefulSet", "hearth")
        self.assertNotEqual(ann(changed), ann(base))
        run_rendered(self, objs, "StatefulSet", "hearth", expect_ready=True, expect_config={},
                     expect_metric='hearth_overrides_tenants 2')

    def test_extra_args_and_image(self):
        # Lists come from a values file (chart-render's --set has no list syntax).
        with tempfile.TemporaryDirectory() as tmp:
            extra = write_values(tmp, "x.yaml", {"extraArgs": ["-log.level=debug"],
                                                 "ingester": {"extraArgs": ["-ingester.block-duration=5m"]}})
            objs = lib.chart_render(values_files=[MICRO, extra], sets=["image.repository=registry.example/hearth",
                                                                       "image.tag=1.2.3"])
        ing = container(one(objs, "StatefulSet", "hearth-ingester"))
        self.assertEqual(ing["image"], "registry.example/hearth:1.2.3")
        self.assertEqual(flags(ing)["ingester.block-duration"], "5m")
        self.assertEqual(flags(ing)["log.level"], "debug")
        q = container(one(objs, "Deployment", "hearth-querier"))
        self.assertNotIn("ingester.block-duration", flags(q))
        self.assertEqual(flags(q)["log.level"], "debug")


class TestSchema(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(lib.CHART, "values.schema.json")) as f:
            cls.schema = json.load(f)
        jsonschema.Draft7Validator.check_schema(cls.schema)
        cls.validator = jsonschema.Draft7Validator(cls.schema)
        with open(os.path.join(lib.CHART, "values.yaml")) as f:
            cls.defaults = yaml.safe_load(f)
        with open(MICRO) as f:
            cls.micro = merge(copy.deepcopy(cls.defaults), yaml.safe_load(f))

    def errors(self, values):
        return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path), e.message)
                for e in self.validator.iter_errors(values)]

    def test_schema_accepts_shipped_values(self):
        self.assertEqual(self.errors(self.defaults), [])
        self.assertEqual(self.errors(self.micro), [])

    def test_schema_rejects_bad_values(self):
        cases = [
            (("ingester", "replicas"), "three", "ingester/replicas: 'three' is not of type 'integer'"),
            (("mode",), "cluster", "mode: 'cluster' is not one of ['all-in-one', 'microservices']"),
            (("allInOne", "replicas"), 2, "allInOne/replicas: 2 is greater than the maximum of 1"),
            (("config", "ring", "listen_port"), 70000, "config/ring/listen_port: 70000 is greater than the maximum of 65535"),
            (("serviceMonitor", "enabled"), "yes", "serviceMonitor/enabled: 'yes' is not of type 'boolean'"),
            (("runtimeConfig", "reloadPeriod"), "10 seconds", "runtimeConfig/reloadPeriod: '10 seconds' does not match"),
            (("distributor", "autoscaling", "targetCPUUtilizationPercentage"), 150,
             "distributor/autoscaling/targetCPUUtilizationPercentage: 150 is greater than the maximum of 100"),
            (("ingester", "podManagementPolicy"), "parallel", "ingester/podManagementPolicy: 'parallel' is not one of"),
        ]
        for path, value, want in cases:
            v = copy.deepcopy(self.micro)
            node = v
            for k in path[:-1]:
                node = node[k]
            node[path[-1]] = value
            errs = self.errors(v)
            self.assertEqual(len(errs), 1, errs)
            self.assertTrue(errs[0].startswith(want), "%r does not start with %r" % (errs[0], want))

    def test_schema_rejects_unknown_and_chart_owned_keys(self):
        v = copy.deepcopy(self.defaults)
        v["replica"] = 3                    # a typo of a top-level key
        v["ingester"]["replica"] = 3        # and of a component key
        v["config"]["scrape_configs"] = []  # belongs in scrapeConfigs
        errs = self.errors(v)
        self.assertEqual(len(errs), 3, errs)
        self.assertTrue(any("'replica' was unexpected" in e and e.startswith(": ") for e in errs), errs)
        self.assertTrue(any(e.startswith("ingester: ") and "'replica' was unexpected" in e for e in errs), errs)
        self.assertTrue(any(e.startswith("config/scrape_configs: ") for e in errs), errs)


class TestNotes(unittest.TestCase):
    """NOTES.txt rendered through a throwaway chart that wraps it in a ConfigMap."""

    def render_notes(self, values_files=(), sets=()):
        with tempfile.TemporaryDirectory() as tmp:
            chart = os.path.join(tmp, "hearth")
            shutil.copytree(lib.CHART, chart)
            tdir = os.path.join(chart, "templates")
            with open(os.path.join(tdir, "NOTES.txt")) as f:
                notes = f.read()
            for name in os.listdir(tdir):
                if not name.startswith("_"):
                    os.unlink(os.path.join(tdir, name))
            with open(os.path.join(tdir, "_notes.tpl"), "w") as f:
                f.write('{{- define "test.notes" -}}\n' + notes + "\n{{- end -}}\n")
            with open(os.path.join(tdir, "notes.yaml"), "w") as f:
                f.write('apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n'
                        '  notes: {{ include "test.notes" . | toJson }}\n')
            (_, cm), = lib.chart_render(chart=chart, values_files=values_files, sets=sets, namespace="obs")
            return cm["data"]["notes"]

    def test_notes_allinone(self):
        n = self.render_notes()
        self.assertIn("all-in-one", n)
        self.assertIn("http://hearth.obs.svc.cluster.local:4040", n)
        self.assertIn("kubectl -n obs port-forward svc/hearth 4040:4040", n)
        self.assertNotIn("<no value>", n)

    def test_notes_microservices(self):
        n = self.render_notes(values_files=[MICRO], sets=["ingress.enabled=true"])
        self.assertIn("3 ingesters (StatefulSet hearth-ingester), replication factor 3", n)
        self.assertIn("http://hearth-distributor.obs.svc.cluster.local:4040", n)
        self.assertIn("http://hearth-querier.obs.svc.cluster.local:4040", n)
        self.assertIn("-ring.dns=dnssrv+_rpc._tcp.hearth-ingester.obs.svc.cluster.local", n)
        self.assertIn("Ingress: http://hearth.example.com/", n)
        self.assertNotIn("<no value>", n)


def run_rendered(tc, objs, kind, name, expect_ready, expect_config, expect_metric=None):
    """Starts the real hearth with a rendered workload's args and ConfigMaps.

    The container paths are moved under a temporary directory and the ports
    to free ones (in the config file, so the args stay exactly as rendered
    except for $(POD_NAME), which Kubernetes would expand); /config must
    then show expect_config (a subset)."""
    w = one(objs, kind, name)
    c = container(w)
    args = list(c["args"])
    cfg_path = flags(c)["config.file"]
    cfg = yaml.safe_load(configmap_file(objs, cfg_path))
    with tempfile.TemporaryDirectory(prefix="hearth-helm-") as tmp:
        procs = lib.Procs(tmp)
        ov_path = os.path.join(tmp, "overrides.yaml")
        with open(ov_path, "w") as f:
            f.write(configmap_file(objs, cfg["runtime_config"]["file"]))
        port = lib.free_port()
        cfg["server"]["http_listen_port"] = port
        cfg["ring"]["listen_port"] = lib.free_port()
        cfg["ring"]["listen_address"] = "127.0.0.1"
        cfg["storage"]["path"] = os.path.join(tmp, "data")
        cfg["runtime_config"]["file"] = ov_path
        local_cfg = os.path.join(tmp, "hearth.yaml")
        with open(local_cfg, "w") as f:
            yaml.safe_dump(cfg, f)
        pod = name + "-0" if kind == "StatefulSet" else name + "-5d9c7-abcde"
        args = [a.replace("$(POD_NAME)", pod) for a in args]
        args = ["-config.file=" + local_cfg if a.startswith("-config.file=") else a for a in args]
        p = procs.start("hearth", [lib.hearth_bin()] + args)
        base = "http://127.0.0.1:%d" % port
        try:
            lib.wait_for("%s /metrics" % name, lambda: p.poll() is not None or lib.http("GET", base + "/metrics")[0] == 200,
                         float(os.environ.get("HEARTH_START_TIMEOUT", "60")))
            tc.assertIsNone(p.poll(), "hearth exited with the rendered args of %s %s" % (kind, name))
            if expect_ready:
                lib.wait_ready(base)
            else:
                tc.assertEqual(lib.http("GET", base + "/ready")[0], 503)
            status, _, body = lib.http("GET", base + "/config")
            tc.assertEqual(status, 200)
            shown = yaml.safe_load(body)

            def subset(want, got, path):
                for k, v in want.items():
                    if isinstance(v, dict):
                        subset(v, got[k], path + k + ".")
                    else:
                        tc.assertEqual(got[k], v, "/config " + path + k)
            subset(expect_config, shown, "")
            tc.assertEqual(shown["runtime_config"]["file"], ov_path)
            metrics = lib.http("GET", base + "/metrics")[2].decode()
            tc.assertIn('hearth_runtime_file_last_reload_successful{what="overrides"} 1', metrics)
            if expect_metric:
                tc.assertIn(expect_metric, metrics)
            procs.stop(p)
            tc.assertEqual(p.returncode, 0, "hearth did not stop cleanly on SIGTERM")
        except BaseException:
            sys.stderr.write(procs.tails(30) + "\n")
            raise
        finally:
            procs.stop_all()


if __name__ == "__main__":
    unittest.main(verbosity=2)
