#!/usr/bin/env bash
# Runs the libFuzzer targets of tests/fuzz (docs/fuzzing.md): configures and
# builds build-fuzz/ (Clang, ASan+UBSan, coverage; only the targets and what
# they link) when needed, then runs every target (or the ones named) for
# SECONDS each, two at a time, on a temporary copy of its committed seed
# corpus and regression inputs (the committed files are never changed).
#
#   scripts/fuzz.sh SECONDS [TARGET...]
#   scripts/fuzz.sh --json FILE SECONDS ...   write the results there instead
#                                             of docs/bench/fuzz.json
#   scripts/fuzz.sh --list                    the targets
#
# Prints a table and writes JSON: per target the executions, executions per
# second, the corpus size at the end and the finding (null, or its kind and
# the artifact, kept under build-fuzz/fuzz-artifacts/TARGET/). Writing
# docs/bench/fuzz.json also regenerates the docs' table of it
# (scripts/bench_tables.sh). Exit 1 on any finding (crash, leak, timeout,
# out-of-memory), 2 on a usage or build error.
#
# Environment: FUZZ_JOBS targets at a time (2), FUZZ_BUILD_JOBS build jobs
# (nproc), FUZZ_TIMEOUT seconds one input may take (10), FUZZ_BUILD_DIR
# another fuzz build to use as it is (test.sh --sanitize: build-asan/).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

usage() {
  sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

json_out=$root/docs/bench/fuzz.json
all_targets=()
for f in tests/fuzz/*_fuzz.cc; do
  t=$(basename "$f" _fuzz.cc)
  all_targets+=("$t")
done

seconds=
targets=()
while [ $# -gt 0 ]; do
  case $1 in
    --json) [ $# -ge 2 ] || usage; json_out=$2; shift 2 ;;
    --list) printf '%s\n' "${all_targets[@]}"; exit 0 ;;
    -h|--help) usage ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; usage ;;
    *)
      if [ -z "$seconds" ]; then
        seconds=$1
      else
        targets+=("$1")
      fi
      shift ;;
  esac
done
case $seconds in
  ''|*[!0-9]*|0) echo "fuzz.sh: SECONDS must be a whole number > 0" >&2; usage ;;
esac
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")
for t in "${targets[@]}"; do
  if [ ! -f "tests/fuzz/${t}_fuzz.cc" ]; then
    echo "fuzz.sh: no target '$t' (known: ${all_targets[*]})" >&2
    exit 2
  fi
done

jobs=${FUZZ_JOBS:-2}
build_jobs=${FUZZ_BUILD_JOBS:-$(nproc)}
timeout=${FUZZ_TIMEOUT:-10}
build=${FUZZ_BUILD_DIR:-build-fuzz}

./scripts/deps.sh
data_dir=$root/../shared/data
[ -d "$data_dir" ] && data_dir=$(cd "$data_dir" && pwd)

# Configure (a build dir made by another compiler is refused by CMake's
# cache, so it is started over) and build only the fuzz targets' closure.
now_ms() { date +%s%3N; }
t0=$(now_ms)
if [ -n "${FUZZ_BUILD_DIR:-}" ] && ! grep -qs '^RECSTACK_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "fuzz.sh: FUZZ_BUILD_DIR=$build is not a configured fuzz build (RECSTACK_FUZZ=ON)" >&2
  exit 2
fi
if [ -f "$build/CMakeCache.txt" ] && ! grep -q '^RECSTACK_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "fuzz.sh: $build/ is not a fuzz build; starting it over" >&2
  rm -rf "$build"
fi
if [ ! -f "$build/build.ninja" ]; then
  # -O1: ASan's usual trade of speed against build time (CI builds it).
  CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
    -DCMAKE_C_FLAGS_DEBUG="-g -O1" -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
    -DRECSTACK_FUZZ=ON -DRECSTACK_BUILD_TESTS=OFF -DRECSTACK_BUILD_BENCH=OFF \
    -DRECSTACK_DATA_DIR="$data_dir" >/dev/null || exit 2
fi
t1=$(now_ms)
cmake --build "$build" --target fuzz_all -j "$build_jobs" || exit 2
t2=$(now_ms)

work=$(mktemp -d "${TMPDIR:-/tmp}/recstack-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# One target: its own working corpus, artifacts kept in the build dir, the
# figures of -print_final_stats=1 into $work/TARGET.result.
run_one() {
  local t=$1 dir=$work/$1 art=$root/$build/fuzz-artifacts/$1 args rc=0
  mkdir -p "$dir/corpus"
  rm -rf "$art" && mkdir -p "$art"
  cp tests/fuzz/corpus/"$t"/* "$dir/corpus/"
  if [ -d "tests/fuzz/regressions/$t" ]; then
    cp tests/fuzz/regressions/"$t"/* "$dir/corpus/" 2>/dev/null || true
  fi
  args=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout="$timeout" -print_final_stats=1
        -artifact_prefix="$art/")
  [ -f "tests/fuzz/$t.dict" ] && args+=(-dict="tests/fuzz/$t.dict")
  "$build/fuzz/${t}_fuzz" "${args[@]}" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  local execs rate finding=null
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir/log" | tail -1)
  local artifact
  artifact=$(find "$art" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | head -1)
  if [ "$rc" -ne 0 ] || [ -n "$artifact" ]; then
    local kind=crash
    case $(basename "${artifact:-crash}") in
      leak-*) kind=leak ;;
      timeout-*) kind=timeout ;;
      oom-*) kind=out-of-memory ;;
    esac
    finding=$(jq -cn --arg kind "$kind" --arg artifact "${artifact#"$root/"}" --argjson rc "$rc" \
      '{kind: $kind, artifact: (if $artifact == "" then null else $artifact end), exit: $rc}')
    cp "$dir/log" "$art/log"
  fi
  jq -cn --arg target "$t" --argjson execs "${execs:-0}" --argjson rate "${rate:-0}" \
    --argjson corpus "$(find "$dir/corpus" -type f | wc -l)" \
    --argjson seeds "$(find "tests/fuzz/corpus/$t" -type f | wc -l)" \
    --argjson finding "$finding" \
    '{target: $target, executions: $execs, exec_per_s: $rate, seeds: $seeds,
      corpus: $corpus, finding: $finding}' >"$dir.result"
}

echo "fuzz.sh: ${#targets[@]} targets x ${seconds} s, $jobs at a time" >&2
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "$t" &
  running=$((running + 1))
done
wait || true
t3=$(now_ms)

results=$(for t in "${targets[@]}"; do cat "$work/$t.result"; done | jq -s .)
printf '%-16s %14s %10s %8s  %s\n' target executions exec/s corpus finding
jq -r '.[] | [.target, .executions, .exec_per_s, "\(.seeds) -> \(.corpus)",
  (if .finding == null then "none" else "\(.finding.kind): \(.finding.artifact)" end)] | @tsv' \
  <<<"$results" | while IFS=$'\t' read -r t e r c f; do
  printf '%-16s %14s %10s %8s  %s\n' "$t" "$e" "$r" "$c" "$f"
done

mkdir -p "$(dirname "$json_out")"
jq -n --argjson results "$results" --argjson seconds "$seconds" --argjson jobs "$jobs" \
  --argjson cpus "$(nproc)" --arg clang "$(clang --version | head -1)" --argjson build_jobs "$build_jobs" \
  --argjson configure "$((t1 - t0))" --argjson build "$((t2 - t1))" --argjson run "$((t3 - t2))" \
  '{seconds_per_target: $seconds, parallel: $jobs,
    machine: {cpus: $cpus, compiler: $clang, build_jobs: $build_jobs},
    wall_seconds: {configure: ($configure / 100 | round / 10), build: ($build / 100 | round / 10),
                   fuzz: ($run / 100 | round / 10)},
    targets: $results}' >"$json_out"
echo "fuzz.sh: wrote ${json_out#"$root/"}" >&2
if [ "$json_out" = "$root/docs/bench/fuzz.json" ]; then
  ./scripts/bench_tables.sh >/dev/null
fi

findings=$(jq '[.[] | select(.finding != null)] | length' <<<"$results")
if [ "$findings" -gt 0 ]; then
  echo "fuzz.sh: $findings target(s) found something: see the table (logs next to the artifacts)" >&2
  exit 1
fi
