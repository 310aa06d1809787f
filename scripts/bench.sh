#!/usr/bin/env bash
# Regenerates docs/bench/*.json from the benchmark programs, then the docs'
# tables from them (scripts/bench_tables.sh). Long (about 2 hours on 2 cores
# for everything) and machine-dependent: not for CI. Run it on a quiet
# machine; each JSON records what it needs to be read (CPU, load, sizes).
#
#   scripts/bench.sh [--only NAME]... [--build DIR] [--data DIR] [--budget SECONDS]
#                    [--jobs N] [--no-build] [--list]
#
# NAME (default: all, in this order), each with its own time limit:
#   retrieval      recstack-bench-retrieval                -> retrieval.json              (30 min)
#   retrieval_rss  recstack-bench-retrieval --service-rss  -> retrieval_service_rss.json  (60 min)
#   ease           recstack-bench-ease --dataset ml100k    -> ease_ml100k.json            (20 min)
#   train          tests/bench/train/run_paths.sh          -> train_<simd path>[_ialspp].json (120 min)
#   capacity       scripts/capacity.sh (the default embedded stack, then --split)
#                                                          -> loadtest_{knee,overload}[_before].json (40 min)
#   replicas       tests/e2e/stack/replicas_test.sh        -> replicas.json               (5 min)
#
# The whole run is bounded by --budget (default 14400 s): a benchmark gets
# the smaller of its own limit and what is left of the budget, and one that
# fails or runs out of time leaves its committed JSON as it was (results are
# written to a temporary folder and moved into docs/bench/ only when complete
# and valid JSON). Exit 1 if any benchmark failed; the tables are regenerated
# from whatever JSON is there either way.
#
# Before the run, the benchmarks' targets are built (cmake --build, -j N,
# default all cores; --no-build to use the binaries as they are).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build
data=$root/../shared/data
budget=14400
jobs=$(nproc)
do_build=1
only=()
all=(retrieval retrieval_rss ease train capacity replicas)

usage() { sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case $1 in
    --only) only+=("$2"); shift 2 ;;
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --budget) budget=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --no-build) do_build=0; shift ;;
    --list) printf '%s\n' "${all[@]}"; exit 0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "bench.sh: unknown argument $1 (--help)" >&2; exit 2 ;;
  esac
done
[ ${#only[@]} -gt 0 ] || only=("${all[@]}")
for name in "${only[@]}"; do
  case " ${all[*]} " in
    *" $name "*) ;;
    *) echo "bench.sh: unknown benchmark '$name' (one of: ${all[*]})" >&2; exit 2 ;;
  esac
done
case $budget in
  ''|*[!0-9]*) echo "bench.sh: --budget takes whole seconds, got '$budget'" >&2; exit 2 ;;
esac
build=$(cd "$build" && pwd)
bin=$build/bin
out=$root/docs/bench
mkdir -p "$out"

# Targets each benchmark runs.
targets_of() {
  case $1 in
    retrieval|retrieval_rss) echo recstack-bench-retrieval ;;
    ease) echo recstack-bench-ease ;;
    train) echo recstack-bench-train ;;
    capacity | replicas) echo recstack recstack-loadtest recstack-gateway recstack-ingestion \
      recstack-training recstack-retrieval recstack-ranking ;;
  esac
}
# Seconds each may take at most.
limit_of() {
  case $1 in
    retrieval) echo 1800 ;;
    retrieval_rss) echo 3600 ;;
    ease) echo 1200 ;;
    train) echo 7200 ;;
    capacity) echo 2400 ;;
    replicas) echo 300 ;;
  esac
}

if [ $do_build = 1 ]; then
  targets=()
  for name in "${only[@]}"; do
    read -ra t <<<"$(targets_of "$name")"
    targets+=("${t[@]}")
  done
  cmake --build "$build" -j "$jobs" --target $(printf '%s\n' "${targets[@]}" | sort -u)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/recstack-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# Moves FILE (complete, valid JSON) to docs/bench/, pretty-printed.
publish() {
  local file=$1 name
  name=$(basename "$file")
  if ! jq -e . "$file" >/dev/null 2>&1; then
    echo "bench.sh: $name is not valid JSON; docs/bench/$name left as it was" >&2
    return 1
  fi
  jq . "$file" >"$out/$name"
  echo "bench.sh: wrote docs/bench/$name"
}

# Runs one benchmark with its time limit (then KILL a minute later); its
# results land in $dir first. Returns the benchmark's exit code (124: time).
run_one() {
  local name=$1 limit=$2 dir=$tmp/$1 rc=0 f
  local run=(timeout -k 60 "$limit")
  mkdir -p "$dir"
  case $name in
    retrieval)
      "${run[@]}" "$bin/recstack-bench-retrieval" --out "$dir/retrieval.json" || rc=$? ;;
    retrieval_rss)
      "${run[@]}" "$bin/recstack-bench-retrieval" --service-rss --out "$dir/retrieval_service_rss.json" ||
        rc=$? ;;
    ease)
      "${run[@]}" "$bin/recstack-bench-ease" --dataset ml100k --data-dir "$data" \
        >"$dir/ease_ml100k.json" || rc=$? ;;
    train)
      # run_paths.sh writes docs/bench/train_*.json itself, each file once
      # its run has finished (a run cut short leaves the old file).
      "${run[@]}" "$root/tests/bench/train/run_paths.sh" "$build" || rc=$?
      return $rc ;;
    capacity)
      # The default, embedded stack (retrieval and ranking in the gateway:
      # the knee docs/loadtest.md quotes), then the five-process stack
      # (--split) on the same data (its *_before.json). capacity.sh stops
      # its stack on exit, also when the time limit ends it.
      local cap_state
      cap_state=$(mktemp -d "${TMPDIR:-/tmp}/recstack-capacity.XXXXXX")
      RECSTACK_STACK_DIR=$cap_state RECSTACK_BIN=$bin "${run[@]}" "$root/scripts/capacity.sh" --embedded \
        --out "$dir" || rc=$?
      if [ $rc -eq 0 ]; then
        RECSTACK_STACK_DIR=$cap_state RECSTACK_BIN=$bin "${run[@]}" "$root/scripts/capacity.sh" --split --reuse \
          --out "$dir/five" || rc=$?
        [ $rc -ne 0 ] || { mv "$dir/five/loadtest_knee.json" "$dir/loadtest_knee_before.json" &&
          mv "$dir/five/loadtest_overload.json" "$dir/loadtest_overload_before.json"; } || rc=$?
      fi
      rm -rf "$cap_state" "$dir/five" ;;
    replicas)
      # A stack of its own on free ports, stopped on exit.
      "${run[@]}" "$root/tests/e2e/stack/replicas_test.sh" "$bin" --out "$dir/replicas.json" || rc=$? ;;
  esac
  [ $rc -eq 0 ] || return $rc
  for f in "$dir"/*.json; do
    [ -e "$f" ] || continue
    # capacity.sh also keeps one debug answer; docs/bench holds the two runs.
    [ "$(basename "$f")" = loadtest_one_recommend.json ] && continue
    publish "$f" || rc=1
  done
  return $rc
}

start=$(date +%s)
failed=()
for name in "${only[@]}"; do
  left=$((budget - ($(date +%s) - start)))
  if [ $left -le 0 ]; then
    echo "bench.sh: budget of $budget s spent; $name not run" >&2
    failed+=("$name (not run: budget)")
    continue
  fi
  limit=$(limit_of "$name")
  [ "$limit" -le "$left" ] || limit=$left
  echo "== $name (at most $limit s) $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
  t0=$(date +%s)
  set +e
  run_one "$name" "$limit"
  rc=$?
  set -e
  if [ $rc -eq 124 ]; then
    echo "bench.sh: $name ran out of time ($limit s); its JSON is unchanged" >&2
    failed+=("$name (timeout)")
  elif [ $rc -ne 0 ]; then
    echo "bench.sh: $name failed (exit $rc); its JSON is unchanged" >&2
    failed+=("$name (exit $rc)")
  else
    echo "== $name done in $(($(date +%s) - t0)) s"
  fi
done

if ! "$root/scripts/bench_tables.sh"; then
  failed+=("the tables (scripts/bench_tables.sh)")
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "bench.sh: failed: ${failed[*]}" >&2
  exit 1
fi
echo "bench.sh: ${only[*]} done in $(($(date +%s) - start)) s; review and commit docs/bench/ and docs/"
