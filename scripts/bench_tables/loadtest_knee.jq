# input: loadtest_knee.json
# scripts/capacity.sh's sweep on a quiet machine: each step, the knee
# against the floor's, and the half-knee ratios.
include "lib";
. as $r
| ([["rate", "p50", "p99", "degraded", "errors"]]
   + [$r.sweep[] | ["\(.rate)/s", "\(.p50_us / 1000 | sig) ms", "\(.p99_us / 1000 | sig) ms",
                    "\(.degraded) of \(.count)", (.errors | tostring)]]
   | table),
  "",
  knee_sentence
