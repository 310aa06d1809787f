#!/usr/bin/env bash
# The committed walkthrough (docs/walkthrough/) is whole: figures.json has
# every section the walkthrough needs, each with the command that made it;
# every SVG a section lists exists and is referenced by README.md, and no
# figure under figures/ is left unreferenced; the README's tables are what
# figures.json generates (scripts/bench_tables.sh --check covers them).
#   tests/lint/walkthrough_test.sh ROOT
set -euo pipefail
root=${1:?usage: walkthrough_test.sh ROOT}
dir=$root/docs/walkthrough
json=$dir/figures.json
readme=$dir/README.md
failures=0
fail() {
  echo "FAIL $*"
  failures=$((failures + 1))
}
[ -f "$json" ] || { echo "FAIL $json missing (scripts/walkthrough.sh makes it)"; exit 1; }
[ -f "$readme" ] || { echo "FAIL $readme missing"; exit 1; }
for key in overfitting optimizers feature_scaling cold_start explainability ab_test capacity \
  failure_modes; do
  if ! jq -e --arg k "$key" '.[$k] | type == "object"' "$json" >/dev/null; then
    fail "figures.json has no section '$key'"
    continue
  fi
  jq -e --arg k "$key" '.[$k].command | type == "string" and length > 0' "$json" >/dev/null \
    || fail "figures.json: '$key' has no command"
  for svg in $(jq -r --arg k "$key" '.[$k].figures // [] | .[]' "$json"); do
    [ -s "$dir/$svg" ] || fail "$key lists $svg, which does not exist"
    grep -qF "($svg)" "$readme" || fail "$key's $svg is not referenced by README.md"
    grep -q '<svg' "$dir/$svg" 2>/dev/null || fail "$svg is not an SVG"
  done
done
for f in "$dir"/figures/*.svg; do
  [ -e "$f" ] || continue
  rel=figures/$(basename "$f")
  jq -e --arg f "$rel" '[.[] | objects | .figures // [] | .[]] | index($f) != null' "$json" >/dev/null \
    || fail "$rel is in no section of figures.json (stale?)"
done
# The headline target of the optimizers section: Adam reaches LIBMF's RMSE.
jq -e '.optimizers.runs.adam.epoch_reaching_target != null' "$json" >/dev/null \
  || fail "sgd-explicit with adam does not reach the target RMSE in figures.json"
if [ $failures -gt 0 ]; then
  echo "$failures failure(s)"
  exit 1
fi
echo "walkthrough: OK"
