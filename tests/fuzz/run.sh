#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/<name>_fuzz.c) with clang,
# ASan and UBSan into its own build directory, then runs each one for a
# bounded time on its seed corpus and fails on any finding (crash, sanitizer
# report, leak, timeout, out-of-memory).
#
#   tests/fuzz/run.sh [target ...]        # default: every target built
#
# Environment:
#   FUZZ_SECONDS  time per target (default 30)
#   FUZZ_JOBS     targets run at once (default 2; each uses one core)
#   FUZZ_BUILD    build directory (default <source>/build-fuzz)
#
# With the defaults (14 targets, 2 at a time, 30 s each) the runs take about
# 3.5 minutes and the whole step stays under 5 minutes on 2 cores once the
# build directory exists (a first build adds a minute or two).
#
# Seeds: tests/fuzz/corpus/<target>/ and, for the targets that read pprof
# (pprof, ingest), ../shared/testdata/pprof. New inputs found while fuzzing go
# to a scratch directory, not into the source tree. An input that fails is
# written to tests/fuzz/corpus/<target>/ as crash-<sha1> (or leak-, timeout-,
# oom-): it stays there as a regression input (every later run replays it
# first) and fails the run until the bug is fixed; commit it with the fix.
#
# Prints one line per target: executions, seconds, new coverage, result.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
shared="$(cd "$root/.." && pwd)/shared/testdata"
seconds="${FUZZ_SECONDS:-30}"
jobs="${FUZZ_JOBS:-2}"
build="${FUZZ_BUILD:-$root/build-fuzz}"

if ! command -v clang >/dev/null; then
	echo "fuzz: clang not found (scripts/install-deps.sh installs it)" >&2
	exit 1
fi
CC=clang cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DHEARTH_FUZZ=ON >/dev/null || exit 1

all=()
for src in "$here"/*_fuzz.c; do
	all+=("$(basename "$src" .c)")
done
if [ $# -gt 0 ]; then
	targets=()
	for t in "$@"; do targets+=("${t%_fuzz}_fuzz"); done
else
	targets=("${all[@]}")
fi
if ! cmake --build "$build" --target "${targets[@]}" >"$build/fuzz-build.log" 2>&1; then
	tail -n 40 "$build/fuzz-build.log"
	echo "fuzz: build failed (log: $build/fuzz-build.log)" >&2
	exit 1
fi

scratch="$(mktemp -d "${TMPDIR:-/tmp}/hearth-fuzz.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

# One target: run, then write "<exit> <execs> <new cov>" for the summary.
run_one() {
	local t="$1" name="${1%_fuzz}"
	local work="$scratch/$t" seeds=() log="$scratch/$t.log"
	mkdir -p "$work" "$here/corpus/$name"
	seeds+=("$here/corpus/$name")
	case "$name" in
	pprof | ingest) [ -d "$shared/pprof" ] && seeds+=("$shared/pprof") ;;
	esac
	# The scratch dir comes first: libFuzzer adds what it finds there.
	# -timeout: one input may take 10 s; -rss_limit_mb: the process 2 GiB.
	"$build/tests/$t" -max_total_time="$seconds" -print_final_stats=1 \
		-timeout=10 -rss_limit_mb=2048 -max_len=1048576 \
		-artifact_prefix="$here/corpus/$name/" \
		"$work" "${seeds[@]}" >"$log" 2>&1
	local rc=$?
	local execs cov
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	cov=$(grep -Eo 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
	echo "$rc ${execs:-0} ${cov:-0}" >"$scratch/$t.result"
}

running=0
for t in "${targets[@]}"; do
	if [ ! -x "$build/tests/$t" ]; then
		echo "fuzz: $t was not built (is it in tests/CMakeLists.txt?)" >&2
		echo "1 0 0" >"$scratch/$t.result"
		continue
	fi
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

failed=0
echo "==== fuzz summary (${seconds}s per target, ASan+UBSan) ===="
printf '%-16s %12s %8s  %s\n' target executions coverage result
for t in "${targets[@]}"; do
	read -r rc execs cov <"$scratch/$t.result"
	if [ "$rc" -eq 0 ]; then
		res="ok"
	else
		res="FAILED (exit $rc)"
		failed=$((failed + 1))
	fi
	printf '%-16s %12s %8s  %s\n' "${t%_fuzz}" "$execs" "$cov" "$res"
done
for t in "${targets[@]}"; do
	read -r rc _ _ <"$scratch/$t.result"
	if [ "$rc" -ne 0 ] && [ -f "$scratch/$t.log" ]; then
		echo "==== $t: last lines of its log ===="
		grep -v '^#[0-9]' "$scratch/$t.log" | tail -n 40
		ls "$here/corpus/${t%_fuzz}"/{crash,leak,timeout,oom}-* 2>/dev/null |
			sed 's/^/regression input kept: /'
	fi
done
[ "$failed" -eq 0 ] && echo "fuzz: every target ran clean" || echo "fuzz: $failed target(s) failed"
exit "$failed"
