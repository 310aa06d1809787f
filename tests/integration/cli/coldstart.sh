#!/usr/bin/env bash
# recstack coldstart on a small synthetic catalogue: the JSON has a row per
# history length with metrics in [0, 1], N = 0 is popularity for both
# columns, and bad flags are refused with a message (exit 1).
set -euo pipefail
rs=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/coldstart_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
"$rs" datagen --users 300 --items 200 --interactions 12000 --seed 3 --out "$tmp/data" >/dev/null
out=$("$rs" coldstart --input "$tmp/data/interactions.csv" --users 30 --min-events 25 \
  --events 0,1,5,10 --factors 8 --iterations 5 --json)
jq -e '(.rows | length) == 4 and ([.rows[].events] == [0, 1, 5, 10]) and .users == 30' <<<"$out" >/dev/null \
  || { echo "unexpected rows: $out" >&2; exit 1; }
jq -e '[.rows[] | .folded_in["ndcg@10"], .trained["ndcg@10"]] | all(. >= 0 and . <= 1)' <<<"$out" >/dev/null \
  || { echo "a metric outside [0, 1]: $out" >&2; exit 1; }
jq -e '.rows[0].source == "popularity" and .rows[0].folded_in == .popularity and .rows[0].trained == .popularity' \
  <<<"$out" >/dev/null || { echo "N = 0 is not popularity: $out" >&2; exit 1; }
"$here/expect_exit.sh" 1 "$rs" coldstart --input "$tmp/data/interactions.csv" --events 0,30 --min-events 25
"$here/expect_exit.sh" 1 "$rs" coldstart --input "$tmp/data/interactions.csv" --events=-1,2
"$here/expect_exit.sh" 1 "$rs" coldstart --input "$tmp/data/interactions.csv" --min-events 100000
