# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: `recstack experiment sample-size` at the measured
# baseline.
include "lib";
.ab_test.sample_size as $n
| [["baseline CTR", "per-user variance", "relative lift", "power", "alpha",
    "users per arm", "users in all"],
   [($n.baseline | fixed(4)), ($n.user_variance | sci(2)), ($n.lift | tostring),
    ($n.power | tostring), ($n.alpha | tostring), ($n.users_per_arm | tostring),
    ($n.users_total | tostring)]]
| table
