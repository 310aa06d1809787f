# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: the logistic ranker with one feature blanked in a
# share of the impressions, imputed (with an indicator) vs rows dropped.
include "lib";
.feature_scaling.missing as $m
| [["missing values (\($m.mask))", "rows", "held-out log loss", "held-out AUC"]]
+ [(["none", "unmasked"], ["imputed, with an is-missing column", "impute"],
    ["training rows with one dropped", "drop"]) as [$label, $k]
   | [$label, ($m[$k].rows | tostring), ($m[$k].logloss | fixed(4)), ($m[$k].auc | fixed(4))]]
| table
