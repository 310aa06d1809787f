#!/usr/bin/env bash
# The one test command: installs missing Debian packages, configures, builds
# everything (services, CLI, tests, benchmarks) and runs every test.
#
#   ./scripts/test.sh              release build in build/, all tests
#   ./scripts/test.sh --sanitize   ASan+UBSan build in build-asan/, all tests, then every
#                                  fuzz target for 30 s (scripts/fuzz.sh, Clang, build-fuzz/;
#                                  results in build-fuzz/fuzz.json, docs/fuzzing.md)
#   ./scripts/test.sh --cluster    release build, also the e2e suite's second run on a
#                                  real Redis Cluster (label cluster_e2e, about 4
#                                  minutes; not in CI: the cluster client's own tests,
#                                  label cluster, run in every build)
#   ./scripts/test.sh -R redis     extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
fuzz=0
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECSTACK_BUILD_TESTS=ON -DRECSTACK_BUILD_BENCH=ON)
ctest_args=()
cluster_e2e=0
for arg in "$@"; do
  case "$arg" in
    --sanitize)
      build_dir=build-asan
      fuzz=1
      cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DRECSTACK_SANITIZE=ON -DRECSTACK_BUILD_TESTS=ON
                  -DRECSTACK_BUILD_BENCH=OFF) ;;
    --cluster) cluster_e2e=1 ;;
    *) ctest_args+=("$arg") ;;
  esac
done

if [ ! -d ../shared/data ]; then
  echo "test.sh: ../shared/data is missing: the tests read MovieLens and synth5m from there" >&2
  exit 1
fi

./scripts/deps.sh
jobs=$(nproc)
cmake -S . -B "$build_dir" -G Ninja "${cmake_args[@]}" -DRECSTACK_DATA_DIR="$(cd ../shared/data && pwd)"
cmake --build "$build_dir" -j "$jobs"
# Sanitizers: fail on the first report; leaks are reported too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
[ "$cluster_e2e" = 1 ] || ctest_args=(-LE cluster_e2e "${ctest_args[@]}")
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 300 "${ctest_args[@]}"
# The sanitizer run also fuzzes every parser of outside input for 30 s each,
# two at a time; any finding fails CI.
if [ "$fuzz" = 1 ]; then
  ./scripts/fuzz.sh --json build-fuzz/fuzz.json 30
fi
