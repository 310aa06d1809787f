# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: the optimizers against LIBMF's figure, in one
# sentence computed from the runs.
include "lib";
.optimizers as $o
| [("sgd", "momentum", "adagrad", "adam") as $r | $o.runs[$r] as $x
   | "\($r) \(if $x.epoch_reaching_target == null then "does not within \($x.curve | length) epochs (\($x.final_rmse | fixed(4)) at the end)" else "at epoch \($x.epoch_reaching_target)" end)"]
| "Against LIBMF's \($o.target_rmse) on u1: " + join("; ") + ". "
  + "ALS (no learning rate) ends at \($o.runs.als.final_rmse | fixed(4)); Gibbs sampling, which averages "
  + "over the posterior instead of picking one fit, at \($o.runs.gibbs.final_rmse | fixed(4))."
