#!/usr/bin/env bash
# Runs every tests/integration/test_*.py against one hearth binary.
#
#   HEARTH_BIN=build/hearth tests/integration/run.sh [test_x.py ...]
#
# HEARTH_BIN defaults to <source>/build/cmd/hearth, HEARTH_TESTDATA to
# <source>/../shared/testdata. Each file starts its own hearth processes on
# 127.0.0.1. Prints one line per file and a closing "N passed, N failed"
# line; the exit status is the number of failed tests (capped at 100).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
if [ -z "${HEARTH_BIN:-}" ]; then
	HEARTH_BIN="$root/build/cmd/hearth"
	[ -x "$HEARTH_BIN" ] || HEARTH_BIN="$root/build/hearth"
fi
export HEARTH_BIN
export HEARTH_TESTDATA="${HEARTH_TESTDATA:-$(cd "$root/.." && pwd)/shared/testdata}"

if [ ! -x "$HEARTH_BIN" ]; then
	echo "run.sh: hearth binary not found: $HEARTH_BIN (set HEARTH_BIN)" >&2
	exit 1
fi

if [ $# -gt 0 ]; then
	files=("$@")
else
	files=("$here"/test_*.py)
fi

total_pass=0
total_fail=0
summary=""
for f in "${files[@]}"; do
	name="$(basename "$f")"
	log="$(mktemp "${TMPDIR:-/tmp}/hearth-it-${name%.py}.XXXXXX")"
	start=$(date +%s)
	# The Python side bounds every wait; timeout is a last resort.
	timeout 600 python3 "$here/$name" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	line="$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)"
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
		fl=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	else
		p=0
		fl=1   # crashed before unittest could report
	fi
	if [ "$rc" -ne 0 ] && [ "$fl" -eq 0 ]; then
		fl=1   # e.g. tearDownModule found a sanitizer report
	fi
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + fl))
	if [ "$fl" -ne 0 ]; then
		echo "==== $name: FAILED (exit $rc), output follows ===="
		cat "$log"
		status="FAIL"
	else
		status="ok"
	fi
	summary="$summary$(printf '%-28s %-4s %3d passed, %3d failed  (%ds)' "$name" "$status" "$p" "$fl" "$secs")"$'\n'
	rm -f "$log"
done

echo "==== integration summary ($HEARTH_BIN) ===="
printf '%s' "$summary"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -gt 100 ] && total_fail=100
exit "$total_fail"
