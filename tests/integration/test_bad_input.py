#!/usr/bin/env python3
"""Malformed requests: each must get its specific 4xx with a JSON message that says why.

Statuses follow ingest-http.md §8 and render-http.md: a bad `name` or query
parameter is 400, a body that cannot be parsed or validated on the ingest
path is 422, a body over `ingestion_body_limit_mb` is 413, a wrong method is
405, an unknown route 404. After every request hearth must still answer
/ready, and at the end a valid ingest and render must still work.

hearth runs with -limits.ingestion-body-limit-mb=1; the ingestion-window
cases start a second hearth with the default window (1 h old, 10 min new).
"""

import gzip
import os
import sys
import time
from dataclasses import dataclass, field

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402

H = None
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"

# ingest-http.md §8: JSON `code` derived from the HTTP status.
STATUS_CODES = {400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
                404: "unimplemented", 413: "invalid_argument", 429: "resource_exhausted",
                499: "canceled", 502: "unavailable", 503: "unavailable", 504: "deadline_exceeded"}


def setUpModule():
    global H
    H = L.HearthProcess(flags=["-limits.ingestion-body-limit-mb=1"], name="hearth").start()
    L.HearthTestCase.hearth = H


def tearDownModule():
    if H is not None:
        try:
            H.stop_checked()   # SIGTERM → exit 0, no sanitizer report
        finally:
            H.cleanup()


# ---------------------------------------------------------------------------
# Bodies
# ---------------------------------------------------------------------------

def good_builder():
    b = L.PprofBuilder()
    b.sample(b.stack("main", "work"), [10])
    return b


def good_pprof():
    return good_builder().encode()


def pprof_with(mutate):
    b = good_builder()
    mutate(b)
    return b.encode()


def truncated_pprof():
    """A pprof cut inside a field (checked with the independent parser)."""
    raw = good_builder().encode()
    for k in range(len(raw) * 2 // 3, 0, -1):
        try:
            list(L.pb_fields(raw[:k]))
        except L.PbError:
            return raw[:k]
    raise AssertionError("could not find a cut point")


def bad_string_index(b):
    b.functions[0]["name"] = 999


def missing_location(b):
    b.samples[0]["locs"].append(99)


def missing_function(b):
    b.locations[0]["lines"] = [(77, 1)]


def location_id_zero(b):
    b.locations[0]["id"] = 0


def dash_sample_type(b):
    b.sample_types = [(b.s("alloc-space"), b.s("bytes"))]


def wrong_value_count(b):
    b.samples[0]["values"] = [1, 2]


def first_string_not_empty(b):
    b.strings[0] = "oops"


def bad_utf8_function_name(b):
    b.strings[b.functions[0]["name"]] = b"wo\xffrk"


def bad_utf8_label_value(b):
    b.samples[0]["labels"] = [(b.s("region"), len(b.strings), 0)]
    b.strings.append(b"\xc3\x28")


def no_sample_types(b):
    b.sample_types = []


def sample_type_index_out_of_range(b):
    b.sample_types = [(500, b.s("count"))]


def label_key_out_of_range(b):
    b.samples[0]["labels"] = [(4000, b.s("v"), 0)]


def sample_type_as_varint(b):
    b.sample_types = []
    b.extra = L.pb_uint(1, 5)   # field 1 must be a message


def overlong_varint(b):
    b.extra = L.pb_key(9, 0) + b"\xff" * 11


def too_many_samples():
    b = L.PprofBuilder()
    root = b.loc(b.func("main"))
    for i in range(16001):          # max_profile_stacktrace_samples default 16000
        b.sample([b.loc(b.func("f%d" % i)), root], [1])   # distinct stacks: nothing merges
    return gzip.compress(b.encode())


def decompression_bomb():
    """5 MiB of pprof (over max_profile_size_bytes 4 MiB) in a few KB of gzip."""
    b = good_builder()
    b.s("x" * (5 << 20))
    return gzip.compress(b.encode())


def multipart(parts, close=True):
    ctype, body = L.multipart_encode(parts, close=close)
    return body, {"Content-Type": ctype}


def name_with_labels(n, value_len=1):
    labels = ",".join("k%02d=%s" % (i, "v" * value_len) for i in range(n))
    return "labels-app{%s}" % labels


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

@dataclass
class Case:
    name: str
    status: int
    method: str = "POST"
    path: str = "/ingest"
    params: list = field(default_factory=list)
    body: object = None       # bytes, or a callable returning bytes or (bytes, headers)
    headers: dict = field(default_factory=dict)
    hints: tuple = ()          # the message must contain one of these (case-insensitive)
    raw: str = ""              # "length" / "chunked": send on a raw socket (server may close early)


def ingest_pprof(name, body, status=422, hints=(), params=()):
    return Case(name, status, params=[("name", "bad-" + name), ("format", "pprof")] + list(params),
                body=body, hints=hints)


def render(name, params, status=400, hints=(), path="/pyroscope/render"):
    return Case(name, status, "GET", path, params, hints=hints)


Q = '%s{service_name="x"}' % CPU
NOW_MS = int(time.time() * 1000)
RANGE = [("from", str(NOW_MS - 3600000)), ("until", str(NOW_MS))]
DOTNET = [p for p in L.pprof_files() if "dotnet" in os.path.basename(p)]

CASES = [
    # -- name parameter (400) ---------------------------------------------
    Case("name_missing", 400, body=b"a;b 1\n", hints=("name",)),
    Case("name_empty_app", 400, params=[("name", "{env=prod}")], body=b"a;b 1\n", hints=("name",)),
    Case("name_invalid_char", 400, params=[("name", "my app!")], body=b"a;b 1\n", hints=("name",)),
    Case("name_bad_utf8", 400, params=[("name", b"app\xff\xfe")], body=b"a;b 1\n", hints=("name",)),
    Case("name_invalid_label_key", 400, params=[("name", "app{bad-key=v}")], body=b"a;b 1\n",
         hints=("bad-key", "name")),
    Case("name_unknown_suffix", 400, params=[("name", "backend.purchases")], body=b"a;b 1\n",
         hints=("profile type", "purchases")),
    # -- folded / lines bodies (422) -----------------------------------------
    Case("folded_count_not_integer", 422, params=[("name", "bad-folded.cpu")],
         body=b"a;b 1\na;c abc\n", hints=("abc",)),
    Case("folded_count_negative", 422, params=[("name", "bad-folded.cpu")], body=b"a;b -5\n",
         hints=("-5", "negative")),
    Case("folded_count_overflow", 422, params=[("name", "bad-folded.cpu")],
         body=b"a;b 99999999999999999999999\n", hints=("99999999999999999999999", "range", "overflow")),
    Case("folded_bad_utf8_frame", 422, params=[("name", "bad-folded.cpu")], body=b"a;\xff\xfe 1\n",
         hints=("utf",)),
    Case("lines_bad_utf8_frame", 422, params=[("name", "bad-lines.cpu"), ("format", "lines")],
         body=b"main;\xc3\x28\n", hints=("utf",)),
    Case("folded_content_encoding_gzip_not_gzip", 422, params=[("name", "bad-gzfold.cpu")],
         body=b"a;b 1\n", headers={"Content-Encoding": "gzip"}, hints=("gzip",)),
    Case("folded_content_encoding_gzip_truncated", 422, params=[("name", "bad-gzfold.cpu")],
         body=lambda: gzip.compress(b"a;b 1\n" * 1000)[:40], headers={"Content-Encoding": "gzip"},
         hints=("gzip",)),
    # -- pprof bodies (422) --------------------------------------------------
    # Upstream would parse an empty body (folded: 200, pprof: 422 empty
    # profile); hearth rejects every empty body up front with 400.
    ingest_pprof("pprof_empty_body", b"", status=400, hints=("empty",)),
    ingest_pprof("pprof_truncated_gzip", lambda: gzip.compress(good_pprof())[:-12], hints=("gzip",)),
    ingest_pprof("pprof_gzip_garbage", b"\x1f\x8b\x08\x00garbage-after-the-magic", hints=("gzip",)),
    ingest_pprof("pprof_truncated_protobuf", truncated_pprof, hints=("protobuf", "truncated")),
    ingest_pprof("pprof_garbage", b"this is not a protobuf at all \xff\xff\xff",
                 hints=("protobuf", "pprof")),
    ingest_pprof("pprof_wire_type_mismatch", lambda: pprof_with(sample_type_as_varint),
                 hints=("protobuf", "pprof")),
    ingest_pprof("pprof_overlong_varint", lambda: pprof_with(overlong_varint),
                 hints=("protobuf", "pprof")),
    ingest_pprof("pprof_string_index_out_of_range", lambda: pprof_with(bad_string_index),
                 hints=("999",)),
    ingest_pprof("pprof_sample_type_string_out_of_range", lambda: pprof_with(sample_type_index_out_of_range),
                 hints=("500",)),
    ingest_pprof("pprof_label_key_string_out_of_range", lambda: pprof_with(label_key_out_of_range),
                 hints=("4000",)),
    ingest_pprof("pprof_unknown_location_id", lambda: pprof_with(missing_location), hints=("99",)),
    ingest_pprof("pprof_unknown_function_id", lambda: pprof_with(missing_function), hints=("77",)),
    ingest_pprof("pprof_location_id_zero", lambda: pprof_with(location_id_zero), hints=("location",)),
    ingest_pprof("pprof_dash_in_sample_type", lambda: pprof_with(dash_sample_type),
                 hints=("alloc-space",)),
    ingest_pprof("pprof_wrong_value_count", lambda: pprof_with(wrong_value_count), hints=("value",)),
    ingest_pprof("pprof_string_table_0_not_empty", lambda: pprof_with(first_string_not_empty),
                 hints=("string_table", "string table")),
    ingest_pprof("pprof_bad_utf8_function_name", lambda: pprof_with(bad_utf8_function_name),
                 hints=("utf",)),
    ingest_pprof("pprof_bad_utf8_label_value", lambda: pprof_with(bad_utf8_label_value),
                 hints=("utf",)),
    ingest_pprof("pprof_no_sample_types", lambda: pprof_with(no_sample_types),
                 hints=("sample type", "empty")),
    ingest_pprof("pprof_dotnet_without_dotnetspy", lambda: open(DOTNET[0], "rb").read(),
                 hints=("function", "alloc-samples", "id")),
    ingest_pprof("pprof_too_many_samples", too_many_samples, hints=("max_profile_stacktrace_samples",)),
    # The gunzip output is capped by the body limit too (model.md §8.1:
    # ingestion_body_limit_mb also bounds decompressed data): 413.
    ingest_pprof("pprof_decompressed_over_body_limit", decompression_bomb, status=413,
                 hints=("ingestion_body_limit", "1048576")),
    Case("pprof_label_value_too_long", 422,
         params=[("name", name_with_labels(1, 3000)), ("format", "pprof")], body=good_pprof,
         hints=("max_label_value_length",)),
    Case("pprof_too_many_labels", 422,
         params=[("name", name_with_labels(31)), ("format", "pprof")], body=good_pprof,
         hints=("max_label_names_per_series",)),
    # -- multipart (422) -------------------------------------------------------
    Case("multipart_prev_profile_not_empty", 422, params=[("name", "bad-mp")],
         body=lambda: multipart([("profile", "profile.pprof", None, gzip.compress(good_pprof())),
                                 ("prev_profile", "profile.pprof", None, gzip.compress(good_pprof()))]),
         hints=("prev_profile", "client version")),
    Case("multipart_without_closing_boundary", 422, params=[("name", "bad-mp")],
         body=lambda: multipart([("profile", "profile.pprof", None, gzip.compress(good_pprof()))],
                                close=False),
         hints=("boundary",)),
    Case("multipart_content_type_without_boundary", 422, params=[("name", "bad-mp")],
         body=b"--x\r\n\r\n--x--\r\n", headers={"Content-Type": "multipart/form-data"},
         hints=("boundary",)),
    Case("multipart_garbage_profile_part", 422, params=[("name", "bad-mp")],
         body=lambda: multipart([("profile", "profile.pprof", None, b"\x08\x96\x01 not a pprof \xff")]),
         hints=("protobuf", "pprof")),
    Case("multipart_bad_sample_type_config", 422, params=[("name", "bad-mp")],
         body=lambda: multipart([("profile", "profile.pprof", None, gzip.compress(good_pprof())),
                                 ("sample_type_config", "sample_type_config.json", None, b'{"cpu": ')]),
         hints=("sample_type_config", "json")),
    # -- size (413) ------------------------------------------------------------
    # hearth may answer 413 and close while the body is still coming: raw socket.
    Case("body_over_limit", 413, params=[("name", "bad-big.cpu")],
         body=lambda: b"main;work 1\n" * ((3 << 20) // 24), raw="length",
         hints=("ingestion_body_limit", "1048576")),
    Case("pprof_body_over_limit", 413, params=[("name", "bad-big"), ("format", "pprof")],
         body=lambda: os.urandom(1536 * 1024), raw="length", hints=("ingestion_body_limit", "1048576")),
    Case("chunked_body_over_limit", 413, params=[("name", "bad-big.cpu")],
         body=lambda: b"main;work 1\n" * ((3 << 20) // 24), raw="chunked",
         hints=("ingestion_body_limit", "1048576")),
    # Upstream sends unknown formats to the folded parser; hearth names them.
    Case("ingest_unknown_format", 400, params=[("name", "bad-fmt.cpu"), ("format", "bogus")],
         body=b"a;b 1\n", hints=("bogus",)),
    # -- methods and routes ---------------------------------------------------
    Case("ingest_get_method", 405, "GET", "/ingest", [("name", "x.cpu")]),
    Case("render_post_method", 405, "POST", "/pyroscope/render", [("query", Q)], body=b""),
    Case("unknown_route", 404, "GET", "/no/such/route"),
    # -- query parameters (400) ----------------------------------------------
    render("render_missing_query", RANGE, hints=("query",)),
    render("render_unparsable_selector", [("query", CPU + '{service_name="x"')] + RANGE),
    render("render_unterminated_string", [("query", CPU + '{service_name="x}')] + RANGE),
    render("render_bad_operator", [("query", CPU + '{service_name=>"x"}')] + RANGE),
    render("render_invalid_regex", [("query", CPU + '{service_name=~"("}')] + RANGE),
    render("render_no_profile_type", [("query", '{service_name="x"}')] + RANGE,
           hints=("profile", "type")),
    render("render_profile_type_four_parts", [("query", 'process_cpu:cpu:nanoseconds:cpu{}')] + RANGE,
           hints=("profile", "type")),
    render("render_from_after_until", [("query", Q), ("from", str(NOW_MS)), ("until", str(NOW_MS - 60000))]),
    render("render_max_nodes_over_max", [("query", Q), ("maxNodes", "2000000")] + RANGE, hints=("node",)),
    render("render_max_nodes_negative", [("query", Q), ("max-nodes", "-5")] + RANGE, hints=("node",)),
    render("label_values_missing_label", RANGE, path="/pyroscope/label-values", hints=("label",)),
    render("label_values_bad_query", [("label", "env"), ("query", '{env=~"("}')] + RANGE,
           path="/pyroscope/label-values"),
    render("label_names_bad_query", [("query", '{env="x"')] + RANGE, path="/pyroscope/label-names"),
    render("diff_profile_types_differ", [
        ("leftQuery", Q), ("leftFrom", RANGE[0][1]), ("leftUntil", RANGE[1][1]),
        ("rightQuery", 'memory:inuse_space:bytes::{service_name="x"}'),
        ("rightFrom", RANGE[0][1]), ("rightUntil", RANGE[1][1])],
        path="/pyroscope/render-diff", hints=("profile type",)),
    render("diff_missing_right_query", [
        ("leftQuery", Q), ("leftFrom", RANGE[0][1]), ("leftUntil", RANGE[1][1]),
        ("rightFrom", RANGE[0][1]), ("rightUntil", RANGE[1][1])],
        path="/pyroscope/render-diff", hints=("rightQuery", "query")),
]


class TestBadInput(L.HearthTestCase):

    def check_case(self, c):
        body = c.body() if callable(c.body) else c.body
        headers = dict(c.headers)
        if isinstance(body, tuple):
            body, extra = body
            headers.update(extra)
        params = [(k, v) for k, v in c.params]
        what = "%s %s %s" % (c.method, c.path, L.encode_query(params)[:200])
        if c.raw:
            path = c.path + ("?" + L.encode_query(params) if params else "")
            r = L.raw_http(H.port, c.method, path, headers, body, chunked=(c.raw == "chunked"))
        else:
            r = H.request(c.method, c.path, params, body if c.method == "POST" else None, headers)
        self.assertStatus(r, c.status, "[%s] %s" % (c.name, what))
        ctype = (r.header("Content-Type") or "").split(";")[0].strip()
        self.assertEqual(ctype, "application/json", "[%s] error Content-Type: %r" % (c.name, ctype))
        try:
            doc = r.json()
        except ValueError:
            self.fail("[%s] error body is not JSON: %r" % (c.name, r.body[:300]))
        msg = doc.get("message") if isinstance(doc, dict) else None
        self.assertTrue(isinstance(msg, str) and msg.strip(),
                        "[%s] error body must have a non-empty \"message\": %r" % (c.name, doc))
        self.assertEqual(doc.get("code"), STATUS_CODES.get(c.status, "unknown"),
                         "[%s] JSON code for HTTP %d: %r" % (c.name, c.status, doc))
        if c.hints:
            self.assertTrue(any(h.lower() in msg.lower() for h in c.hints),
                            "[%s] message should say why (mention one of %r): %r" % (c.name, c.hints, msg))
        if c.status == 405:
            self.assertIn("POST" if c.path == "/ingest" else "GET", r.header("Allow") or "",
                          "[%s] 405 needs an Allow header: %r" % (c.name, r.headers))
        ready = H.get("/ready", timeout=10)
        self.assertStatus(ready, 200, "[%s] GET /ready after the bad request" % c.name)


def _case_test(c):
    def test(self):
        self.check_case(c)
    test.__doc__ = "%s -> %d" % (c.name, c.status)
    return test


for _c in CASES:
    assert not hasattr(TestBadInput, "test_" + _c.name), _c.name
    setattr(TestBadInput, "test_" + _c.name, _case_test(_c))


class TestDefaultWindowAndProfileSize(L.HearthTestCase):
    """A hearth with the default ingestion window (1 h old, 10 min new) and a
    small max_profile_size_bytes: old, far-future and oversized profiles get 422."""

    def test_profiles_outside_the_window_or_too_big(self):
        with L.HearthProcess(flags=["-limits.max-profile-size-bytes=65536"], default_limits=False,
                             name="hearth-window") as h2:
            old = open(os.path.join(L.testdata_dir(), "pprof", "cpu.pb.gz"), "rb").read()
            r = h2.post("/ingest", [("name", "old-app"), ("format", "pprof")], old)
            self.assertEqual(r.status, 422, "2021 profile with reject_older_than=1h: got %d %s" % (
                r.status, r.text()[:500]))
            self.assertIn("reject_older_than", r.json().get("message", ""), "message names the limit")
            b = good_builder()
            b.time_nanos = time.time_ns() + 86400 * 10 ** 9
            r = h2.post("/ingest", [("name", "future-app"), ("format", "pprof")], b.encode())
            self.assertEqual(r.status, 422, "profile 1 day ahead with reject_newer_than=10m: got %d %s" % (
                r.status, r.text()[:500]))
            self.assertIn("reject_newer_than", r.json().get("message", ""), "message names the limit")
            b = good_builder()
            b.s("y" * 100000)    # 100 KB decompressed > 64 KiB, well under the body limit
            r = h2.post("/ingest", [("name", "big-app"), ("format", "pprof")], b.encode_gz())
            self.assertEqual(r.status, 422, "profile over max_profile_size_bytes: got %d %s" % (
                r.status, r.text()[:500]))
            self.assertIn("max_profile_size_bytes", r.json().get("message", ""), "message names the limit")
            b = good_builder()   # now: accepted and queryable with the default query limits
            r = h2.post("/ingest", [("name", "fresh-app"), ("format", "pprof")], b.encode())
            self.assertEqual(r.status, 200, "current profile: %s" % r.text()[:500])
            now_ms = int(time.time() * 1000)
            fb = h2.render('%s{service_name="fresh-app"}' % CPU, now_ms - 600000, now_ms + 60000)
            self.assertEqual(fb["flamebearer"]["numTicks"], 10, "fresh profile rendered")
            self.assertEqual(h2.get("/ready").status, 200)


class TestZFinal(L.HearthTestCase):
    """Runs last (classes run in name order): hearth survived everything above."""

    def test_valid_ingest_and_render_still_work(self):
        ts = L.now_s()
        for fmt in ("folded", "groups", ""):   # all take the folded branch (§5 row 8)
            app = "after-%s" % (fmt or "none")
            H.ingest([("name", app + ".cpu"), ("from", str(ts)), ("format", fmt)],
                     b"main;work 3\nmain 1\n")
            fb = H.render('%s{service_name="%s"}' % (CPU, app), (ts - 60) * 1000, (ts + 60) * 1000)
            self.assertEqual(fb["flamebearer"]["numTicks"], 4 * 10 ** 7, "folded with format=%r" % fmt)
        H.ingest([("name", "after-pprof"), ("format", "pprof")], good_pprof())
        fb = H.render('%s{service_name="after-pprof"}' % CPU, (ts - 60) * 1000, (ts + 60) * 1000)
        self.assertEqual(fb["flamebearer"]["numTicks"], 10, "pprof ingested after the bad inputs")
        # Empty inputs that are not errors (ingest-http.md §8: 200, nothing stored).
        H.ingest([("name", "after-nosamples"), ("format", "pprof")], L.PprofBuilder().encode())
        ctype, body = L.multipart_encode([("sample_type_config", "sample_type_config.json", None, b"{}")])
        H.ingest([("name", "after-empty-mp")], body, {"Content-Type": ctype})
        self.assertEqual(H.get("/ready").status, 200)


if __name__ == "__main__":
    L.run_tests()
