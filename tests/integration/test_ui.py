#!/usr/bin/env python3
"""The web UI (querier/querier_ui.h, docs/ui.md) served by a real hearth.

  * `/` is index.html: 200, text/html, a strong ETag, Cache-Control no-cache,
    and 304 when If-None-Match repeats the ETag;
  * every asset the page references (link/script, and the JS modules'
    imports, followed transitively) is served under /ui/ with 200, its
    content type and a non-empty body; an unknown file is a JSON 404;
  * nothing references a remote URL (the UI works offline: no CDN);
  * the API answers the UI builds on have the shapes app.js reads
    (label-values for the pickers, label-names, render, render-diff).
The browser tests (Chromium + playwright-core) are test_ui_browser.py.
"""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

H = None
RUN = L.unique("ui")
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def setUpModule():
    global H
    H = L.HearthProcess(name="hearth").start()
    L.HearthTestCase.hearth = H


def tearDownModule():
    if H is not None:
        try:
            H.stop_checked()
        finally:
            H.cleanup()


def references(path, text):
    """Local URLs a page or module refers to, as absolute paths."""
    if path.endswith(".html"):
        refs = re.findall(r'(?:src|href)="([^"]+)"', text)
    else:
        refs = re.findall(r"""(?m)^import\b[^'"]*['"]([^'"]+)['"]""", text)
    out = []
    for r in refs:
        if r.startswith("/"):
            out.append(r)
        elif r.startswith("./"):
            out.append(path.rsplit("/", 1)[0] + "/" + r[2:])
        else:
            out.append(r)  # anything else is checked (and refused) by the caller
    return out


class UiTest(L.HearthTestCase):

    def test_ui_root_is_index_html(self):
        r = H.get("/")
        self.assertEqual(r.status, 200, r.text()[:500])
        self.assertEqual(r.header("Content-Type"), "text/html; charset=utf-8")
        self.assertIn('<script type="module" src="/ui/app.js">', r.text())
        etag = r.header("ETag")
        self.assertRegex(etag or "", r'^"[0-9a-f]{16}"$')
        self.assertEqual(r.header("Cache-Control"), "no-cache")
        again = H.get("/", headers={"If-None-Match": etag})
        self.assertEqual(again.status, 304)
        self.assertEqual(again.body, b"")
        self.assertEqual(H.get("/ui/index.html").body, r.body)

    def test_ui_every_asset_is_served_and_local(self):
        seen, todo = set(), ["/ui/index.html"]
        while todo:
            path = todo.pop()
            if path in seen:
                continue
            seen.add(path)
            self.assertTrue(path.startswith("/ui/"), "reference outside /ui/: %s" % path)
            r = H.get(path)
            self.assertEqual(r.status, 200, "%s: %s" % (path, r.text()[:300]))
            ext = os.path.splitext(path)[1]
            self.assertEqual(r.header("Content-Type"), TYPES[ext], path)
            self.assertGreater(len(r.body), 100, path)
            self.assertEqual(r.header("X-Content-Type-Options"), "nosniff", path)
            self.assertRegex(r.header("ETag") or "", r'^"[0-9a-f]{16}"$', path)
            text = r.text()
            # An SVG's xmlns names a namespace; nothing is fetched from it.
            self.assertIsNone(re.search(r"https?://", text.replace(
                'xmlns="http://www.w3.org/2000/svg"', "")),
                              "%s refers to a remote URL (the UI must work offline)" % path)
            todo += references(path, text)
        for must in ("/ui/app.js", "/ui/app.css", "/ui/decode.js", "/ui/flame.js",
                     "/ui/timeline.js", "/ui/table.js", "/ui/format.js", "/ui/tree.js",
                     "/ui/pprof.js", "/ui/api.js", "/ui/query.js", "/ui/labels.js",
                     "/ui/autocomplete.js", "/ui/favicon.svg"):
            self.assertIn(must, seen)

    def test_ui_unknown_file_is_404(self):
        r = H.get("/ui/nope.js")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.json()["code"], "not_found")
        self.assertIn("/ui/nope.js", r.json()["message"])
        self.assertEqual(H.get("/ui/").status, 404)

    def test_ui_api_shapes(self):
        # Folded text two minutes ago (a pprof file keeps its own, old,
        # timestamp; and a point carries its bucket's right edge, which
        # must fall before "now" to be on the timeline).
        name = "shop-%s.cpu" % RUN
        svc, ptype, scale = L.tree_profile_type(name)
        self.assertEqual(ptype, CPU)
        now = L.now_s()
        H.ingest([("name", name), ("from", str(now - 130)), ("until", str(now - 120))],
                 b"main;work;compute 60\nmain;work 20\nmain;idle 10\ngc 10\n")
        types = H.get_json("/pyroscope/label-values",
                           {"label": "__name__", "from": "now-1h", "until": "now"})
        self.assertIn(CPU, types)
        services = H.get_json("/pyroscope/label-values", {
            "label": "service_name", "from": "now-1h", "until": "now", "query": CPU + "{}"})
        self.assertIn(svc, services)
        names = H.get_json("/pyroscope/label-names", {"from": "now-1h", "until": "now"})
        self.assertIn("service_name", names)
        q = '%s{service_name="%s"}' % (CPU, svc)
        r = H.get_json("/pyroscope/render",
                       {"query": q, "from": "now-1h", "until": "now", "format": "json"})
        fb = r["flamebearer"]
        self.assertEqual(fb["names"][0], "total")
        self.assertEqual(fb["numTicks"], 100 * scale)
        self.assertEqual(fb["names"], ["total", "main", "work", "compute", "idle", "gc"])
        self.assertEqual(len(fb["levels"][0]), 4)
        self.assertEqual(sum(r["timeline"]["samples"]), fb["numTicks"])
        d = H.get_json("/pyroscope/render-diff", {
            "leftQuery": q, "leftFrom": "now-1h", "leftUntil": "now",
            "rightQuery": q, "rightFrom": "now-1h", "rightUntil": "now"})
        self.assertEqual(d["metadata"]["format"], "double")
        self.assertEqual(len(d["flamebearer"]["levels"][0]), 7)
        self.assertEqual(d["leftTicks"], fb["numTicks"])
        self.assertEqual(d["rightTicks"], fb["numTicks"])


if __name__ == "__main__":
    L.run_tests()
