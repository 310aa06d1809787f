#!/usr/bin/env bash
# recstack train --algo sgd-explicit: bad flags fail naming the flag; the
# same seed exports the same bytes; --train-metrics adds train_rmse.
set -euo pipefail
bin=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# 60 users x 40 items of ratings 1-5 (movielens: user item rating time).
awk 'BEGIN { for (u = 1; u <= 60; u++) for (i = 1; i <= 40; i++)
  if ((u * 7 + i * 13) % 3 == 0) printf "%d\t%d\t%d\t%d\n", u, i, 1 + (u + 2 * i) % 5, u * 100 + i }' \
  > "$dir/r.data"
train=("$bin" train --input "$dir/r.data" --format movielens --split stratified:0.8 --quiet)
expect_fail() {  # expect_fail WORD ARGS...: exit 1, and stderr names WORD
  local word=$1
  shift
  local err
  if err=$("${train[@]}" "$@" 2>&1 >/dev/null); then
    echo "expected a failure for: $*" >&2
    exit 1
  fi
  if [[ "$err" != *"$word"* ]]; then
    echo "error for '$*' does not name $word: $err" >&2
    exit 1
  fi
}
expect_fail --optimizer --algo sgd-explicit --optimizer rmsprop
expect_fail --learning-rate --algo sgd-explicit --learning-rate 0
expect_fail --learning-rate --algo sgd-explicit --learning-rate -1
expect_fail --batch-size --algo sgd-explicit --batch-size 0
expect_fail --momentum --algo sgd-explicit --optimizer adam --momentum 0.5
expect_fail --optimizer --algo als-explicit --optimizer adam
expect_fail --learning-rate --algo als-implicit --learning-rate 0.1
expect_fail --solver --algo sgd-explicit --solver als
expect_fail "offline only" --algo sgd-explicit --addr 127.0.0.1:1
for opt in sgd momentum adagrad adam; do
  "${train[@]}" --algo sgd-explicit --optimizer "$opt" --factors 4 --iterations 3 \
    --export "$dir/$opt-a" >/dev/null
  "${train[@]}" --algo sgd-explicit --optimizer "$opt" --factors 4 --iterations 3 \
    --export "$dir/$opt-b" >/dev/null
  diff -r "$dir/$opt-a" "$dir/$opt-b"
done
"${train[@]}" --algo sgd-explicit --factors 4 --iterations 2 --json --train-metrics \
  > "$dir/out.json"
test "$(grep -o '"train_rmse"' "$dir/out.json" | wc -l)" -ge 2  # each epoch and the result
grep -q '"optimizer":"adam"' "$dir/out.json"
"${train[@]}" --algo sgd-explicit --factors 4 --iterations 2 --json > "$dir/plain.json"
if grep -q train_rmse "$dir/plain.json"; then
  echo "train_rmse without --train-metrics" >&2
  exit 1
fi
echo "sgd-explicit cli: ok"
