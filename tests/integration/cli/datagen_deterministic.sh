#!/usr/bin/env bash
# recstack datagen: same seed, same bytes; another seed, other bytes;
# --end-time-ms now ends the events at the clock, and a bad value is refused.
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
# `now`: every event in the 30 days before the clock, the newest in its last
# day (600 events over 30 days miss a given day with probability 1.5e-9);
# the default ends at 2026-01-01.
before=$(date +%s%3N)
"$bin" datagen --users 50 --items 40 --interactions 600 --seed 5 --end-time-ms now --out "$dir/now" >/dev/null
after=$(date +%s%3N)
newest() { tail -n +2 "$1" | cut -d, -f4 | sort -n | tail -1; }
# (awk reads all its input: head would close the pipe early, and pipefail
# would fail on sort's SIGPIPE.)
oldest() { tail -n +2 "$1" | cut -d, -f4 | sort -n | awk 'NR == 1'; }
day=86400000
last=$(newest "$dir/now/interactions.csv")
first=$(oldest "$dir/now/interactions.csv")
if [ "$last" -gt "$after" ] || [ "$last" -lt $((before - day)) ] ||
   [ "$first" -lt $((before - 30 * day)) ]; then
  echo "--end-time-ms now: events from $first to $last, clock $before-$after" >&2
  exit 1
fi
test "$(newest "$dir/a/interactions.csv")" -le 1767225600000
if "$bin" datagen --users 50 --items 40 --interactions 600 --end-time-ms yesterday \
     --out "$dir/bad" 2> "$dir/err"; then
  echo "--end-time-ms yesterday was accepted" >&2
  exit 1
fi
grep -q 'end-time-ms must be epoch milliseconds or `now`, got "yesterday"' "$dir/err"
echo "datagen deterministic: ok"
