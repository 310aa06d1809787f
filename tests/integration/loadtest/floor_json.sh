#!/usr/bin/env bash
# recstack-loadtest --target floor --json prints one object with the keys the
# README documents, the numbers consistent with each other.
set -euo pipefail
lt=$1
out=$("$lt" --target floor --rate 200 --duration 2s --warmup 500ms --json --csv "${TMPDIR:-/tmp}/lt-$$.csv")
echo "$out"
echo "$out" | jq -e '
  (.achieved_rate | type == "number") and .errors == 0 and .completed == .scheduled and
  (.achieved_rate > 190 and .achieved_rate < 210) and
  .p50_us <= .p90_us and .p90_us <= .p99_us and .p99_us <= .p999_us and .p999_us <= .max_us and
  .p50_us > 0 and .target == "floor"' >/dev/null
lines=$(wc -l < "${TMPDIR:-/tmp}/lt-$$.csv")
rm -f "${TMPDIR:-/tmp}/lt-$$.csv"
[ "$lines" -eq 2 ] || { echo "expected a header and one CSV row, got $lines lines" >&2; exit 1; }
