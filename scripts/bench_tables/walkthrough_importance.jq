# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: gbdt's global feature importance, mean |TreeSHAP|
# over the items served to the sampled users.
include "lib";
.explainability as $e
| [["feature", "mean absolute contribution over \($e.users_scored) users' items"]]
+ [$e.global_importance[] | [.feature, (.mean_abs_contribution | fixed(4))]]
| table
