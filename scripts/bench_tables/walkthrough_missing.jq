# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: the logistic ranker with one feature blanked in a
# share of the impressions, imputed (with an indicator) vs rows dropped,
# then one sentence computed from the table.
include "lib";
.feature_scaling.missing as $m
| ([["missing values", "held-out log loss", "held-out AUC"]]
   + [(["nothing missing", "unmasked"], ["\($m.mask): imputed, with an is-missing column", "impute"],
       ["\($m.mask): rows with a missing value dropped", "drop"]) as [$lab, $k]
      | [$lab, ($m[$k].logloss | fixed(4)), ($m[$k].auc | fixed(4))]]
   | table),
  "",
  (if $m.drop.auc > $m.impute.auc then
     "Here dropping rows scores the better AUC (\($m.drop.auc | fixed(4)) against \($m.impute.auc | fixed(4))): the mask is missing completely at random, so the complete rows are an unbiased sample and there are plenty of them. Imputation earns its keep when missingness itself says something (a test of common/ml plants that case), or when dropping would leave too few rows."
   else
     "Here imputing with an indicator scores the better AUC (\($m.impute.auc | fixed(4)) against \($m.drop.auc | fixed(4))): it keeps every row's other features, where dropping throws them away with the missing one."
   end)
