#!/usr/bin/env python3
"""yamllint on every YAML file of the repository and on the Helm chart's
rendered manifests, with the repository's .yamllint (strict: warnings fail
too). The chart's templates are Go templates, not YAML, so .yamllint skips
them and this test lints what they render to instead: the default values,
values-microservices.yaml, and every optional object switched on. The JSON
files of deploy/ (the Grafana dashboard, the values schema) must parse.
"""

import json
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import deploy_lib as lib  # noqa: E402

CONFIG = os.path.join(lib.SOURCE_ROOT, ".yamllint")
MICRO = os.path.join(lib.CHART, "values-microservices.yaml")


def yamllint(*args, stdin=None):
    exe = lib.which("yamllint")
    if not exe:
        raise AssertionError("yamllint not found (scripts/install-deps.sh --test installs it)")
    return lib.run([exe, "-c", CONFIG, "-s", "-f", "parsable"] + list(args), input=stdin, cwd=lib.SOURCE_ROOT)


class TestLint(unittest.TestCase):
    def test_yamllint_repository(self):
        r = yamllint(".")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        files = yamllint("--list-files", ".").stdout.split()
        # The deploy files are among them (the ignore list did not swallow them).
        for path in ("deploy/docker-compose.yml", "deploy/compose/prometheus.yml", "deploy/helm/hearth/values.yaml",
                     "deploy/helm/hearth/values-microservices.yaml", "deploy/helm/hearth/Chart.yaml"):
            self.assertIn("./" + path, files)
        self.assertFalse([f for f in files if "/templates/" in f or "tests/fuzz/corpus" in f], files)

    def test_yamllint_catches_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "bad.yaml")
            with open(path, "w") as f:
                f.write("a:  1\nb: [x,y]\n")
            r = yamllint(path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("too many spaces after colon (colons)", r.stdout)
        self.assertIn("too few spaces after comma (commas)", r.stdout)

    def test_yamllint_rendered_chart(self):
        with tempfile.TemporaryDirectory() as tmp:
            scrape = os.path.join(tmp, "scrape.yaml")
            with open(scrape, "w") as f:
                f.write("scrapeConfigs:\n  - job_name: app\n    static_configs:\n      - targets: [\"app:6060\"]\n"
                        "overrides:\n  team-a:\n    ingestion_rate_mb: 8\n")
            everything = ["ingress.enabled=true", "serviceMonitor.enabled=true", "querier.autoscaling.enabled=true",
                          "querier.autoscaling.targetMemoryUtilizationPercentage=80"]
            for files, sets in (([], []), ([MICRO], []), ([scrape], everything), ([MICRO, scrape], everything)):
                text = lib.chart_render_text(values_files=files, sets=sets)
                r = yamllint("-", stdin=text)
                self.assertEqual(r.returncode, 0, "values %s %s:\n%s" % (files, sets, r.stdout))

    def test_deploy_json_parses(self):
        n = 0
        for root, _, names in os.walk(lib.DEPLOY):
            for name in names:
                if name.endswith(".json"):
                    with open(os.path.join(root, name)) as f:
                        json.load(f)
                    n += 1
        self.assertGreaterEqual(n, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
