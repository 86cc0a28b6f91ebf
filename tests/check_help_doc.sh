#!/usr/bin/env bash
# docs/config.md embeds `hearth -h`; this keeps the two identical.
set -u
bin="$1"; doc="$2"
want=$(sed -n '/<!-- hearth -h begins -->/,/<!-- hearth -h ends -->/p' "$doc" | sed '1,2d;$d' | sed '$d')
got=$("$bin" -h)
if [ "$want" != "$got" ]; then
  echo "docs/config.md is out of date with 'hearth -h'; regenerate the block:"
  diff <(echo "$want") <(echo "$got") | head -40
  exit 1
fi
echo "docs/config.md matches hearth -h"
