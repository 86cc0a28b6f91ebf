#!/usr/bin/env bash
# A local hearth cluster on loopback: ingesters, distributors, one querier,
# Debian's nginx in front (and Debian's etcd with HEARTH_MEMBERSHIP=etcd).
#
#   deploy/local/cluster.sh up DIR      start; prints the front URL last
#   deploy/local/cluster.sh status DIR  one line per process
#   deploy/local/cluster.sh down DIR    stop everything `up` started
#
# Every file lives under DIR: DIR/cluster.env (the layout `up` chose, read
# back by status and down), DIR/<name>/ (an ingester's -storage.path),
# DIR/logs/<name>.log, DIR/pids/<name>.pid, DIR/nginx/nginx.conf, DIR/etcd/.
#
# Environment (read by `up` only):
#   HEARTH_BIN           hearth binary (default: <source>/build/cmd/hearth)
#   HEARTH_BASE_PORT     first port of the layout below (default 4100)
#   HEARTH_RF            -ring.replication-factor (default 3)
#   HEARTH_SHARD_SIZE    -ring.shard-size (default: hearth's, 4)
#   HEARTH_MEMBERSHIP    static (default: -ring.members lists the ingesters)
#                        or etcd (ingesters register in an etcd this script
#                        starts; distributors and the querier watch it)
#   HEARTH_INGESTERS     number of ingesters, 1..9 (default 3)
#   HEARTH_DISTRIBUTORS  number of distributors, 1..9 (default 2)
#   HEARTH_EXTRA_FLAGS   extra flags for every hearth process
#                        (e.g. "-limits.reject-older-than=0")
#   HEARTH_READY_TIMEOUT seconds `up` waits for the cluster (default 60)
#   HEARTH_STOP_TIMEOUT  seconds `down` waits after SIGTERM before SIGKILL
#                        (default 20)
#
# Port layout (B = HEARTH_BASE_PORT):
#   B          nginx: the front URL (ingest → distributors, rest → querier)
#   B+1        querier HTTP
#   B+10+i     distributor-i HTTP            (i = 1..9)
#   B+20+i     ingester-i HTTP
#   B+30+i     ingester-i internal RPC (nng tcp)
#   B+40, B+41 etcd client and peer ports (HEARTH_MEMBERSHIP=etcd)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

usage() {
	echo "usage: $0 up|down|status DIR" >&2
	exit 2
}

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

# HTTP status of GET url (000 when nothing answered).
http_code() {
	curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

# Is process $1 running? A zombie is not: processes started by `up`
# outlive its shell, so their parent is whatever reaps orphans, and it may
# take a while to do so.
running() {
	local state
	state="$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" || return 1
	[ -n "$state" ] && [ "$state" != Z ]
}

# Is the process of pid file $1 running and still the one we started
# (its command line contains $2)? Guards against a recycled pid.
pid_alive() {
	local pidfile="$1" want="$2" pid
	[ -f "$pidfile" ] || return 1
	pid="$(cat "$pidfile" 2>/dev/null || true)"
	[ -n "$pid" ] || return 1
	running "$pid" || return 1
	tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$want"
}

# start NAME CMD...: run CMD in the background, stdout+stderr to
# DIR/logs/NAME.log, pid in DIR/pids/NAME.pid, command line (for `down`'s
# recycled-pid check) in DIR/pids/NAME.cmd.
start() {
	local name="$1"
	shift
	nohup "$@" </dev/null >"$dir/logs/$name.log" 2>&1 &
	echo $! >"$dir/pids/$name.pid"
	echo "$1" >"$dir/pids/$name.cmd"
}

# wait_for DEADLINE WHAT CHECK...: run CHECK until it succeeds or the
# deadline (epoch seconds) passes.
wait_for() {
	local deadline="$1" what="$2"
	shift 2
	until "$@"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "cluster.sh: timed out waiting for $what" >&2
			return 1
		fi
		sleep 0.2
	done
}

is_ready() {
	[ "$(http_code "$1")" = 200 ]
}

# Does GET $1/ring (JSON) list exactly $2 members, all ACTIVE?
ring_active() {
	local body total active
	body="$(curl -s --max-time 2 -H 'Accept: application/json' "$1/ring" 2>/dev/null || true)"
	total="$(printf '%s' "$body" | grep -o '"state": *"[A-Z]*"' | wc -l)"
	active="$(printf '%s' "$body" | grep -o '"state": *"ACTIVE"' | wc -l)"
	[ "$total" -eq "$2" ] && [ "$active" -eq "$2" ]
}

# A process exited before it became ready: show its log and stop.
check_alive() {
	local name="$1"
	if ! pid_alive "$dir/pids/$name.pid" "$(cat "$dir/pids/$name.cmd")"; then
		echo "cluster.sh: $name exited; last lines of $dir/logs/$name.log:" >&2
		tail -n 30 "$dir/logs/$name.log" >&2 || true
		return 1
	fi
}

wait_ready() {
	local deadline="$1" name="$2" url="$3"
	until is_ready "$url/ready"; do
		check_alive "$name" || return 1
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "cluster.sh: $name ($url) not ready in time; see $dir/logs/$name.log" >&2
			return 1
		fi
		sleep 0.2
	done
}

cmd_up() {
	local base rf membership n_ing n_dist timeout bin deadline ring_flags i
	local members="" extra=()
	base="${HEARTH_BASE_PORT:-4100}"
	rf="${HEARTH_RF:-3}"
	membership="${HEARTH_MEMBERSHIP:-static}"
	n_ing="${HEARTH_INGESTERS:-3}"
	n_dist="${HEARTH_DISTRIBUTORS:-2}"
	timeout="${HEARTH_READY_TIMEOUT:-60}"
	bin="${HEARTH_BIN:-}"
	if [ -z "$bin" ]; then
		bin="$root/build/cmd/hearth"
		[ -x "$bin" ] || bin="$root/build/hearth"
	fi
	[ -x "$bin" ] || die "hearth binary not found: $bin (set HEARTH_BIN)"
	bin="$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
	case "$membership" in
	static | etcd) ;;
	*) die "HEARTH_MEMBERSHIP must be static or etcd, not '$membership'" ;;
	esac
	[[ "$n_ing" =~ ^[1-9]$ ]] || die "HEARTH_INGESTERS must be 1..9, not '$n_ing'"
	[[ "$n_dist" =~ ^[1-9]$ ]] || die "HEARTH_DISTRIBUTORS must be 1..9, not '$n_dist'"
	if ! [[ "$base" =~ ^[0-9]+$ ]] || [ "$base" -lt 1024 ] || [ "$base" -gt 65490 ]; then
		die "HEARTH_BASE_PORT must be 1024..65490, not '$base'"
	fi
	command -v curl >/dev/null || die "curl not found (apt-get install curl)"
	command -v nginx >/dev/null || die "nginx not found (apt-get install nginx)"
	if [ "$membership" = etcd ]; then
		command -v etcd >/dev/null || die "etcd not found (apt-get install etcd-server)"
	fi
	if [ -f "$dir/cluster.env" ] && any_alive; then
		die "a cluster is already running under $dir (run: $0 down $dir)"
	fi
	if [ -n "${HEARTH_EXTRA_FLAGS:-}" ]; then
		read -r -a extra <<<"$HEARTH_EXTRA_FLAGS"
	fi

	mkdir -p "$dir/logs" "$dir/pids" "$dir/nginx"
	dir="$(cd "$dir" && pwd)"
	local front=$base querier_port=$((base + 1))
	local etcd_port=$((base + 40)) etcd_peer=$((base + 41))
	{
		echo "FRONT_PORT=$front"
		echo "QUERIER_PORT=$querier_port"
		echo "INGESTERS=$n_ing"
		echo "DISTRIBUTORS=$n_dist"
		echo "BASE_PORT=$base"
		echo "MEMBERSHIP=$membership"
		echo "ETCD_PORT=$etcd_port"
	} >"$dir/cluster.env"
	deadline=$(($(date +%s) + timeout))

	# Every process that fails to come up leaves the others running for
	# inspection; `down` stops them.
	for i in $(seq 1 "$n_ing"); do
		members="${members:+$members,}ingester-$i=127.0.0.1:$((base + 30 + i))"
	done
	if [ "$membership" = etcd ]; then
		mkdir -p "$dir/etcd"
		start etcd etcd --name hearth-local --data-dir "$dir/etcd" \
			--listen-client-urls "http://127.0.0.1:$etcd_port" \
			--advertise-client-urls "http://127.0.0.1:$etcd_port" \
			--listen-peer-urls "http://127.0.0.1:$etcd_peer" \
			--initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer" \
			--initial-cluster "hearth-local=http://127.0.0.1:$etcd_peer"
		until is_ready "http://127.0.0.1:$etcd_port/health"; do
			check_alive etcd || exit 1
			[ "$(date +%s)" -lt "$deadline" ] || die "etcd not healthy in time; see $dir/logs/etcd.log"
			sleep 0.2
		done
		ring_flags=("-ring.etcd-endpoints=http://127.0.0.1:$etcd_port")
	else
		ring_flags=("-ring.members=$members")
	fi

	for i in $(seq 1 "$n_ing"); do
		mkdir -p "$dir/ingester-$i"
		start "ingester-$i" "$bin" -target=ingester \
			-server.http-listen-address=127.0.0.1 \
			-server.http-listen-port=$((base + 20 + i)) \
			-storage.path="$dir/ingester-$i" \
			-ring.listen-address=127.0.0.1 \
			-ring.listen-port=$((base + 30 + i)) \
			-ring.instance-id="ingester-$i" \
			-ring.instance-addr="127.0.0.1:$((base + 30 + i))" \
			"${ring_flags[@]}" ${extra[@]+"${extra[@]}"}
	done
	local rflags=("${ring_flags[@]}" "-ring.replication-factor=$rf")
	if [ -n "${HEARTH_SHARD_SIZE:-}" ]; then
		rflags+=("-ring.shard-size=$HEARTH_SHARD_SIZE")
	fi
	for i in $(seq 1 "$n_dist"); do
		mkdir -p "$dir/distributor-$i"
		start "distributor-$i" "$bin" -target=distributor \
			-server.http-listen-address=127.0.0.1 \
			-server.http-listen-port=$((base + 10 + i)) \
			-storage.path="$dir/distributor-$i" \
			"${rflags[@]}" ${extra[@]+"${extra[@]}"}
	done
	mkdir -p "$dir/querier"
	start querier "$bin" -target=querier \
		-server.http-listen-address=127.0.0.1 \
		-server.http-listen-port="$querier_port" \
		-storage.path="$dir/querier" \
		"${rflags[@]}" ${extra[@]+"${extra[@]}"}

	local ups=""
	for i in $(seq 1 "$n_dist"); do
		ups="$ups		server 127.0.0.1:$((base + 10 + i)) max_fails=0;"$'\n'
	done
	ups="${ups%$'\n'}"
	local tmpl="$here/nginx.conf.in" conf="$dir/nginx/nginx.conf" line
	: >"$conf"
	while IFS= read -r line || [ -n "$line" ]; do
		if [ "$line" = "@DISTRIBUTORS@" ]; then
			printf '%s\n' "$ups" >>"$conf"
			continue
		fi
		line="${line//@DIR@/$dir}"
		line="${line//@FRONT_PORT@/$front}"
		line="${line//@QUERIER_PORT@/$querier_port}"
		printf '%s\n' "$line" >>"$conf"
	done <"$tmpl"
	nginx -t -q -p "$dir/nginx" -c "$conf" 2>"$dir/logs/nginx-check.log" ||
		die "nginx rejected $conf: $(cat "$dir/logs/nginx-check.log")"
	start nginx nginx -p "$dir/nginx" -c "$conf"

	for i in $(seq 1 "$n_ing"); do
		wait_ready "$deadline" "ingester-$i" "http://127.0.0.1:$((base + 20 + i))" || exit 1
	done
	for i in $(seq 1 "$n_dist"); do
		wait_ready "$deadline" "distributor-$i" "http://127.0.0.1:$((base + 10 + i))" || exit 1
	done
	wait_ready "$deadline" querier "http://127.0.0.1:$querier_port" || exit 1
	wait_ready "$deadline" nginx "http://127.0.0.1:$front" || exit 1
	# Routing roles see every ingester ACTIVE: writes reach quorum and
	# queries reach every replica from the first request on.
	for i in $(seq 1 "$n_dist"); do
		wait_for "$deadline" "distributor-$i's /ring to show $n_ing ACTIVE ingesters" \
			ring_active "http://127.0.0.1:$((base + 10 + i))" "$n_ing" || exit 1
	done
	wait_for "$deadline" "the querier's /ring to show $n_ing ACTIVE ingesters" \
		ring_active "http://127.0.0.1:$querier_port" "$n_ing" || exit 1
	echo "cluster.sh: $n_ing ingesters, $n_dist distributors, 1 querier (RF $rf, $membership membership); files in $dir" >&2
	echo "http://127.0.0.1:$front"
}

# Names of the processes of DIR in the order they are stopped: the front
# first (no new requests), then distributors and the querier, then the
# ingesters (which revoke their etcd leases), etcd last.
names_in_stop_order() {
	local f n
	[ -f "$dir/pids/nginx.pid" ] && echo nginx
	for f in "$dir"/pids/distributor-*.pid "$dir/pids/querier.pid" "$dir"/pids/ingester-*.pid; do
		[ -f "$f" ] || continue
		n="$(basename "$f" .pid)"
		echo "$n"
	done
	[ -f "$dir/pids/etcd.pid" ] && echo etcd
	return 0
}

any_alive() {
	local n
	for n in $(names_in_stop_order); do
		if pid_alive "$dir/pids/$n.pid" "$(cat "$dir/pids/$n.cmd" 2>/dev/null || echo '?')"; then
			return 0
		fi
	done
	return 1
}

stop_one() {
	local n="$1" limit="$2" pid want end
	want="$(cat "$dir/pids/$n.cmd" 2>/dev/null || echo '?')"
	pid="$(cat "$dir/pids/$n.pid" 2>/dev/null || true)"
	if [ -n "$pid" ] && pid_alive "$dir/pids/$n.pid" "$want"; then
		kill -TERM "$pid" 2>/dev/null || true
		end=$(($(date +%s) + limit))
		while running "$pid"; do
			if [ "$(date +%s)" -ge "$end" ]; then
				echo "cluster.sh: $n (pid $pid) ignored SIGTERM for ${limit}s; SIGKILL" >&2
				kill -KILL "$pid" 2>/dev/null || true
				break
			fi
			sleep 0.1
		done
		echo "cluster.sh: stopped $n (pid $pid)" >&2
	fi
	rm -f "$dir/pids/$n.pid" "$dir/pids/$n.cmd"
}

cmd_down() {
	local limit="${HEARTH_STOP_TIMEOUT:-20}" n
	[ -d "$dir/pids" ] || {
		echo "cluster.sh: nothing to stop under $dir" >&2
		return 0
	}
	for n in $(names_in_stop_order); do
		stop_one "$n" "$limit"
	done
	return 0
}

cmd_status() {
	local n pid url code state rc=0
	local FRONT_PORT QUERIER_PORT BASE_PORT ETCD_PORT
	[ -f "$dir/cluster.env" ] || die "no cluster under $dir (no cluster.env)"
	# shellcheck disable=SC1091
	. "$dir/cluster.env"
	for n in $(names_in_stop_order); do
		pid="$(cat "$dir/pids/$n.pid" 2>/dev/null || true)"
		case "$n" in
		nginx) url="http://127.0.0.1:$FRONT_PORT/ready" ;;
		querier) url="http://127.0.0.1:$QUERIER_PORT/ready" ;;
		distributor-*) url="http://127.0.0.1:$((BASE_PORT + 10 + ${n#distributor-}))/ready" ;;
		ingester-*) url="http://127.0.0.1:$((BASE_PORT + 20 + ${n#ingester-}))/ready" ;;
		etcd) url="http://127.0.0.1:$ETCD_PORT/health" ;;
		esac
		if pid_alive "$dir/pids/$n.pid" "$(cat "$dir/pids/$n.cmd" 2>/dev/null || echo '?')"; then
			code="$(http_code "$url")"
			state="running"
		else
			code="-"
			state="stopped"
			rc=1
		fi
		printf '%-14s pid %-8s %-8s %s -> %s\n' "$n" "${pid:--}" "$state" "$url" "$code"
	done
	echo "http://127.0.0.1:$FRONT_PORT"
	return "$rc"
}

[ $# -eq 2 ] || usage
dir="$2"
case "$1" in
up)
	trap 'rc=$?; [ "$rc" -eq 0 ] || echo "cluster.sh: up failed; what started keeps running for inspection; stop it with: $0 down $dir" >&2' EXIT
	cmd_up
	;;
down) cmd_down ;;
status) cmd_status ;;
*) usage ;;
esac
