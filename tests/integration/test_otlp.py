#!/usr/bin/env python3
"""OTLP profiles ingestion (otlp-profiles.md) and Parca's WriteRaw.

Requests are encoded here independently of hearth: OTLP protobuf bytes by a
tiny encoder written from the field numbers of opentelemetry-proto v1.10.0
(listed next to each message below; see proto/otlp_profiles.proto for how
the version was pinned), OTLP/JSON as literals, Parca's WriteRawRequest from
parca's profilestore.proto field numbers. What is stored is read back
through /pyroscope/render, label-values and Connect's Series and LabelNames,
and compared with values computed here:

  * exact per-function totals of OTLP profiles; the eBPF rule (samples/count
    with period cpu/nanoseconds → cpu nanoseconds = count × period, name
    process_cpu), values from timestamps, the other naming rules;
  * service_name fallbacks and per-sample service.name groups; resource and
    scope attributes as series labels (first occurrence wins, dots kept);
    sample attributes as series labels; span_id/trace_id from links do not
    make series (model.md §3: they stay off the series labels);
  * both bodies (protobuf, JSON with hex ids), gzip, the gRPC path name,
    the answer (200, application/x-protobuf, 0 bytes), 415, 400 for every
    kind of out-of-range index, 413, 401 without tenant in multi-tenancy;
  * WriteRaw with real pprofs from ../shared/testdata in both codecs.
"""

import base64
import gzip
import json
import os
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hearth_test_lib as L  # noqa: E402
from hearth_test_lib import pb_bytes, pb_key, pb_msg, pb_packed, pb_uint  # noqa: E402

H = None      # multi-tenancy off
HMT = None    # multi-tenancy on, 1 MiB body limit
RUN = L.unique("o")
OTLP = "/v1development/profiles"
GRPC_PATH = "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
WRITE_RAW = "/parca.profilestore.v1alpha1.ProfileStoreService/WriteRaw"
CPU = "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
PB = "application/x-protobuf"


def setUpModule():
    global H, HMT
    H = L.HearthProcess(name="hearth").start()
    HMT = L.HearthProcess(name="hearth-mt", flags=[
        "-auth.multitenancy-enabled=true", "-limits.ingestion-body-limit-mb=1"]).start()
    L.HearthTestCase.hearth = H


def tearDownModule():
    for h in (H, HMT):
        if h is not None:
            try:
                h.stop_checked()
            finally:
                h.cleanup()


# ---------------------------------------------------------------------------
# A tiny OTLP encoder (opentelemetry-proto v1.10.0 field numbers)
# ---------------------------------------------------------------------------

def pb_fixed64(field_no, v):
    return pb_key(field_no, 1) + struct.pack("<Q", v)


def pb_packed_fixed64(field_no, values):
    return pb_bytes(field_no, b"".join(struct.pack("<Q", v) for v in values))


def any_value(v):
    """AnyValue: string_value 1, int_value 3, array_value 5 (ArrayValue.values 1)."""
    if isinstance(v, list):
        return pb_msg(5, *[pb_msg(1, any_value(x)) for x in v])
    if isinstance(v, bool):
        return pb_uint(2, int(v))
    if isinstance(v, int):
        return pb_uint(3, v)
    if isinstance(v, float):
        return pb_key(4, 1) + struct.pack("<d", v)
    return pb_bytes(1, v)


def key_value(k, v):
    """KeyValue: key 1, value 2."""
    return pb_bytes(1, k) + pb_msg(2, any_value(v))


class Otlp:
    """Builds an ExportProfilesServiceRequest.

    Dictionary tables start with their zero element, as senders write them.
    stack() takes root-first names and writes leaf-first location indices.
    """

    def __init__(self):
        self.strings = [""]
        self._sidx = {"": 0}
        self.functions = [(0, 0, 0)]      # (name, system_name, filename)
        self.locations = [(0, 0, [])]     # (mapping_index, address, [function_index])
        self.mappings = [None]
        self.stacks = [[]]
        self.attrs = [None]               # (key_strindex, value)
        self.links = [None]               # (trace_id bytes, span_id bytes)
        self._fidx = {}
        self._lidx = {}
        self.resources = []

    def s(self, text):
        if text not in self._sidx:
            self._sidx[text] = len(self.strings)
            self.strings.append(text)
        return self._sidx[text]

    def func(self, name):
        if name not in self._fidx:
            self._fidx[name] = len(self.functions)
            self.functions.append((self.s(name), self.s(""), self.s(name.split(".")[0] + ".go")))
        return self._fidx[name]

    def stack(self, *names):
        ids = []
        for n in names:
            if n not in self._lidx:
                self._lidx[n] = len(self.locations)
                self.locations.append((0, 0x1000 + len(self.locations), [self.func(n)]))
            ids.append(self._lidx[n])
        self.stacks.append(list(reversed(ids)))
        return len(self.stacks) - 1

    def attr(self, key, value):
        self.attrs.append((self.s(key), value))
        return len(self.attrs) - 1

    def link(self, trace_id, span_id):
        self.links.append((trace_id, span_id))
        return len(self.links) - 1

    def resource(self, attrs=(), scopes=()):
        """attrs: [(k, v)]; scopes: [(scope attrs [(k, v)], [profile bytes])]."""
        self.resources.append((list(attrs), list(scopes)))

    def profile(self, samples, sample_type=("samples", "count"), period_type=("cpu", "nanoseconds"),
                period=1, time_ns=None, duration_ns=10 ** 10):
        """Profile: sample_type 1, samples 2, time_unix_nano 3 (fixed64), duration_nano 4,
        period_type 5, period 6. Sample: stack_index 1, attribute_indices 2, link_index 3,
        values 4, timestamps_unix_nano 5 (fixed64). ValueType: type 1, unit 2."""
        b = pb_msg(1, pb_uint(1, self.s(sample_type[0])), pb_uint(2, self.s(sample_type[1])))
        for sm in samples:
            parts = [pb_uint(1, sm["stack"])]
            if sm.get("attrs"):
                parts.append(pb_packed(2, sm["attrs"]))
            if sm.get("link"):
                parts.append(pb_uint(3, sm["link"]))
            if sm.get("values") is not None:
                parts.append(pb_packed(4, sm["values"]))
            if sm.get("timestamps"):
                parts.append(pb_packed_fixed64(5, sm["timestamps"]))
            b += pb_msg(2, *parts)
        b += pb_fixed64(3, time_ns if time_ns is not None else time.time_ns())
        if duration_ns:
            b += pb_uint(4, duration_ns)
        if period_type:
            b += pb_msg(5, pb_uint(1, self.s(period_type[0])), pb_uint(2, self.s(period_type[1])))
        if period:
            b += pb_uint(6, period)
        return b

    def dictionary(self):
        """ProfilesDictionary: mapping_table 1, location_table 2, function_table 3,
        link_table 4, string_table 5, attribute_table 6, stack_table 7."""
        d = b""
        d += pb_msg(1)  # the zero mapping
        for mi, addr, fns in self.locations:
            # Location: mapping_index 1, address 2, lines 3 (Line: function_index 1, line 2)
            d += pb_msg(2, pb_uint(1, mi), pb_uint(2, addr),
                        *[pb_msg(3, pb_uint(1, f), pb_uint(2, 10 + i)) for i, f in enumerate(fns)])
        for name, sysname, fname in self.functions:
            # Function: name_strindex 1, system_name_strindex 2, filename_strindex 3
            d += pb_msg(3, pb_uint(1, name), pb_uint(2, sysname), pb_uint(3, fname))
        for lk in self.links:
            # Link: trace_id 1, span_id 2
            d += pb_msg(4, *(() if lk is None else (pb_bytes(1, lk[0]), pb_bytes(2, lk[1]))))
        for s in self.strings:
            d += pb_bytes(5, s)
        for at in self.attrs:
            # KeyValueAndUnit: key_strindex 1, value 2, unit_strindex 3
            d += pb_msg(6, *(() if at is None else (pb_uint(1, at[0]), pb_msg(2, any_value(at[1])))))
        for st in self.stacks:
            # Stack: location_indices 1
            d += pb_msg(7, pb_packed(1, st) if st else b"")
        return d

    def encode(self, with_dictionary=True):
        """ExportProfilesServiceRequest: resource_profiles 1, dictionary 2.
        ResourceProfiles: resource 1 (Resource.attributes 1), scope_profiles 2.
        ScopeProfiles: scope 1 (InstrumentationScope: name 1, attributes 3), profiles 2."""
        out = b""
        for attrs, scopes in self.resources:
            rp = pb_msg(1, *[pb_msg(1, key_value(k, v)) for k, v in attrs])
            for sattrs, profiles in scopes:
                scope = pb_msg(1, pb_bytes(1, "test-scope"), *[pb_msg(3, key_value(k, v)) for k, v in sattrs])
                rp += pb_msg(2, scope, *[pb_bytes(2, p) for p in profiles])
            out += pb_msg(1, rp)
        if with_dictionary:
            out += pb_msg(2, self.dictionary())
        return out


def post(h, body, ctype=PB, headers=None, path=OTLP, tenant=None):
    hdrs = {"Content-Type": ctype}
    if tenant:
        hdrs["X-Scope-OrgID"] = tenant
    hdrs.update(headers or {})
    return h.post(path, body=body, headers=hdrs)


def now_ms():
    return int(time.time() * 1000)


def rng():
    t = now_ms()
    return t - 3600000, t + 3600000


def selfs(h, query, headers=None):
    """Per-function self values and total of a render query over the last/next hour."""
    lo, hi = rng()
    fb = h.render(query, lo, hi, headers=headers, maxNodes=65536)["flamebearer"]
    tree, _total = L.flamebearer_tree(fb)
    return L.self_by_name(tree), fb["numTicks"]


def label_values(h, label, query, headers=None, span=None):
    lo, hi = span or rng()
    return h.get_json("/pyroscope/label-values", {"label": label, "query": query,
                                                  "from": lo, "until": hi}, headers=headers)


def series(h, matcher, tenant=None):
    """Connect Series: every label set matching matcher, as dicts."""
    lo, hi = rng()
    r = L.connect_call(h, "/querier.v1.QuerierService/Series",
                       {"matchers": [matcher], "start": lo, "end": hi}, tenant=tenant)
    if r.status != 200:
        raise AssertionError("Series -> %d: %s" % (r.status, r.text()))
    out = []
    for ls in json.loads(L.connect_body(r) or b"{}").get("labelsSet", []):
        out.append({p["name"]: p["value"] for p in ls.get("labels", [])})
    return out


class Base(L.HearthTestCase):

    def assertStored(self, r, what):
        self.assertStatus(r, 200, what)
        self.assertEqual(r.header("Content-Type"), PB, "%s: answer type" % what)
        self.assertEqual(r.body, b"", "%s: an empty ExportProfilesServiceResponse is 0 bytes" % what)

    def assertPlainError(self, r, status, contains, what):
        self.assertStatus(r, status, what)
        self.assertTrue((r.header("Content-Type") or "").startswith("text/plain"),
                        "%s: OTLP/HTTP errors are plain text, got %s" % (what, r.header("Content-Type")))
        self.assertIn(contains, r.text(), what)


# ---------------------------------------------------------------------------
# Conversion: totals, naming, labels
# ---------------------------------------------------------------------------

class TestOtlpConversion(Base):

    def test_ebpf_samples_count_become_cpu_nanoseconds(self):
        """samples/count with period cpu/nanoseconds: value × period, process_cpu."""
        svc = "ebpf-%s" % RUN
        o = Otlp()
        main_work = o.stack("main", "work")
        main_io = o.stack("main", "io", "read")
        period = 10309278  # 97 Hz, as the eBPF profiler samples
        prof = o.profile([{"stack": main_work, "values": [7]},
                          {"stack": main_io, "values": [2]},
                          {"stack": main_work, "values": [1]}],
                         sample_type=("samples", "count"), period=period)
        o.resource([("service.name", svc)], [([], [prof])])
        r = post(H, o.encode())
        self.assertStored(r, "eBPF-shaped profile")
        got, total = selfs(H, '%s{service_name="%s"}' % (CPU, svc))
        self.assertEqual(got, {"work": 8 * period, "read": 2 * period})
        self.assertEqual(total, 10 * period)
        self.assertEqual(label_values(H, "__name__", '{service_name="%s"}' % svc), [CPU])

    def test_timestamps_count_when_values_are_absent(self):
        svc = "ts-%s" % RUN
        o = Otlp()
        st = o.stack("main", "tick")
        t = time.time_ns()
        prof = o.profile([{"stack": st, "values": None, "timestamps": [t, t + 1, t + 2]},
                          {"stack": st, "values": [], "timestamps": [t + 3]}],
                         sample_type=("samples", "count"), period=1000)
        o.resource([("service.name", svc)], [([], [prof])])
        self.assertStored(post(H, o.encode()), "timestamps only")
        self.assertEqual(selfs(H, '%s{service_name="%s"}' % (CPU, svc))[0], {"tick": 4000})

    def test_naming_rules(self):
        cases = [
            # (sample type, period type, period, expected profile type id)
            (("off_cpu", "nanoseconds"), None, 0, "off_cpu:off_cpu:nanoseconds::"),
            (("alloc_space", "bytes"), ("space", "bytes"), 524288, "space:alloc_space:bytes:space:bytes"),
            (("cpu", "nanoseconds"), None, 0, "process_cpu:cpu:nanoseconds::"),
            # a period type names the profile (spec §4 step 5)
            (("cpu", "nanoseconds"), ("cpu", "nanoseconds"), 10000000, "cpu:cpu:nanoseconds:cpu:nanoseconds"),
            # off-CPU as older eBPF profilers name it
            (("events", "nanoseconds"), None, 0, "off_cpu:events:nanoseconds::"),
            # samples/count without a period: no rewrite, name from the period type
            (("samples", "count"), ("wall", "nanoseconds"), 0, "wall:samples:count:wall:nanoseconds"),
        ]
        for i, (stype, ptype, period, want) in enumerate(cases):
            svc = "naming-%d-%s" % (i, RUN)
            o = Otlp()
            st = o.stack("main", "f%d" % i)
            prof = o.profile([{"stack": st, "values": [5]}], sample_type=stype,
                             period_type=ptype, period=period)
            o.resource([("service.name", svc)], [([], [prof])])
            self.assertStored(post(H, o.encode()), want)
            sel = '{service_name="%s"}' % svc
            self.assertEqual(label_values(H, "__name__", sel), [want], "profile type of %s" % (stype,))
            self.assertEqual(selfs(H, want + sel)[0], {"f%d" % i: 5}, want)

    def test_service_name_fallbacks(self):
        tag = "fb-%s" % RUN
        o = Otlp()
        st = o.stack("main", "x")
        mk = lambda: o.profile([{"stack": st, "values": [1]}])  # noqa: E731
        o.resource([("run", tag), ("service.name", "named-" + tag)], [([], [mk()])])
        o.resource([("run", tag), ("process.executable.name", "exe-" + tag)], [([], [mk()])])
        o.resource([("run", tag)], [([], [mk()])])
        self.assertStored(post(H, o.encode()), "three resources")
        self.assertEqual(sorted(label_values(H, "service_name", '{run="%s"}' % tag)),
                         sorted(["named-" + tag, "unknown_service:exe-" + tag, "unknown_service"]))

    def test_per_sample_service_name_splits_profiles(self):
        tag = "split-%s" % RUN
        o = Otlp()
        a = o.stack("main", "a")
        b = o.stack("main", "b")
        sa = o.attr("service.name", "svc-a-" + tag)
        sb = o.attr("service.name", "svc-b-" + tag)
        prof = o.profile([{"stack": a, "values": [3], "attrs": [sa]},
                          {"stack": b, "values": [4], "attrs": [sb]},
                          {"stack": b, "values": [5]},
                          {"stack": a, "values": [6], "attrs": [sa]}])
        o.resource([("run", tag), ("service.name", "res-" + tag)], [([], [prof])])
        self.assertStored(post(H, o.encode()), "per-sample service.name")
        q = CPU + '{service_name="%s"}'
        self.assertEqual(selfs(H, q % ("svc-a-" + tag))[0], {"a": 9})
        self.assertEqual(selfs(H, q % ("svc-b-" + tag))[0], {"b": 4})
        self.assertEqual(selfs(H, q % ("res-" + tag))[0], {"b": 5})

    def test_resource_scope_and_sample_attributes_are_labels(self):
        svc = "attrs-%s" % RUN
        o = Otlp()
        st = o.stack("main", "y")
        pod1 = o.attr("pod", "p1")
        pod2 = o.attr("pod", "p2")
        n = o.attr("worker", 7)                  # integer value
        dbl = o.attr("ratio", 0.5)                # not a label value
        prof = o.profile([{"stack": st, "values": [2], "attrs": [pod1, n, dbl]},
                          {"stack": st, "values": [3], "attrs": [pod2]}])
        o.resource([("service.name", svc), ("host.name", "h1"), ("team", "resource"),
                    ("team", "second"), ("zone", ["z1"]), ("bad", ["a", "b"])],
                   [([("team", "scope"), ("lib", "scope-lib")], [prof])])
        self.assertStored(post(H, o.encode()), "attributes")
        got = series(H, '{service_name="%s"}' % svc)
        got = sorted(({k: v for k, v in s.items() if not k.startswith("__")} for s in got),
                     key=lambda s: s.get("pod", ""))
        base = {"service_name": svc, "service.name": svc, "host.name": "h1", "team": "resource",
                "zone": "z1", "lib": "scope-lib"}
        self.assertEqual(got, [dict(base, pod="p1", worker="7"), dict(base, pod="p2")])
        # a dotted name is matched with the quoted selector form
        self.assertEqual(selfs(H, CPU + '{service_name="%s","host.name"="h1",pod="p2"}' % svc)[0],
                         {"y": 3})

    def test_links_do_not_make_series(self):
        svc = "links-%s" % RUN
        o = Otlp()
        st = o.stack("main", "handler")
        samples = []
        for i in range(5):
            lk = o.link(bytes([i]) * 16, bytes([0x10 + i]) * 8)
            samples.append({"stack": st, "values": [i + 1], "link": lk})
        o.resource([("service.name", svc)], [([], [o.profile(samples)])])
        self.assertStored(post(H, o.encode()), "samples with links")
        got = series(H, '{service_name="%s"}' % svc)
        self.assertEqual(len(got), 1, "span ids must not split series: %s" % got)
        self.assertNotIn("span_id", got[0])
        self.assertNotIn("trace_id", got[0])
        self.assertEqual(label_values(H, "span_id", '{service_name="%s"}' % svc), [])
        self.assertEqual(selfs(H, '%s{service_name="%s"}' % (CPU, svc))[0], {"handler": 15})

    def test_control_labels_are_not_stored(self):
        svc = "ctl-%s" % RUN
        o = Otlp()
        o.resource([("service.name", svc)], [([], [o.profile([{"stack": o.stack("m"), "values": [1]}])])])
        self.assertStored(post(H, o.encode()), "profile")
        lo, hi = rng()
        r = L.connect_call(H, "/querier.v1.QuerierService/LabelNames",
                           {"matchers": ['{service_name="%s"}' % svc], "start": lo, "end": hi})
        names = json.loads(L.connect_body(r)).get("names", [])
        self.assertIn("service_name", names)
        self.assertNotIn("__delta__", names)
        self.assertNotIn("__otel__", names)

    def test_stack_depth_limit_keeps_the_root_side(self):
        svc = "deep-%s" % RUN
        o = Otlp()
        names = ["f%04d" % i for i in range(1200)]   # deeper than the default 1000
        st = o.stack(*names)
        o.resource([("service.name", svc)], [([], [o.profile([{"stack": st, "values": [9]}])])])
        r = post(H, o.encode())
        self.assertStored(r, "deep stack")
        self.assertIn("max_profile_stacktrace_depth", r.header("Warning") or "")
        self.assertEqual(selfs(H, '%s{service_name="%s"}' % (CPU, svc))[0], {"f0999": 9})


# ---------------------------------------------------------------------------
# Protocol: codecs, paths, errors
# ---------------------------------------------------------------------------

def small(svc, value=1, name="leaf"):
    o = Otlp()
    o.resource([("service.name", svc)], [([], [o.profile([{"stack": o.stack("main", name),
                                                            "values": [value]}])])])
    return o


class TestOtlpProtocol(Base):

    def test_media_types_and_grpc_path(self):
        for i, (ctype, path) in enumerate([(PB, OTLP), ("application/protobuf", OTLP),
                                           (PB, GRPC_PATH)]):
            svc = "mt-%d-%s" % (i, RUN)
            self.assertStored(post(H, small(svc, 10 + i).encode(), ctype, path=path),
                              "%s on %s" % (ctype, path))
            self.assertEqual(selfs(H, '%s{service_name="%s"}' % (CPU, svc))[0], {"leaf": 10 + i})

    def test_gzip(self):
        svc = "gz-%s" % RUN
        r = post(H, gzip.compress(small(svc, 21).encode()), headers={"Content-Encoding": "gzip"})
        self.assertStored(r, "gzip body")
        self.assertEqual(selfs(H, '%s{service_name="%s"}' % (CPU, svc))[0], {"leaf": 21})
        r = post(H, b"\x1f\x8b not gzip", headers={"Content-Encoding": "gzip"})
        self.assertPlainError(r, 400, "gzip", "broken gzip")
        r = post(H, small(svc).encode(), headers={"Content-Encoding": "br"})
        self.assertPlainError(r, 415, "Content-Encoding", "brotli")

    def test_json_literal(self):
        svc = "json-%s" % RUN
        t = str(time.time_ns())
        body = {
            "resourceProfiles": [{
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": svc}},
                                            {"key": "env", "value": {"stringValue": "json"}}]},
                "scopeProfiles": [{"scope": {"name": "s"}, "profiles": [{
                    "sampleType": {"typeStrindex": 1, "unitStrindex": 2},
                    "periodType": {"typeStrindex": 3, "unitStrindex": 4},
                    "period": "1000000",
                    "timeUnixNano": t,
                    "durationNano": "10000000000",
                    "samples": [
                        {"stackIndex": 1, "values": ["5"], "linkIndex": 1},
                        {"stackIndex": 2, "values": [7], "attributeIndices": [1]},
                    ]}]}]}],
            "dictionary": {
                "stringTable": ["", "samples", "count", "cpu", "nanoseconds", "main", "parse", "render",
                                "thread", "t1"],
                "functionTable": [{}, {"nameStrindex": 5}, {"nameStrindex": 6}, {"nameStrindex": 7}],
                "locationTable": [{}, {"lines": [{"functionIndex": 1}]},
                                  {"lines": [{"functionIndex": 2}]}, {"lines": [{"functionIndex": 3}]}],
                "stackTable": [{}, {"locationIndices": [1, 0]}, {"locationIndices": [2, 0]}],
                "linkTable": [{}, {"traceId": "0102030405060708090a0b0c0d0e0f10",
                                   "spanId": "0102030405060708"}],
                "attributeTable": [{}, {"keyStrindex": 8, "value": {"stringValue": "t1"}}],
                "mappingTable": [{}],
            }}
        # stack 1 = [location 1, location 0] leaf first: main ← location 0 (no lines)
        r = post(H, json.dumps(body).encode(), "application/json")
        self.assertStored(r, "OTLP/JSON")
        got, total = selfs(H, '%s{service_name="%s"}' % (CPU, svc))
        self.assertEqual(got, {"main": 5000000, "parse": 7000000})
        self.assertEqual(total, 12000000)
        self.assertEqual(sorted(s.get("thread", "") for s in series(H, '{service_name="%s"}' % svc)),
                         ["", "t1"])

    def test_unsupported_content_types(self):
        body = small("x-%s" % RUN).encode()
        for ctype in ("text/plain", "application/grpc", "application/proto", None):
            hdrs = {} if ctype is None else {"Content-Type": ctype}
            r = H.post(OTLP, body=body, headers=hdrs)
            self.assertPlainError(r, 415, "application/x-protobuf", "Content-Type %s" % ctype)

    def test_out_of_range_indexes_are_400(self):
        def case(mutate, contains):
            o = small("oor-%s" % RUN)
            mutate(o)
            r = post(H, o.encode())
            self.assertPlainError(r, 400, contains, contains)

        def bad_stack(o):
            o.resources = []
            o.resource([], [([], [o.profile([{"stack": 99, "values": [1]}])])])
        case(bad_stack, "stack_index 99 out of range (stack_table has 2 entries)")

        def bad_location(o):
            o.stacks.append([42])
            o.resources = []
            o.resource([], [([], [o.profile([{"stack": len(o.stacks) - 1, "values": [1]}])])])
        case(bad_location, "location index 42 out of range")

        def bad_function(o):
            o.locations.append((0, 0, [77]))
            o.stacks.append([len(o.locations) - 1])
            o.resources = []
            o.resource([], [([], [o.profile([{"stack": len(o.stacks) - 1, "values": [1]}])])])
        case(bad_function, "function_index 77 out of range")

        def bad_string(o):
            o.functions.append((555, 0, 0))
            o.locations.append((0, 0, [len(o.functions) - 1]))
            o.stacks.append([len(o.locations) - 1])
            o.resources = []
            o.resource([], [([], [o.profile([{"stack": len(o.stacks) - 1, "values": [1]}])])])
        case(bad_string, "function name_strindex 555 out of range")

        def bad_attr(o):
            o.resources = []
            o.resource([], [([], [o.profile([{"stack": 1, "values": [1], "attrs": [31]}])])])
        case(bad_attr, "attribute index 31 out of range")

        def bad_link(o):
            o.resources = []
            o.resource([], [([], [o.profile([{"stack": 1, "values": [1], "link": 12}])])])
        case(bad_link, "link_index 12 out of range")

        def bad_mapping(o):
            o.locations.append((9, 0, []))
            o.stacks.append([len(o.locations) - 1])
            o.resources = []
            o.resource([], [([], [o.profile([{"stack": len(o.stacks) - 1, "values": [1]}])])])
        case(bad_mapping, "mapping_index 9 out of range")

        def no_values(o):
            o.resources = []
            o.resource([], [([], [o.profile([{"stack": 1, "values": None}])])])
        case(no_values, "neither values nor timestamps")

        # the message names where in the request the index is
        o = small("where-%s" % RUN)
        o.resource([], [([], [o.profile([{"stack": 1, "values": [1]}]),
                              o.profile([{"stack": 1, "values": [1]}, {"stack": 5, "values": [1]}])])])
        r = post(H, o.encode())
        self.assertPlainError(r, 400, "resource_profiles[1].scope_profiles[0].profiles[1].samples[1]", "path")

    def test_malformed_bodies_are_400(self):
        r = post(H, b"\xff\xff\xff\xff")
        self.assertPlainError(r, 400, "malformed protobuf", "garbage")
        r = post(H, small("nodict-%s" % RUN).encode(with_dictionary=False))
        self.assertPlainError(r, 400, "dictionary", "no dictionary")
        r = post(H, b"{\"resourceProfiles\": [", "application/json")
        self.assertPlainError(r, 400, "json", "truncated JSON")

    def test_nothing_stored_is_still_200(self):
        o = Otlp()
        o.resource([("service.name", "empty-%s" % RUN)], [([], [o.profile([])])])
        self.assertStored(post(H, o.encode()), "a profile without samples")

    def test_tenancy(self):
        svc = "mt-%s" % RUN
        r = post(HMT, small(svc, 3).encode())
        self.assertStatus(r, 401, "no X-Scope-OrgID with multi-tenancy on")
        self.assertEqual(json.loads(r.body).get("code"), "unauthenticated")
        self.assertStored(post(HMT, small(svc, 3).encode(), tenant="team-a"), "tenant team-a")
        q = '%s{service_name="%s"}' % (CPU, svc)
        self.assertEqual(selfs(HMT, q, headers={"X-Scope-OrgID": "team-a"})[0], {"leaf": 3})
        self.assertEqual(selfs(HMT, q, headers={"X-Scope-OrgID": "team-b"})[0], {})

    def test_body_limit_is_413(self):
        # 1 MiB limit on HMT; a gzip body that inflates past it
        bomb = gzip.compress(small("big-%s" % RUN).encode() + b"\x00" * (3 << 20))
        r = post(HMT, bomb, headers={"Content-Encoding": "gzip"}, tenant="team-a")
        self.assertPlainError(r, 413, "", "gzip past the body limit")


# ---------------------------------------------------------------------------
# Parca WriteRaw
# ---------------------------------------------------------------------------

def write_raw(series):
    """WriteRawRequest: series 2. RawProfileSeries: labels 1 (LabelSet.labels 1:
    Label name 1, value 2), samples 2 (RawSample.raw_profile 1)."""
    out = b""
    for labels, raws in series:
        ls = pb_msg(1, *[pb_msg(1, pb_bytes(1, k), pb_bytes(2, v)) for k, v in labels])
        out += pb_msg(2, ls, *[pb_msg(2, pb_bytes(1, r)) for r in raws])
    return out


def read(path):
    with open(path, "rb") as f:
        return f.read()


class TestParcaWriteRaw(Base):

    def expect(self, fname):
        data = read(os.path.join(L.testdata_dir(), "pprof", fname))
        p = L.decode_pprof(data)
        return data, p, L.expected_per_type(p)

    def span(self, p):
        t_ms = p.time_nanos // 1000000 if p.time_nanos > 0 else now_ms()
        return t_ms - 3600000, max(t_ms, now_ms()) + 3600000

    def check_file(self, fname, name, svc_sel, data, p, exps):
        pt, pu = p.period_type
        lo, hi = self.span(p)
        checked = 0
        for e in exps:
            if e.total == 0:
                continue
            ptype = "%s:%s:%s:%s:%s" % (name, e.sample_type, e.sample_unit, pt, pu)
            fb = H.render(ptype + svc_sel, lo, hi, maxNodes=1048576)["flamebearer"]
            tree, _ = L.flamebearer_tree(fb)
            self.assertEqual(fb["numTicks"], e.total, "%s %s total" % (fname, ptype))
            self.assertEqual(tree, e.tree, "%s %s tree:\n%s" % (fname, ptype, L.diff_dicts(e.tree, tree)))
            checked += 1
        self.assertGreater(checked, 0)

    def test_binary_codec_job_becomes_service_name(self):
        data, p, exps = self.expect("cpu.pb.gz")
        job = "parca-job-%s" % RUN
        body = write_raw([([("__name__", "parca_agent_cpu"), ("job", job), ("node", "n1")], [data])])
        r = L.connect_call(H, WRITE_RAW, body, codec="proto")
        self.assertStatus(r, 200, "WriteRaw (proto)")
        self.assertEqual(r.header("Content-Type"), "application/proto")
        self.assertEqual(r.body, b"")
        self.check_file("cpu.pb.gz", "parca_agent_cpu", '{service_name="%s",node="n1"}' % job,
                        data, p, exps)

    def test_json_codec_keeps_service_name(self):
        data, p, exps = self.expect("heap.pb")
        svc = "parca-svc-%s" % RUN
        body = {"series": [{"labels": {"labels": [
            {"name": "__name__", "value": "memory"}, {"name": "service_name", "value": svc},
            {"name": "job", "value": "ignored-%s" % RUN}]},
            "samples": [{"rawProfile": base64.b64encode(data).decode()}]}], "normalized": True}
        r = L.connect_call(H, WRITE_RAW, body, codec="json", gzip_body=True)
        self.assertStatus(r, 200, "WriteRaw (json)")
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertEqual(json.loads(L.connect_body(r)), {})
        self.check_file("heap.pb", "memory", '{service_name="%s"}' % svc, data, p, exps)
        self.assertEqual(label_values(H, "job", '{service_name="%s"}' % svc, span=self.span(p)),
                         ["ignored-%s" % RUN])

    def test_errors(self):
        data = read(os.path.join(L.testdata_dir(), "pprof", "cpu.pb.gz"))
        r = L.connect_call(H, WRITE_RAW, write_raw([([("job", "j")], [data])]), codec="proto")
        self.assertStatus(r, 400, "no __name__")
        self.assertEqual(json.loads(r.body)["code"], "invalid_argument")
        self.assertIn("__name__", json.loads(r.body)["message"])
        r = L.connect_call(H, WRITE_RAW, write_raw([([("__name__", "x")], [b"not pprof"])]), codec="proto")
        self.assertStatus(r, 400, "bad pprof")
        self.assertIn("series 0 sample 0", json.loads(r.body)["message"])
        r = L.connect_call(H, WRITE_RAW, {"series": []})
        self.assertStatus(r, 400, "no series")
        r = L.connect_call(H, "/parca.profilestore.v1alpha1.ProfileStoreService/Other", {})
        self.assertStatus(r, 501, "unknown method")
        r = L.connect_call(HMT, WRITE_RAW, write_raw([([("__name__", "x")], [data])]), codec="proto")
        self.assertStatus(r, 401, "no tenant")


if __name__ == "__main__":
    L.run_tests()
