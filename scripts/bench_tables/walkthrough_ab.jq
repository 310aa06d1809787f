# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: the A/A and the A/B readouts.
include "lib";
def ci: "[\(.[0] | fixed(4)), \(.[1] | fixed(4))]";
def rci: "[\(.[0] | fixed(3)), \(.[1] | fixed(3))]";
.ab_test as $t
| [["test", "control CTR [95% CI]", "treatment CTR [95% CI]", "users (control / treatment)",
    "relative lift [95% CI]", "p-value", "SRM p-value"]]
+ [(["A/A: linear vs linear", "aa"], ["A/B: linear vs gbdt", "ab"]) as [$lab, $k]
   | $t[$k] as $x
   | ($x.variants | map({(.name): .}) | add) as $v
   | $x.comparisons[0] as $c
   | [$lab, "\($v.control.ctr | fixed(4)) \($v.control.ctr_ci | ci)",
      "\($v.treatment.ctr | fixed(4)) \($v.treatment.ctr_ci | ci)",
      "\($v.control.users) / \($v.treatment.users)",
      "\($c.rel_lift | fixed(3)) \($c.rel_lift_ci | rci)", ($c.p_value | sci(2)),
      ($x.srm_p_value | fixed(3))]]
| table
