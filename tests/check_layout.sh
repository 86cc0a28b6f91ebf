#!/usr/bin/env bash
# Layout rules of DESIGN §2 that the compiler cannot see:
#  - a role folder never includes another role's headers;
#  - common/ includes no role header; cli/ (hearth-cli) uses only common/
#    and no folder includes cli/ headers;
#  - cmd/ holds only main() files.
set -u
root="$(cd "$(dirname "$0")/.." && pwd)"
fail=0
headers_of() { (cd "$root/$1" && ls *.h 2>/dev/null); }
for role in distributor ingester querier common cli; do
  for other in distributor ingester querier cli; do
    [ "$role" = "$other" ] && continue
    for h in $(headers_of "$other"); do
      if grep -n "#include \"$h\"" "$root/$role"/*.[ch] 2>/dev/null; then
        echo "layout: $role/ includes $other/$h (roles talk only through common/ and the RPC)"
        fail=1
      fi
    done
  done
done
extra=$(find "$root/cmd" -name '*.c' ! -name 'main.c')
if [ -n "$extra" ]; then
  echo "layout: cmd/ holds only main() files, found: $extra"
  fail=1
fi
[ "$fail" -eq 0 ] && echo "layout: ok"
exit "$fail"
