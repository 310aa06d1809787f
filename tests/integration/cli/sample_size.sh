#!/usr/bin/env bash
# recstack experiment sample-size against the closed form
#   n = (z_{1-alpha/2} + z_power)^2 * 2 * variance / (lift * baseline)^2:
# baseline 0.1, variance 0.09, relative lift 0.1, power 0.9, alpha 0.05 is
# 2 (1.959964 + 1.281552)^2 0.09 / 1e-4 = 18913.2, so 18914 per arm; without
# --user-variance the variance is p (1 - p), the same 0.09 here.
set -euo pipefail
rs=$1
out=$("$rs" experiment sample-size --baseline 0.1 --user-variance 0.09 --lift 0.1 --power 0.9 --json)
echo "$out"
[ "$(jq .users_per_arm <<<"$out")" = 18914 ] || { echo "users_per_arm is not 18914" >&2; exit 1; }
[ "$(jq .users_total <<<"$out")" = 37828 ] || { echo "users_total is not 2 x 18914" >&2; exit 1; }
out=$("$rs" experiment sample-size --baseline 0.1 --lift 0.1 --power 0.9 --json)
[ "$(jq .users_per_arm <<<"$out")" = 18914 ] || { echo "default variance is not p(1-p)" >&2; exit 1; }
