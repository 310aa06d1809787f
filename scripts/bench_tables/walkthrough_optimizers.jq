# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: sgd-explicit's optimizers against ALS and Gibbs on
# MovieLens 100K u1, factors 64.
include "lib";
.optimizers as $o
| [["run", "learning rate", "test RMSE after the last epoch", "best test RMSE",
    "first epoch at <= \($o.target_rmse)", "s / epoch"]]
+ [("sgd", "momentum", "adagrad", "adam", "als", "gibbs") as $r
   | $o.runs[$r] as $x
   | [if ($r == "als" or $r == "gibbs") then "als-explicit --solver \($r)" else "sgd-explicit --optimizer \($r)" end,
      ($x.params.learning_rate // null | if . == null then "-" else sig end),
      ($x.final_rmse | fixed(4)), ([$x.curve[].rmse] | min | fixed(4)),
      ($x.epoch_reaching_target // null | if . == null then "not reached" else tostring end),
      ($x.seconds_per_epoch | sig)]]
| table
