# input: feedback_loop.json
# scripts/feedback_loop.sh: the readout of each experiment, per comparison.
include "lib";
def ci: "[\(.[0] | fixed(3)), \(.[1] | fixed(3))]";
. as $r
| [["experiment", "variant vs control", "users", "impressions", "relative lift [95% CI]",
    "p-value", "SRM p-value", "MDE (relative)"]]
+ [("rank-gbdt", "rank-more") as $x
   | $r.experiments[$x].report as $e
   | $e.comparisons[] as $c
   | ($e.variants | map(select(.name == $c.variant or .name == $c.control))) as $pair
   | [$e.experiment, "\($c.variant) vs \($c.control)",
      ($pair | map(.users | tostring) | join(" / ")),
      ($pair | map(.impressions) | add | tostring),
      "\($c.rel_lift | fixed(3)) \($c.rel_lift_ci | ci)",
      ($c.p_value | sci(2)), ($e.srm_p_value | fixed(3)), ($c.mde_rel // $e.mde_rel | fixed(3))]]
| table
