"""pprof, protobuf and flame-graph helpers of the integration tests (hearth_test_lib re-exports them).

A multipart encoder that writes what Go's mime/multipart writer writes, a
tiny protobuf encoder with PprofBuilder, an independent protobuf and pprof
decoder with the rules by which hearth turns a pprof into stacks, profile
type IDs, and flamebearer decoding and encoding: expected values come from
here, never from hearth's own code.
"""

import gzip
import json
import os
import time
from dataclasses import dataclass, field


# ---------------------------------------------------------------------------
# multipart/form-data, byte for byte like Go's mime/multipart.Writer
# ---------------------------------------------------------------------------

def go_boundary():
    """Go's randomBoundary: 30 random bytes in lowercase hex."""
    return os.urandom(30).hex()


def multipart_encode(parts, boundary=None, close=True):
    """parts: list of (name, filename or None, content_type or None, data bytes).

    Go writes, per part: "--B\\r\\n" (first) or "\\r\\n--B\\r\\n" (later), the
    headers sorted by key, a blank line, the data; Close() writes
    "\\r\\n--B--\\r\\n". CreateFormFile gives Content-Type
    application/octet-stream. Returns (content_type_header, body).
    """
    boundary = boundary or go_boundary()
    out = bytearray()
    for i, (name, filename, ctype, data) in enumerate(parts):
        out += (b"--" if i == 0 else b"\r\n--") + boundary.encode() + b"\r\n"
        disp = 'form-data; name="%s"' % _go_escape_quotes(name)
        if filename is not None:
            disp += '; filename="%s"' % _go_escape_quotes(filename)
            if ctype is None:
                ctype = "application/octet-stream"
        out += b"Content-Disposition: " + disp.encode() + b"\r\n"
        if ctype is not None:
            out += b"Content-Type: " + ctype.encode() + b"\r\n"
        out += b"\r\n" + data
    if close:
        out += b"\r\n--" + boundary.encode() + b"--\r\n"
    return "multipart/form-data; boundary=" + boundary, bytes(out)


def _go_escape_quotes(s):
    return s.replace("\\", "\\\\").replace('"', '\\"')


def go_sdk_multipart(pprof_gz, sample_type_config=None, prev_profile=None):
    """The body the Go SDK posts: part `profile` (+ optional parts)."""
    parts = [("profile", "profile.pprof", None, pprof_gz)]
    if prev_profile is not None:
        parts.append(("prev_profile", "profile.pprof", None, prev_profile))
    if sample_type_config is not None:
        if not isinstance(sample_type_config, bytes):
            sample_type_config = json.dumps(sample_type_config).encode()
        parts.append(("sample_type_config", "sample_type_config.json", None, sample_type_config))
    return multipart_encode(parts)


# ---------------------------------------------------------------------------
# Protobuf wire format: encoder
# ---------------------------------------------------------------------------

def pb_varint(n):
    if n < 0:
        n += 1 << 64  # int64 negative values are 10-byte varints
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pb_key(field_no, wire_type):
    return pb_varint((field_no << 3) | wire_type)


def pb_uint(field_no, v):
    return pb_key(field_no, 0) + pb_varint(v)


def pb_bytes(field_no, data):
    if isinstance(data, str):
        data = data.encode()
    return pb_key(field_no, 2) + pb_varint(len(data)) + data


def pb_packed(field_no, values):
    return pb_bytes(field_no, b"".join(pb_varint(v) for v in values))


def pb_unpacked(field_no, values):
    return b"".join(pb_uint(field_no, v) for v in values)


class PprofBuilder:
    """Builds pprof Profile bytes; every part can be overridden to make bad input.

    Functions, locations and samples are plain dicts so a test can put ids or
    string indexes that do not exist. Strings are interned through s().
    """

    def __init__(self, sample_types=(("cpu", "nanoseconds"),), period_type=("cpu", "nanoseconds"),
                 period=10000000, time_nanos=None, duration_nanos=10 ** 10):
        self.strings = [""]
        self._index = {"": 0}
        self.sample_types = [(self.s(t), self.s(u)) for t, u in sample_types]
        self.period_type = (self.s(period_type[0]), self.s(period_type[1])) if period_type else None
        self.period = period
        self.time_nanos = time_nanos if time_nanos is not None else time.time_ns()
        self.duration_nanos = duration_nanos
        self.functions = []   # dicts: id, name, system_name, filename
        self.locations = []   # dicts: id, address, mapping_id, lines [(function_id, line)]
        self.samples = []     # dicts: locs (leaf first), values, labels [(key_idx, str_idx, num)]
        self.mappings = []
        self.packed = True
        self.extra = b""      # raw bytes appended to the Profile message

    def s(self, text):
        if text not in self._index:
            self._index[text] = len(self.strings)
            self.strings.append(text)
        return self._index[text]

    def func(self, name, system_name="", filename="f.go"):
        fid = len(self.functions) + 1
        self.functions.append({"id": fid, "name": self.s(name), "system_name": self.s(system_name),
                               "filename": self.s(filename)})
        return fid

    def loc(self, *function_ids, address=0, mapping_id=0):
        """A location whose lines are function_ids (first = innermost inlined)."""
        lid = len(self.locations) + 1
        self.locations.append({"id": lid, "address": address, "mapping_id": mapping_id,
                               "lines": [(f, 10 + i) for i, f in enumerate(function_ids)]})
        return lid

    def stack(self, *names):
        """Location ids (leaf first) for a root-first list of function names."""
        ids = []
        for n in names:
            fid = next((f["id"] for f in self.functions if self.strings[f["name"]] == n), None)
            if fid is None:
                fid = self.func(n)
            lid = next((l["id"] for l in self.locations if l["lines"] == [(fid, 10)]), None)
            if lid is None:
                lid = self.loc(fid)
            ids.append(lid)
        return list(reversed(ids))

    def sample(self, locs, values, labels=()):
        """labels: (key, value) string pairs, or raw (key_idx, str_idx, num) triples."""
        raw = []
        for lab in labels:
            if len(lab) == 2:
                raw.append((self.s(lab[0]), self.s(lab[1]), 0))
            else:
                raw.append(tuple(lab))
        self.samples.append({"locs": list(locs), "values": list(values), "labels": raw})

    def encode(self):
        rep = pb_packed if self.packed else pb_unpacked
        out = bytearray()
        for t, u in self.sample_types:
            out += pb_bytes(1, pb_uint(1, t) + pb_uint(2, u))
        for s in self.samples:
            body = rep(1, s["locs"]) + rep(2, s["values"])
            for k, v, num in s["labels"]:
                lab = pb_uint(1, k) + (pb_uint(2, v) if v else b"") + (pb_uint(3, num) if num else b"")
                body += pb_bytes(3, lab)
            out += pb_bytes(2, body)
        for m in self.mappings:
            out += pb_bytes(3, b"".join(pb_uint(k, v) for k, v in m))
        for l in self.locations:
            body = pb_uint(1, l["id"])
            if l.get("mapping_id"):
                body += pb_uint(2, l["mapping_id"])
            if l.get("address"):
                body += pb_uint(3, l["address"])
            for fid, line in l["lines"]:
                body += pb_bytes(4, pb_uint(1, fid) + pb_uint(2, line))
            out += pb_bytes(4, body)
        for f in self.functions:
            body = b""
            if f["id"]:
                body += pb_uint(1, f["id"])
            for no, key in ((2, "name"), (3, "system_name"), (4, "filename")):
                if f[key]:
                    body += pb_uint(no, f[key])
            out += pb_bytes(5, body)
        for st in self.strings:
            out += pb_bytes(6, st.encode() if isinstance(st, str) else st)
        if self.time_nanos:
            out += pb_uint(9, self.time_nanos)
        if self.duration_nanos:
            out += pb_uint(10, self.duration_nanos)
        if self.period_type:
            out += pb_bytes(11, pb_uint(1, self.period_type[0]) + pb_uint(2, self.period_type[1]))
        if self.period:
            out += pb_uint(12, self.period)
        return bytes(out) + self.extra

    def encode_gz(self):
        return gzip.compress(self.encode())


# ---------------------------------------------------------------------------
# Protobuf wire format: independent decoder
# ---------------------------------------------------------------------------

class PbError(ValueError):
    pass


def pb_read_varint(buf, pos):
    result = 0
    shift = 0
    n = len(buf)
    while True:
        if pos >= n:
            raise PbError("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7
        if shift >= 70:
            raise PbError("varint longer than 10 bytes")


def pb_fields(buf):
    """Yield (field_no, wire_type, value) of one message; LEN values are memoryview slices."""
    buf = memoryview(buf)
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = pb_read_varint(buf, pos)
        fno, wt = key >> 3, key & 7
        if fno == 0:
            raise PbError("field number 0")
        if wt == 0:
            v, pos = pb_read_varint(buf, pos)
        elif wt == 1:
            if pos + 8 > n:
                raise PbError("truncated fixed64")
            v = int.from_bytes(buf[pos:pos + 8], "little")
            pos += 8
        elif wt == 2:
            ln, pos = pb_read_varint(buf, pos)
            if pos + ln > n:
                raise PbError("length-delimited field %d runs past the end" % fno)
            v = buf[pos:pos + ln]
            pos += ln
        elif wt == 5:
            if pos + 4 > n:
                raise PbError("truncated fixed32")
            v = int.from_bytes(buf[pos:pos + 4], "little")
            pos += 4
        else:
            raise PbError("unsupported wire type %d (field %d)" % (wt, fno))
        yield fno, wt, v


def pb_repeated_varints(wt, v, out):
    """Append a repeated varint field's value(s): packed (LEN) or one unpacked varint."""
    if wt == 0:
        out.append(v)
    elif wt == 2:
        pos = 0
        while pos < len(v):
            x, pos = pb_read_varint(v, pos)
            out.append(x)
    else:
        raise PbError("repeated varint field with wire type %d" % wt)


def _int64(u):
    return u - (1 << 64) if u >= (1 << 63) else u


def _scalar(wt, v, fno):
    if wt != 0:
        raise PbError("field %d: expected a varint, got wire type %d" % (fno, wt))
    return v


def _msg(wt, v, fno):
    if wt != 2:
        raise PbError("field %d: expected a message, got wire type %d" % (fno, wt))
    return v


# ---------------------------------------------------------------------------
# pprof model and decoding
# ---------------------------------------------------------------------------

class PprofError(ValueError):
    pass


@dataclass
class Function:
    id: int = 0
    name: int = 0
    system_name: int = 0
    filename: int = 0
    start_line: int = 0


@dataclass
class Location:
    id: int = 0
    mapping_id: int = 0
    address: int = 0
    lines: list = field(default_factory=list)   # [(function_id, line)]
    is_folded: bool = False


@dataclass
class Sample:
    location_ids: list = field(default_factory=list)   # leaf first
    values: list = field(default_factory=list)
    labels: list = field(default_factory=list)          # [(key, str, num, num_unit)] string indexes


@dataclass
class Pprof:
    sample_types: list = field(default_factory=list)    # [(type, unit)] as strings
    samples: list = field(default_factory=list)
    mappings: dict = field(default_factory=dict)         # id -> dict
    locations: dict = field(default_factory=dict)        # id -> Location
    functions: dict = field(default_factory=dict)        # id -> Function
    functions_in_order: list = field(default_factory=list)
    locations_in_order: list = field(default_factory=list)
    strings: list = field(default_factory=list)
    time_nanos: int = 0
    duration_nanos: int = 0
    period_type: tuple = ("", "")
    period: int = 0
    default_sample_type: int = 0

    def string(self, idx, what):
        if idx < 0 or idx >= len(self.strings):
            raise PprofError("string index %d out of range (%d strings) in %s" % (
                idx, len(self.strings), what))
        return self.strings[idx]


def maybe_gunzip(data):
    if data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)   # handles concatenated members
    return data


def decode_pprof(data, spy_name=None):
    """Decode pprof bytes (gzip sniffed by magic). Raises PprofError/PbError on bad input.

    spy_name applies the /ingest adjustments of ingest-http.md §5.3
    (dotnetspy function-id and sample-type fixes; pyspy/rbspy/scripting names).
    """
    raw = maybe_gunzip(data)
    p = Pprof()
    st_raw = []
    period_raw = (0, 0)
    for fno, wt, v in pb_fields(raw):
        if fno == 1:
            st_raw.append(_value_type(_msg(wt, v, fno)))
        elif fno == 2:
            p.samples.append(_decode_sample(_msg(wt, v, fno)))
        elif fno == 3:
            m = {}
            for f2, w2, v2 in pb_fields(_msg(wt, v, fno)):
                m[f2] = _scalar(w2, v2, f2)
            p.mappings[m.get(1, 0)] = m
        elif fno == 4:
            loc = _decode_location(_msg(wt, v, fno))
            p.locations_in_order.append(loc)
        elif fno == 5:
            fn = Function()
            for f2, w2, v2 in pb_fields(_msg(wt, v, fno)):
                x = _scalar(w2, v2, f2)
                if f2 == 1:
                    fn.id = x
                elif f2 == 2:
                    fn.name = _int64(x)
                elif f2 == 3:
                    fn.system_name = _int64(x)
                elif f2 == 4:
                    fn.filename = _int64(x)
                elif f2 == 5:
                    fn.start_line = _int64(x)
            p.functions_in_order.append(fn)
        elif fno == 6:
            b = bytes(_msg(wt, v, fno))
            try:
                p.strings.append(b.decode("utf-8"))
            except UnicodeDecodeError:
                raise PprofError("invalid UTF-8 in string_table[%d]" % len(p.strings))
        elif fno == 9:
            p.time_nanos = _int64(_scalar(wt, v, fno))
        elif fno == 10:
            p.duration_nanos = _int64(_scalar(wt, v, fno))
        elif fno == 11:
            period_raw = _value_type(_msg(wt, v, fno))
        elif fno == 12:
            p.period = _int64(_scalar(wt, v, fno))
        elif fno == 14:
            p.default_sample_type = _int64(_scalar(wt, v, fno))
        # 7, 8, 13, 15 and unknown fields: not needed for flame graphs
    if not p.strings or p.strings[0] != "":
        raise PprofError("string_table[0] must be the empty string")
    if not st_raw:
        raise PprofError("empty profile: no sample types")
    p.sample_types = [(p.string(t, "sample type"), p.string(u, "sample unit")) for t, u in st_raw]
    p.period_type = (p.string(period_raw[0], "period type"), p.string(period_raw[1], "period unit"))

    if spy_name == "dotnetspy":
        fns, locs = p.functions_in_order, p.locations_in_order
        if fns and all(f.id == 0 for f in fns) and len(fns) == len(locs):
            for f, l in zip(fns, locs):
                f.id = l.id
        p.sample_types = [(t.replace("-", "_"), u) for t, u in p.sample_types]

    for fn in p.functions_in_order:
        if fn.id == 0:
            raise PprofError("function with id 0")
        if fn.id in p.functions:
            raise PprofError("duplicate function id %d" % fn.id)
        for what in ("name", "system_name", "filename"):
            p.string(getattr(fn, what), "function %d %s" % (fn.id, what))
        p.functions[fn.id] = fn
    for loc in p.locations_in_order:
        if loc.id == 0:
            raise PprofError("location with id 0")
        if loc.id in p.locations:
            raise PprofError("duplicate location id %d" % loc.id)
        for fid, _line in loc.lines:
            if fid not in p.functions:
                raise PprofError("location %d references function id %d which does not exist" % (
                    loc.id, fid))
        p.locations[loc.id] = loc
    for i, s in enumerate(p.samples):
        if len(s.values) != len(p.sample_types):
            raise PprofError("sample %d has %d values, expected %d" % (
                i, len(s.values), len(p.sample_types)))
        for lid in s.location_ids:
            if lid not in p.locations:
                raise PprofError("sample %d references location id %d which does not exist" % (i, lid))
        for k, sv, _n, _u in s.labels:
            p.string(k, "sample %d label key" % i)
            p.string(sv, "sample %d label value" % i)
    for t, _u in p.sample_types:
        if "-" in t:
            raise PprofError("sample type name %r contains '-'" % t)

    if spy_name in ("pyspy", "rbspy", "scripting"):
        for fn in p.functions.values():
            fname = p.strings[fn.filename]
            if spy_name == "pyspy" and fname.startswith("/"):
                continue
            new = "%s %s" % (fname, p.strings[fn.name])
            p.strings.append(new)
            fn.name = len(p.strings) - 1
    return p


def _value_type(buf):
    t = u = 0
    for fno, wt, v in pb_fields(buf):
        if fno == 1:
            t = _int64(_scalar(wt, v, fno))
        elif fno == 2:
            u = _int64(_scalar(wt, v, fno))
    return (t, u)


def _decode_sample(buf):
    s = Sample()
    locs, vals = [], []
    for fno, wt, v in pb_fields(buf):
        if fno == 1:
            pb_repeated_varints(wt, v, locs)
        elif fno == 2:
            pb_repeated_varints(wt, v, vals)
        elif fno == 3:
            lab = {}
            for f2, w2, v2 in pb_fields(_msg(wt, v, fno)):
                lab[f2] = _int64(_scalar(w2, v2, f2))
            s.labels.append((lab.get(1, 0), lab.get(2, 0), lab.get(3, 0), lab.get(4, 0)))
    s.location_ids = locs
    s.values = [_int64(x) for x in vals]
    return s


def _decode_location(buf):
    loc = Location()
    for fno, wt, v in pb_fields(buf):
        if fno == 1:
            loc.id = _scalar(wt, v, fno)
        elif fno == 2:
            loc.mapping_id = _scalar(wt, v, fno)
        elif fno == 3:
            loc.address = _scalar(wt, v, fno)
        elif fno == 4:
            fid = line = 0
            for f2, w2, v2 in pb_fields(_msg(wt, v, fno)):
                if f2 == 1:
                    fid = _scalar(w2, v2, f2)
                elif f2 == 2:
                    line = _int64(_scalar(w2, v2, f2))
            loc.lines.append((fid, line))
        elif fno == 5:
            loc.is_folded = bool(_scalar(wt, v, fno))
    return loc


# ---------------------------------------------------------------------------
# Expected flame-graph content of a pprof (hearth's rules)
# ---------------------------------------------------------------------------

MAX_STACK_DEPTH = 1000   # max_profile_stacktrace_depth default: keep the root-side frames


def sample_frames(p, s):
    """Root-first frame names of one sample.

    Locations come leaf first in the sample, so walk them backwards; inside a
    Location the Lines go from the LAST one (the function the code was inlined
    into) to line[0] (innermost). A frame is the Function's name, or its
    system_name when the name is empty; a Location without lines is one frame
    named by its address in lowercase hex.
    """
    frames = []
    for lid in reversed(s.location_ids):
        loc = p.locations[lid]
        if not loc.lines:
            frames.append("0x%x" % loc.address)
            continue
        for fid, _line in reversed(loc.lines):
            fn = p.functions[fid]
            name = p.strings[fn.name] or p.strings[fn.system_name]
            frames.append(name)
    return frames[:MAX_STACK_DEPTH]


def sample_kept(s):
    """Normalisation: samples with any negative value or with all values zero are dropped."""
    return all(v >= 0 for v in s.values) and any(v != 0 for v in s.values)


@dataclass
class TypeExpectation:
    sample_type: str
    sample_unit: str
    total: int
    self_by_name: dict    # function name -> summed self (only non-zero)
    tree: dict            # root-first path tuple -> [total, self] (only non-zero totals)


def expected_per_type(p):
    """One TypeExpectation per sample type, in sample-type order."""
    out = []
    stacks = [(sample_frames(p, s), s.values) for s in p.samples if sample_kept(s)]
    for i, (t, u) in enumerate(p.sample_types):
        total = 0
        tree = {}
        for frames, values in stacks:
            v = values[i]
            if v == 0:
                continue
            total += v
            add_stack(tree, frames, v)
        out.append(TypeExpectation(t, u, total, self_by_name(tree), tree))
    return out


def add_stack(tree, frames, v):
    """Add a root-first stack with value v to a path->[total, self] tree."""
    path = ()
    for f in frames:
        path = path + (f,)
        node = tree.setdefault(path, [0, 0])
        node[0] += v
    if path:
        tree[path][1] += v


def self_by_name(tree):
    out = {}
    for path, (_total, self_v) in tree.items():
        if self_v:
            out[path[-1]] = out.get(path[-1], 0) + self_v
    return out


def parse_folded(text, lines_mode=False, scale=1):
    """Expected tree of a folded/lines body: {path: [total, self]}, and its total."""
    tree = {}
    total = 0
    for line in text.splitlines():
        if lines_mode:
            if not line.strip():
                continue
            stack, count = line, 1
        else:
            if " " not in line:
                continue
            stack, _, c = line.rpartition(" ")
            count = int(c)
        frames = [f for f in stack.split(";") if f != ""]
        v = count * scale
        if v == 0 or not frames:
            continue
        add_stack(tree, frames, v)
        total += v
    return tree, total


# ---------------------------------------------------------------------------
# Profile type IDs
# ---------------------------------------------------------------------------

DEFAULT_DISPLAY_NAMES = {"samples": "cpu", "goroutine": "goroutines",
                         "contentions": "mutex_count", "delay": "mutex_duration"}


def profile_name(sample_types, stconfig=None):
    """`__name__` heuristic of ingest-http.md §7 (stconfig: parsed sample_type_config or None)."""
    if any(t == "wall" for t in sample_types):
        return "wall"
    st = ""
    for t in sample_types:
        if stconfig is None:
            st = DEFAULT_DISPLAY_NAMES.get(t, t)
        else:
            st = (stconfig.get(t) or {}).get("display-name") or t
        if "cpu" in st:
            return "process_cpu"
        if "alloc_" in st or "inuse_" in st or st in ("space", "objects"):
            return "memory"
        if "mutex_" in st:
            return "mutex"
        if "block_" in st:
            return "block"
        if "goroutines" in st:
            return "goroutines"
    return st


def profile_type_ids(p, stconfig=None):
    """The 5-part profile type IDs of a decoded pprof, one per sample type."""
    name = profile_name([t for t, _u in p.sample_types], stconfig)
    pt, pu = p.period_type
    return ["%s:%s:%s:%s:%s" % (name, t, u, pt, pu) for t, u in p.sample_types]


# Suffix table of ingest-http.md §6 (tree path): suffix -> (name, type, unit, period).
# "SCALED" marks the cpu/wall rows whose type depends on sampleRate.
TREE_SUFFIXES = {
    "cpu": ("process_cpu", "SCALED", "cpu"), "itimer": ("process_cpu", "SCALED", "cpu"),
    "wall": ("wall", "SCALED", "wall"), "seconds": ("wall", "SCALED", "wall"),
    "nanoseconds": ("wall", "SCALED", "wall"), "microseconds": ("wall", "SCALED", "wall"),
    "milliseconds": ("wall", "SCALED", "wall"),
    "inuse_objects": ("memory", "inuse_objects:count", None),
    "inuse_space": ("memory", "inuse_space:bytes", None),
    "alloc_objects": ("memory", "alloc_objects:count", None),
    "alloc_space": ("memory", "alloc_space:bytes", None),
    "goroutines": ("goroutine", "goroutines:count", None),
    "mutex_count": ("mutex", "contentions:count", None),
    "mutex_duration": ("mutex", "delay:nanoseconds", None),
    "block_count": ("block", "contentions:count", None),
    "block_duration": ("block", "delay:nanoseconds", None),
    "lock_count": ("block", "contentions:count", None),
    "lock_duration": ("block", "delay:nanoseconds", None),
    "exceptions": ("exceptions", "samples:count", None),
    "bytes": ("memory", "samples:bytes", None),
    "live": ("memory", "live:count", None),
}


def tree_profile_type(app_name, sample_rate=100):
    """(service_name, profile type id, value scale) for a folded/lines upload."""
    app, dot, suffix = app_name.rpartition(".")
    if not dot:
        app, suffix = app_name, "cpu"
    name, st, period = TREE_SUFFIXES[suffix]
    if st == "SCALED":
        if sample_rate > 0:
            kind = "cpu" if period == "cpu" else "wall"
            return app, "%s:%s:nanoseconds:%s:nanoseconds" % (name, kind, kind), 1000000000 // sample_rate
        return app, "%s:samples:count::" % name, 1
    return app, "%s:%s::" % (name, st), 1


# ---------------------------------------------------------------------------
# Flamebearer
# ---------------------------------------------------------------------------

def expected_metadata(profile_type_id, fmt="single"):
    """Flamebearer `metadata` for a profile type (render-http.md §4)."""
    parts = profile_type_id.split(":")
    st, su = parts[1], parts[2]
    if st == "cpu":
        units = "samples"
    elif st in ("inuse_objects", "alloc_objects", "goroutine", "samples"):
        units = "objects"
    else:
        units = su
    return {"format": fmt, "spyName": "", "sampleRate": 1000000000 if st == "cpu" else 100,
            "units": units, "name": st}


def flamebearer_tree(fb, width=4, side=0):
    """Decode flamebearer levels into {path: [total, self]} (connect-apis.md §4.3 step 8).

    width 4 = single; width 7 = diff, side 0 = left, 1 = right. Nodes whose
    total is 0 are left out (they carry nothing). Returns (tree, root_total).
    """
    names = fb["names"]
    levels = fb["levels"]
    off = 3 * side
    prev = []      # (x, end, path) of the previous level
    tree = {}
    root_total = None
    for depth, lv in enumerate(levels):
        if len(lv) % width:
            raise AssertionError("level %d has %d numbers, not a multiple of %d" % (depth, len(lv), width))
        cur = []
        end = 0
        for g in range(0, len(lv), width):
            xd, total, self_v = lv[g + off], lv[g + off + 1], lv[g + off + 2]
            name = names[lv[g + width - 1]]
            x = end + xd
            end = x + total
            if depth == 0:
                root_total = total
                path = ()
            else:
                parent = None
                for px, pend, ppath in prev:
                    if px <= x and end <= pend:
                        parent = ppath
                        break
                if parent is None:
                    raise AssertionError("level %d node %r at [%d,%d) has no parent span" % (
                        depth, name, x, end))
                path = parent + (name,)
            cur.append((x, end, path))
            if depth > 0 and total:
                node = tree.setdefault(path, [0, 0])
                node[0] += total
                node[1] += self_v
        prev = cur
    return tree, root_total


def encode_single(tree, max_nodes=0):
    """Flamebearer names/levels of a {path: [total, self]} tree (connect-apis.md §4.3).

    Used as an independent expectation for small hand-made trees.
    """
    children = {(): []}
    for path in sorted(tree):
        children.setdefault(path, [])
        children.setdefault(path[:-1], []).append(path)
    for k in children:
        children[k].sort(key=lambda p: p[-1].encode())
    total = sum(tree[p][0] for p in children[()])
    threshold = 0
    if max_nodes > 0:
        totals = sorted((v[0] for v in tree.values()), reverse=True)
        if len(totals) >= max_nodes:
            threshold = totals[max_nodes - 1]
    names, name_idx = [], {}

    def nid(n):
        if n not in name_idx:
            name_idx[n] = len(names)
            names.append(n)
        return name_idx[n]

    levels = []
    # stack entries: (depth, x, name, total, self, child paths)
    stack = [(0, 0, "total", total, 0, children[()])]
    rows = {}
    while stack:
        depth, x, name, ntotal, nself, kids = stack.pop()
        rows.setdefault(depth, []).append((x, ntotal, nself, nid(name)))
        cx = x + nself
        kept, other = [], 0
        for k in kids:
            if tree[k][0] >= threshold and k[-1] != "other":
                kept.append((depth + 1, cx, k[-1], tree[k][0], tree[k][1], children.get(k, [])))
                cx += tree[k][0]
            else:
                other += tree[k][0]
        if other > 0:
            kept.append((depth + 1, cx, "other", other, other, []))
        stack.extend(kept)
    max_self = 0
    for depth in sorted(rows):
        row = sorted(rows[depth])
        flat, end = [], 0
        for x, t, s, n in row:
            flat += [x - end, t, s, n]
            end = x + t
            max_self = max(max_self, s)
        levels.append(flat)
    return {"names": names, "levels": levels, "numTicks": total, "maxSelf": max_self}


def diff_dicts(expected, got, limit=15):
    """Human-readable differences between two dicts (expected vs got)."""
    out = []
    for k in sorted(set(expected) | set(got), key=repr):
        e, g = expected.get(k), got.get(k)
        if e != g:
            out.append("  %r: expected %r, got %r" % (k, e, g))
    more = "" if len(out) <= limit else "\n  ... %d more differences" % (len(out) - limit)
    return "\n".join(out[:limit]) + more
