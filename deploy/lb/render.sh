#!/usr/bin/env bash
# Fills the placeholders of a multi-tenant gateway template and prints the
# configuration:
#
#   LB_DIR=/var/lib/hearth-lb LB_LISTEN=0.0.0.0:8080 \
#   LB_CREDENTIALS=/etc/hearth-lb/nginx-credentials.map \
#   LB_DISTRIBUTORS=10.0.0.21:4040,10.0.0.22:4040 LB_QUERIERS=10.0.0.31:4040 \
#     deploy/lb/render.sh nginx >/etc/hearth-lb/nginx.conf
#
# KIND is nginx (nginx-multitenant.conf.in) or haproxy
# (haproxy-multitenant.cfg.in). Every LB_* variable is required; LB_DIR and
# LB_CREDENTIALS must be absolute paths. Check the result with
# `nginx -t -p LB_DIR -c FILE` or `haproxy -c -f FILE`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

die() {
	echo "render.sh: $*" >&2
	exit 1
}

[ $# -eq 1 ] || {
	echo "usage: LB_DIR=... LB_LISTEN=... LB_CREDENTIALS=... LB_DISTRIBUTORS=... LB_QUERIERS=... $0 nginx|haproxy" >&2
	exit 2
}
kind="$1"
case "$kind" in
nginx) tmpl="$here/nginx-multitenant.conf.in" ;;
haproxy) tmpl="$here/haproxy-multitenant.cfg.in" ;;
*) die "KIND must be nginx or haproxy, not '$kind'" ;;
esac
for v in LB_DIR LB_LISTEN LB_CREDENTIALS LB_DISTRIBUTORS LB_QUERIERS; do
	[ -n "${!v:-}" ] || die "$v is not set"
done
[[ "$LB_DIR" == /* ]] || die "LB_DIR must be an absolute path, not '$LB_DIR'"
[[ "$LB_CREDENTIALS" == /* ]] || die "LB_CREDENTIALS must be an absolute path, not '$LB_CREDENTIALS'"
addr_re='^[][A-Za-z0-9.:_-]+:[0-9]+$'
[[ "$LB_LISTEN" =~ $addr_re ]] || die "LB_LISTEN must be HOST:PORT, not '$LB_LISTEN'"

# servers PREFIX LIST: the server lines of one upstream / backend.
servers() {
	local prefix="$1" list="$2" a i=0
	local -a addrs
	IFS=',' read -r -a addrs <<<"$list"
	[ "${#addrs[@]}" -gt 0 ] || die "empty server list"
	for a in "${addrs[@]}"; do
		[[ "$a" =~ $addr_re ]] || die "'$a' is not HOST:PORT"
		i=$((i + 1))
		if [ "$kind" = nginx ]; then
			# max_fails=0: a server is never marked down, so a restarted
			# one gets traffic the moment it listens again.
			printf '\t\tserver %s max_fails=0;\n' "$a"
		else
			printf '\tserver %s-%d %s check\n' "$prefix" "$i" "$a"
		fi
	done
}

dist="$(servers distributor "$LB_DISTRIBUTORS")"
quer="$(servers querier "$LB_QUERIERS")"
while IFS= read -r line || [ -n "$line" ]; do
	case "$line" in
	@DISTRIBUTORS@) printf '%s\n' "$dist" ;;
	@QUERIERS@) printf '%s\n' "$quer" ;;
	*)
		line="${line//@DIR@/$LB_DIR}"
		line="${line//@LISTEN@/$LB_LISTEN}"
		line="${line//@CREDENTIALS@/$LB_CREDENTIALS}"
		printf '%s\n' "$line"
		;;
	esac
done <"$tmpl"
