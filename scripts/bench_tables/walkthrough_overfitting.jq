# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: train vs test over lambda and over factors (at the
# default lambda and at a weak one), both models, with the default and the
# best of each sweep marked.
include "lib";
def lbl: if type == "number" then (. * 1000000 | round) / 1000000 | tostring else tostring end;
.overfitting as $o
| [["model", "varied", "value", "train", "test", "gap", ""]]
+ [("explicit", "implicit") as $k
   | $o[$k] as $m
   | (["regularization", "by_regularization", "lambda"],
      ["factors", "by_factors", "factors (default lambda)"],
      ["factors", "by_factors_weak", "factors (lambda \($m.by_factors_weak[0].regularization | lbl))"])
     as [$name, $key, $what]
   | ($m[$key] | if $k == "explicit" then min_by(.test) else max_by(.test) end) as $best
   | $m[$key][]
   | . as $p
   | [if $k == "explicit" then "als-explicit (RMSE)" else "als-implicit (NDCG@10)" end,
      $what, ($p[$name] | lbl), ($p.train | fixed(4)), ($p.test | fixed(4)),
      ($p.train - $p.test | fabs | fixed(4)),
      ([if $p.regularization == $m.default.regularization and $p.factors == $m.default.factors
        then "default" else empty end,
        if $p == $best then "best test" else empty end]
       | join(", "))]]
| table
