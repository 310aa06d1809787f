# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: the logistic ranker with and without
# standardization, per optimizer.
include "lib";
.feature_scaling.standardization as $s
| [["optimizer", "features", "train log loss, epoch 1", "epoch 5", "epoch 20",
    "held-out log loss", "held-out AUC"]]
+ [("sgd", "adam") as $o | ("standardized", "raw") as $f | $s[$o][$f] as $r
   | [$o, $f, ($r.curve[0].train_logloss | fixed(4)), ($r.curve[4].train_logloss | fixed(4)),
      ($r.curve[-1].train_logloss | fixed(4)), ($r.logloss | fixed(4)), ($r.auc | fixed(4))]]
| table
