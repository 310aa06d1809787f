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
  "Knee **\($r.knee_rate)/s** (the floor's \($r.floor_knee_rate)/s in the same sweep: "
  + "\($r.knee_rate / $r.floor_knee_rate | sig) of it); at half the knee (\($r.half_knee.rate)/s) p50 is "
  + "\($r.half_knee.p50_over_floor | sig)x and p99 \($r.half_knee.p99_over_floor | sig)x the floor's, and "
  + "the four services spend \($r.half_knee.cpu_us_per_request_total // $r.cpu_us_per_request_total | fixed(0)) us of CPU per request."
