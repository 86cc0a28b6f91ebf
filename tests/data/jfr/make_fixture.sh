#!/usr/bin/env bash
# Regenerates the JFR test fixture with a real JVM (needs a JDK: javac, java,
# jfr; e.g. Debian's openjdk-17-jdk-headless). Not part of the test run: the
# recording and what the JDK's own reader says it holds are committed.
#
#   burn.jfr.gz          a 3-second JDK Flight Recorder recording of Burn.java
#                        (hearth-test.jfc: execution samples every 10 ms,
#                        allocation samples, monitor enters, thread parks)
#   burn.expected.json   per event type, read with `jfr print --json` (the
#                        JDK's parser, not hearth's): the number of events,
#                        the sum of durations (ns) and of allocation weights,
#                        and per leaf frame "<class>.<method>" those sums
#
# The integration test (tests/integration/test_jfr.py) ingests the recording
# and checks hearth's flame graphs against the expected file.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cp "$here/Burn.java" "$tmp/"
(cd "$tmp" && javac Burn.java &&
	java -XX:StartFlightRecording=filename="$tmp/burn.jfr",settings="$here/hearth-test.jfc" \
		-cp "$tmp" Burn 3000)
events="jdk.ExecutionSample,jdk.ObjectAllocationSample,jdk.JavaMonitorEnter,jdk.ThreadPark"
jfr print --json --events "$events" "$tmp/burn.jfr" >"$tmp/burn.json"
python3 - "$tmp/burn.json" "$here/burn.expected.json" <<'PY'
import json, re, sys
from decimal import Decimal

def ns(iso):  # "PT0.004791159S", "PT1M2.5S", ...
    m = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:([\d.]+)S)?", iso)
    h, mi, s = m.groups()
    return int((Decimal(h or 0) * 3600 + Decimal(mi or 0) * 60 + Decimal(s or 0)) * 10**9)

def leaf(ev):
    st = ev["values"].get("stackTrace")
    if not st or not st["frames"]:
        return ""
    m = st["frames"][0]["method"]
    return "%s.%s" % (m["type"]["name"], m["name"])

out = {}
for ev in json.load(open(sys.argv[1]))["recording"]["events"]:
    t = out.setdefault(ev["type"], {"count": 0, "duration_ns": 0, "weight": 0, "self": {}})
    d = ns(ev["values"]["duration"]) if "duration" in ev["values"] else 0
    w = int(ev["values"].get("weight", 0))
    t["count"] += 1
    t["duration_ns"] += d
    t["weight"] += w
    s = t["self"].setdefault(leaf(ev), [0, 0, 0])
    s[0] += 1
    s[1] += d
    s[2] += w
json.dump(out, open(sys.argv[2], "w"), indent=1, sort_keys=True)
PY
gzip -9 -n -c "$tmp/burn.jfr" >"$here/burn.jfr.gz"
echo "wrote $here/burn.jfr.gz and $here/burn.expected.json"
