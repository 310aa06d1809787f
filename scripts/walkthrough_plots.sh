#!/usr/bin/env bash
# The walkthrough's SVG plots (gnuplot) from its figures.json, so they can be
# redrawn without re-measuring:
#
#   scripts/walkthrough_plots.sh [FIGURES_JSON [OUT_DIR]]
#
# defaults docs/walkthrough/figures.json and docs/walkthrough/figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
json=${1:-$root/docs/walkthrough/figures.json}
dir=${2:-$root/docs/walkthrough/figures}
for t in jq gnuplot; do
  command -v $t >/dev/null || { echo "walkthrough_plots.sh: needs $t" >&2; exit 2; }
done
[ -f "$json" ] || { echo "walkthrough_plots.sh: $json missing (scripts/walkthrough.sh makes it)" >&2; exit 2; }
mkdir -p "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q() { jq -r "$@" "$json"; }  # a jq program on figures.json, raw output

# noenhanced: feature names have underscores, not subscripts
term="set terminal svg size 760,420 dynamic noenhanced font 'sans,11' background rgb 'white'"
style="set grid lc rgb '#dddddd'; set key top right box opaque; set border lc rgb '#444444'"

# --- overfitting: train vs test over lambda (log) and factors (log2)
for kind in explicit implicit; do
  metric=$(q ".overfitting.$kind.metric")
  q ".overfitting.$kind.by_regularization[] | \"\(.regularization) \(.train) \(.test)\"" > "$tmp/l.dat"
  q ".overfitting.$kind.by_factors[] | \"\(.factors) \(.train) \(.test)\"" > "$tmp/f.dat"
  q ".overfitting.$kind.by_factors_weak[] | \"\(.factors) \(.train) \(.test)\"" > "$tmp/w.dat"
  weak=$(q ".overfitting.$kind.by_factors_weak[0].regularization * 1000000 | round / 1000000")
  dl=$(q ".overfitting.$kind.default.regularization")
  df=$(q ".overfitting.$kind.default.factors")
  gnuplot <<EOF
$term
set output '$dir/overfitting_$kind.svg'
$style
set terminal svg size 760,540
set output '$dir/overfitting_$kind.svg'
set key below
set multiplot layout 1,2 title "$kind: train vs test $metric on MovieLens 100K u1 (dashed: the default)"
set logscale x 10
set xlabel 'regularization (lambda)'
set ylabel '$metric'
set arrow 1 from $dl, graph 0 to $dl, graph 1 nohead dt 2 lc rgb '#888888'
plot '$tmp/l.dat' using 1:2 with linespoints lw 2 lc 1 title 'train', '' using 1:3 with linespoints lw 2 lc 2 title 'test'
unset arrow 1
set logscale x 2
set xlabel 'factors'
set arrow 2 from $df, graph 0 to $df, graph 1 nohead dt 2 lc rgb '#888888'
plot '$tmp/f.dat' using 1:2 with linespoints lw 2 lc 1 title 'train', '' using 1:3 with linespoints lw 2 lc 2 title 'test', \
     '$tmp/w.dat' using 1:2 with linespoints lw 2 lc 1 dt 3 title "train, lambda $weak", '' using 1:3 with linespoints lw 2 lc 2 dt 3 title "test, lambda $weak"
unset multiplot
EOF
done

# --- optimizers: test RMSE per epoch and per second
runs="sgd momentum adagrad adam als gibbs"
plots_epoch=() plots_seconds=()
for r in $runs; do
  q ".optimizers.runs.$r.curve[] | \"\(.epoch) \(.seconds) \(.rmse)\"" > "$tmp/opt_$r.dat"
  plots_epoch+=("'$tmp/opt_$r.dat' using 1:3 with linespoints lw 2 pt 7 ps 0.4 title '$r'")
  plots_seconds+=("'$tmp/opt_$r.dat' using 2:3 with linespoints lw 2 pt 7 ps 0.4 title '$r'")
done
target=$(q .optimizers.target_rmse)
join() { local IFS=,; echo "$*"; }
gnuplot <<EOF
$term
set output '$dir/optimizers_epoch.svg'
$style
set title 'Test RMSE per epoch on u1 (factors 64; dashed: LIBMF $target)'
set xlabel 'epoch (ALS: iteration, Gibbs: sweep)'
set ylabel 'test RMSE'
set yrange [0.88:1.15]
set arrow from graph 0, first $target to graph 1, first $target nohead dt 2 lc rgb '#888888'
plot $(join "${plots_epoch[@]}")
set output '$dir/optimizers_seconds.svg'
set title 'Test RMSE by training time on u1 (factors 64)'
set xlabel 'seconds of fitting'
set logscale x 10
plot $(join "${plots_seconds[@]}")
EOF

# --- feature scaling and missing values: the logistic ranker's losses
for o in sgd adam; do
  for s in standardized raw; do
    q ".feature_scaling.standardization.$o.$s.curve[] | \"\(.epoch) \(.train_logloss) \(.valid_logloss)\"" \
      > "$tmp/scale_${o}_$s.dat"
  done
done
for m in unmasked impute drop; do
  q ".feature_scaling.missing.$m.curve[] | \"\(.epoch) \(.train_logloss) \(.valid_logloss)\"" > "$tmp/miss_$m.dat"
done
mask=$(q .feature_scaling.missing.mask)
gnuplot <<EOF
$term
set output '$dir/feature_scaling.svg'
$style
set title 'logistic ranker: training log loss per epoch, standardized vs raw features'
set xlabel 'epoch'
set ylabel 'log loss (train)'
set logscale y 10
plot '$tmp/scale_sgd_standardized.dat' using 1:2 with linespoints lw 2 title 'sgd, standardized', \
     '$tmp/scale_sgd_raw.dat' using 1:2 with linespoints lw 2 title 'sgd, raw', \
     '$tmp/scale_adam_standardized.dat' using 1:2 with linespoints lw 2 title 'adam, standardized', \
     '$tmp/scale_adam_raw.dat' using 1:2 with linespoints lw 2 title 'adam, raw'
unset logscale y
set output '$dir/missing_values.svg'
set title 'logistic ranker: held-out log loss per epoch with $mask missing'
set ylabel 'log loss (held out)'
plot '$tmp/miss_unmasked.dat' using 1:3 with linespoints lw 2 title 'nothing missing', \
     '$tmp/miss_impute.dat' using 1:3 with linespoints lw 2 title 'imputed (+ indicator)', \
     '$tmp/miss_drop.dat' using 1:3 with linespoints lw 2 title 'rows dropped'
EOF

# --- cold start
k=$(q .cold_start.k)
q ".cold_start.rows[] | \"\(.events) \(.folded_in[\"ndcg@$k\"]) \(.trained[\"ndcg@$k\"])\"" > "$tmp/cold.dat"
pop=$(q ".cold_start.popularity[\"ndcg@$k\"]")
gnuplot <<EOF
$term
set output '$dir/cold_start.svg'
$style
set key bottom right
set title 'New users: NDCG@$k by events in their history (0: popularity)'
set xlabel 'events the user has'
set ylabel 'NDCG@$k on their later events'
set xrange [-1:*]
set arrow from graph 0, first $pop to graph 1, first $pop nohead dt 2 lc rgb '#888888'
plot '$tmp/cold.dat' using 1:2 with linespoints lw 2 pt 7 title 'folded in (serving)', \
     '' using 1:3 with linespoints lw 2 pt 5 title 'fully trained'
EOF

# --- explainability: global importance and the top item's contributions
q '.explainability.global_importance[] | "\(.feature) \(.mean_abs_contribution)"' > "$tmp/imp.dat"
q '.explainability.recommendation[0].contributions[] | "\(.feature) \(.contribution)"' > "$tmp/one.dat"
top=$(q '.explainability.recommendation[0].item_id // "none"')
user=$(q .explainability.user)
gnuplot <<EOF
$term
set output '$dir/explainability.svg'
$style
set multiplot layout 1,2 title 'gbdt: TreeSHAP contributions (log-odds)'
set style fill solid 0.7 border -1
set boxwidth 0.7
set xtics rotate by -40 left font ',9'
unset key
set title 'global: mean |contribution|'
plot '$tmp/imp.dat' using 0:2:xtic(1) with boxes lc rgb '#4477aa'
set title "user $user, item $top"
plot '$tmp/one.dat' using 0:2:xtic(1) with boxes lc rgb '#cc6677'
unset multiplot
EOF

# --- A/B: CTR and 95% CI per variant
q '.ab_test.aa.variants[] | "A/A:\(.name) \(.ctr) \(.ctr_ci[0]) \(.ctr_ci[1])"' > "$tmp/ab.dat"
q '.ab_test.ab.variants[] | "A/B:\(.name)(\(.ranker)) \(.ctr) \(.ctr_ci[0]) \(.ctr_ci[1])"' >> "$tmp/ab.dat"
gnuplot <<EOF
$term
set output '$dir/ab_test.svg'
$style
unset key
set title 'CTR per variant with its 95% confidence interval'
set ylabel 'CTR'
set xrange [-0.5:3.5]
set yrange [0:*]
plot '$tmp/ab.dat' using 0:2:3:4:xtic(1) with yerrorbars lw 2 pt 7 ps 1.2 lc rgb '#4477aa'
EOF

# --- capacity: p99 by offered rate (stack and floor), and the latency budget
q '.capacity.sweep[] | "\(.rate) \(.achieved_rate) \(.p99_us / 1000)"' > "$tmp/sweep.dat"
q '.capacity.floor_sweep[] | "\(.rate) \(.achieved_rate) \(.p99_us / 1000)"' > "$tmp/floor.dat"
knee=$(q '.capacity.knee_rate // 0')
gnuplot <<EOF
$term
set output '$dir/capacity.svg'
$style
set title 'p99 latency by offered Recommend/s (dashed: the knee, p99 within 50 ms)'
set xlabel 'offered Recommend/s'
set ylabel 'p99 (ms)'
set logscale y 10
set arrow from $knee, graph 0 to $knee, graph 1 nohead dt 2 lc rgb '#888888'
set arrow from graph 0, first 50 to graph 1, first 50 nohead dt 3 lc rgb '#cc6677'
plot '$tmp/sweep.dat' using 1:3 with linespoints lw 2 pt 7 title 'the stack', \
     '$tmp/floor.dat' using 1:3 with linespoints lw 2 pt 5 title 'floor (bare gRPC echo)'
EOF
q '.capacity.budget_us | [["total", .total], ["retrieval", .retrieval], ["  mf", .sources.mf],
   ["  item2item", .sources.item2item], ["  trending", .sources.trending], ["ranking", .ranking]][]
   | "\"\(.[0])\" \((.[1] // 0) / 1000)"' > "$tmp/budget.dat"
gnuplot <<EOF
$term
set output '$dir/latency_budget.svg'
$style
unset key
set title 'One Recommend on the idle stack: median time per stage and source (ms)'
set style fill solid 0.7 border -1
set boxwidth 0.7
set ylabel 'ms'
set yrange [0:*]
plot '$tmp/budget.dat' using 0:2:xtic(1) with boxes lc rgb '#4477aa'
EOF
echo "walkthrough_plots: $(find "$dir" -name '*.svg' | wc -l) plots in $dir"
