#!/usr/bin/env bash
# recstack-loadtest --sweep --floor --json: the knee, and half the knee run
# --half-knee-repeats times in pairs, the reported pair the one with the
# median p99 ratio (docs/loadtest.md).
set -euo pipefail
lt=$1
out=$("$lt" --target floor --floor --sweep 100:200:100 --slo 50ms --duration 1s --warmup 200ms \
  --half-knee-repeats 3 --json)
echo "$out" | jq -c '{knee_rate, half_knee: (.half_knee | {rate, p99_over_floor, reported_repeat, repeats})}'
echo "$out" | jq -e '
  .knee_rate == 200 and .half_knee.rate == 100 and (.half_knee.repeats | length) == 3 and
  ([.half_knee.repeats[] | .p99_over_floor] | sort | .[1]) as $median |
  .half_knee.p99_over_floor == $median and
  .half_knee.repeats[.half_knee.reported_repeat].p99_over_floor == $median and
  .half_knee.repeats[.half_knee.reported_repeat].p99_us == .half_knee.p99_us and
  .half_knee.repeats[.half_knee.reported_repeat].floor_p99_us == .half_knee.floor.p99_us and
  .p99_over_floor == .half_knee.p99_over_floor and
  all(.half_knee.repeats[]; .p99_us > 0 and .floor_p99_us > 0 and .errors == 0)' >/dev/null
