#!/usr/bin/env bash
# Installs the Debian 12 packages hearth needs to build, run and test.
# Used by `make run`, `make test`, CI and the Dockerfile, so they cannot drift.
# Only missing packages are installed; sudo is used when not root.
set -euo pipefail

BUILD_PKGS=(pkg-config cmake ninja-build gcc clang libclang-rt-14-dev
  libnng-dev libprotobuf-c-dev protobuf-c-compiler libmicrohttpd-dev libyaml-dev
  libcmocka-dev zlib1g-dev libxxhash-dev libpcre2-dev libcurl4-openssl-dev librocksdb-dev libzstd-dev
  libssl-dev libcrypt-dev)
TEST_PKGS=(python3 curl golang-go openssl nginx etcd-server etcd-client haproxy prometheus
  chromium npm gdb
  docker-compose yamllint golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev
  python3-yaml python3-jsonschema)

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--test" ]; then
  want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
  # NodeSource's nodejs bundles npm and conflicts with Debian's: any npm on
  # PATH will do (the browser tests only run `npm install playwright-core`).
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ "${#missing[@]}" -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true   # a stale index is better than none
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
