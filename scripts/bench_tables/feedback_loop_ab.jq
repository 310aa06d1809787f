# input: feedback_loop.json
# scripts/feedback_loop.sh: the readout of each 50/50 experiment.
include "lib";
def ci: "[\(.[0] | fixed(3)), \(.[1] | fixed(3))]";
. as $r
| [["experiment", "users (control / treatment)", "impressions", "relative lift [95% CI]",
    "p-value", "SRM p-value", "MDE (relative)"]]
+ [("gbdt", "logistic") as $m
   | $r.experiments[$m].report as $e
   | [$e.experiment,
      "\($e.variants[0].users) / \($e.variants[1].users)",
      "\($e.variants[0].impressions + $e.variants[1].impressions)",
      "\($e.comparisons[0].rel_lift | fixed(3)) \($e.comparisons[0].rel_lift_ci | ci)",
      ($e.comparisons[0].p_value | sci(2)),
      ($e.srm_p_value | fixed(3)), ($e.mde_rel | fixed(3))]]
| table
