#!/usr/bin/env bash
# recstack datagen: same seed, same bytes; another seed, other bytes.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
args=(--users 2000 --items 1000 --interactions 50000 --seed 7)
"$bin" datagen "${args[@]}" --out "$dir/a" >/dev/null
"$bin" datagen "${args[@]}" --out "$dir/b" --json > "$dir/summary.json"
diff -r "$dir/a" "$dir/b"
"$bin" datagen --users 2000 --items 1000 --interactions 50000 --seed 8 --out "$dir/c" >/dev/null
if cmp -s "$dir/a/interactions.csv" "$dir/c/interactions.csv"; then
  echo "different seeds gave the same data" >&2
  exit 1
fi
grep -q '"interactions":' "$dir/summary.json"
test "$(head -1 "$dir/a/interactions.csv")" = "user,item,value,timestamp"
echo "datagen deterministic: ok"
