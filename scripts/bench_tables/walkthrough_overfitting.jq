# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: train vs test over lambda and over factors, both
# models, with the default and the best of each grid marked.
include "lib";
.overfitting as $o
| [["model", "varied", "value", "train", "test", "train - test", ""]]
+ [("explicit", "implicit") as $k
   | $o[$k] as $m
   | (["regularization", "by_regularization"], ["factors", "by_factors"]) as [$name, $key]
   | $m[$key][]
   | . as $p
   | [if $k == "explicit" then "als-explicit (RMSE)" else "als-implicit (NDCG@10)" end,
      $name, ($p[$name] | tostring), ($p.train | fixed(4)), ($p.test | fixed(4)),
      ($p.train - $p.test | fixed(4)),
      ([if $p[$name] == $m.default[$name] then "default" else empty end,
        if $name == "regularization" and $p.regularization == $m.best_regularization.regularization
        then "best test" else empty end,
        if $name == "factors" and $p.factors == $m.best_factors.factors then "best test" else empty end]
       | join(", "))]]
| table
