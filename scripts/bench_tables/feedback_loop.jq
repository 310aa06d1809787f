# input: feedback_loop.json
# scripts/feedback_loop.sh: each ranker offline (held-out logs), off-policy
# (IPS from the logs) and online (its arm of an experiment against linear).
include "lib";
def ci: "[\(.[0] | fixed(4)), \(.[1] | fixed(4))]";
def arm($exp; $name): .experiments[$exp].report.variants[] | select(.name == $name);
. as $r
| [["ranker", "held-out AUC", "log loss", "NDCG@10 (explored)", "IPS CTR [95% CI]",
    "online CTR [95% CI]", "vs linear", "share of oracle"]]
+ [["linear", ($r.train.gbdt.baseline.auc | fixed(3)), ($r.train.gbdt.baseline.logloss | fixed(4)),
    ($r.train.gbdt.baseline["ndcg@10"] | fixed(3)),
    "\($r.evaluate.linear.ips.estimate | fixed(4)) \($r.evaluate.linear.ips.ci | ci)",
    "\(arm("rank-gbdt"; "control").ctr | fixed(4)) \(arm("rank-gbdt"; "control").ctr_ci | ci)",
    "1", ($r.share_of_oracle.linear | fixed(3))]]
+ [(["gbdt", "gbdt", "rank-gbdt", "treatment"],
    ["gbdt (position ips)", "gbdt_ips", "rank-more", "gbdt-ips"],
    ["logistic", "logistic", "rank-more", "logistic"]) as [$lbl, $m, $exp, $variant]
   | [$lbl, ($r.train[$m].auc | fixed(3)), ($r.train[$m].logloss | fixed(4)),
      ($r.train[$m]["ndcg@10"] | fixed(3)),
      "\($r.evaluate[$m].ips.estimate | fixed(4)) \($r.evaluate[$m].ips.ci | ci)",
      "\(arm($exp; $variant).ctr | fixed(4)) \(arm($exp; $variant).ctr_ci | ci)",
      "\($r.ratios[$m] | fixed(2))x", ($r.share_of_oracle[$m] | fixed(3))]]
| table
