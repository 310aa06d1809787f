# input: ../walkthrough/figures.json
# scripts/walkthrough.sh: where the test optimum and the defaults sit on the
# overfitting curves, in sentences computed from them.
include "lib";
def lbl: (. * 1000000 | round) / 1000000 | tostring;
def verdict($m; $lower; $what):
  ($m.by_regularization | sort_by(.regularization)) as $l
  | ($m.by_factors_weak | if $lower then min_by(.test) else max_by(.test) end) as $wb
  | ($m.by_factors_weak | if $lower then max_by(.test) else min_by(.test) end) as $ww
  | ($m.by_factors_weak | sort_by(.factors)) as $w
  | "- **\($what).** Over lambda, the train figure goes from \($l[0].train | fixed(4)) "
    + "(lambda \($l[0].regularization | lbl)) to \($l[-1].train | fixed(4)) (lambda "
    + "\($l[-1].regularization | lbl)); the test figure is best at lambda "
    + "\($m.best_regularization.regularization | lbl) (\($m.best_regularization.test | fixed(4))). "
    + "With lambda \($w[0].regularization | lbl), more factors fit the training set ever better "
    + "(\($w[0].train | fixed(4)) at \($w[0].factors), \($w[-1].train | fixed(4)) at \($w[-1].factors)) "
    + "while the test figure is best at \($wb.factors) factors (\($wb.test | fixed(4))) and worst at "
    + "\($ww.factors) (\($ww.test | fixed(4)))"
    + (if $ww.factors < $w[-1].factors and $ww.factors > $w[0].factors then
         ", then recovers as factors grow on: past the point where most users have fewer ratings "
         + "than factors, the ridge solve picks a small-norm fit among many exact ones (the "
         + "\"double descent\" of over-parameterised models)"
       else "" end)
    + "; at the default lambda the best is \($m.best_factors.factors) factors "
    + "(\($m.best_factors.test | fixed(4))). The default (lambda \($m.default.regularization | lbl), "
    + "\($m.default.factors) factors) scores \($m.default.test | fixed(4)).";
.overfitting as $o
| verdict($o.explicit; true; "als-explicit, test RMSE (lower is better)"),
  verdict($o.implicit; false; "als-implicit, test NDCG@10 (higher is better)")
