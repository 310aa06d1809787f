# input: feedback_loop.json
# scripts/feedback_loop.sh: each ranker offline (held-out logs), off-policy
# (IPS from the logs) and online (its arm of a 50/50 A/B against linear).
include "lib";
def ci: "[\(.[0] | fixed(4)), \(.[1] | fixed(4))]";
def arm($e): .experiments[$e].report.variants[] | select(.name == "treatment");
def control($e): .experiments[$e].report.variants[] | select(.name == "control");
. as $r
| [["ranker", "held-out AUC", "log loss", "NDCG@10 (explored)", "IPS CTR [95% CI]",
    "online CTR [95% CI]", "vs linear", "share of oracle"]]
+ [["linear", ($r.train.gbdt.baseline.auc | fixed(3)), ($r.train.gbdt.baseline.logloss | fixed(4)),
    ($r.train.gbdt.baseline["ndcg@10"] | fixed(3)),
    "\($r.evaluate.linear.ips.estimate | fixed(4)) \($r.evaluate.linear.ips.ci | ci)",
    "\(control("gbdt").ctr | fixed(4)) \(control("gbdt").ctr_ci | ci)", "1",
    ($r.experiments.linear_share_of_oracle | fixed(3))]]
+ [("gbdt", "logistic") as $m
   | [$m, ($r.train[$m].auc | fixed(3)), ($r.train[$m].logloss | fixed(4)),
      ($r.train[$m]["ndcg@10"] | fixed(3)),
      "\($r.evaluate[$m].ips.estimate | fixed(4)) \($r.evaluate[$m].ips.ci | ci)",
      "\(arm($m).ctr | fixed(4)) \(arm($m).ctr_ci | ci)",
      "\($r.experiments[$m].ctr_ratio | fixed(2))x",
      ($r.experiments[$m].share_of_oracle | fixed(3))]]
| table
