#!/usr/bin/env bash
# The one test command: installs missing Debian packages, configures, builds
# everything (services, CLI, tests, benchmarks) and runs every test.
#
#   ./scripts/test.sh              release build in build/, all tests
#   ./scripts/test.sh --sanitize   ASan+UBSan build (Clang) in build-asan/, every test of
#                                  C++ code (not the script-only labels lint and deploy,
#                                  which the release run has run: nothing in them is
#                                  sanitized; nor the browser label, whose time is
#                                  Chromium's: the gateway's HTTP and page code it reaches
#                                  is sanitized in the gateway_page and gateway_keys
#                                  tests and fuzzed), then every fuzz target of the same build
#                                  for 20 s (scripts/fuzz.sh; results in
#                                  build-asan/fuzz.json, docs/fuzzing.md)
#   ./scripts/test.sh --cluster    release build, also the e2e suite's second run on a
#                                  real Redis Cluster (label cluster_e2e, about 4
#                                  minutes; not in CI: the cluster client's own tests,
#                                  label cluster, run in every build)
#   ./scripts/test.sh --drills     release build, also the fault drills under load and the
#                                  10-minute soak (labels drill and soak, about 25 minutes;
#                                  not in CI: docs/reliability.md)
#   ./scripts/test.sh -R redis     extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
fuzz=0
cmake_args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DRECSTACK_BUILD_TESTS=ON -DRECSTACK_BUILD_BENCH=ON)
ctest_args=()
cluster_e2e=0
drills=0
for arg in "$@"; do
  case "$arg" in
    --sanitize)
      build_dir=build-asan
      fuzz=1
      # Clang: it also builds the libFuzzer targets in the same tree (every
      # library instrumented for coverage), and compiles a third faster than GCC.
      cmake_args=(-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++
                  -DRECSTACK_SANITIZE=ON -DRECSTACK_FUZZ=ON -DRECSTACK_BUILD_TESTS=ON
                  -DRECSTACK_BUILD_BENCH=OFF) ;;
    --cluster) cluster_e2e=1 ;;
    --drills) drills=1 ;;
    *) ctest_args+=("$arg") ;;
  esac
done

if [ ! -d ../shared/data ]; then
  echo "test.sh: ../shared/data is missing: the tests read MovieLens and synth5m from there" >&2
  exit 1
fi

./scripts/deps.sh
jobs=$(nproc)
# A build folder configured with another compiler is started over (CMake
# cannot switch compilers in place).
if [ "$fuzz" = 1 ] && [ -f "$build_dir/CMakeCache.txt" ] &&
   ! grep -q '^CMAKE_CXX_COMPILER:.*clang++' "$build_dir/CMakeCache.txt"; then
  rm -rf "$build_dir"
fi
cmake -S . -B "$build_dir" -G Ninja "${cmake_args[@]}" -DRECSTACK_DATA_DIR="$(cd ../shared/data && pwd)"
cmake --build "$build_dir" -j "$jobs"
# Sanitizers: fail on the first report; leaks are reported too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# Labels left out unless asked for, in one -LE regex.
excluded=()
[ "$cluster_e2e" = 1 ] || excluded+=(cluster_e2e)
[ "$drills" = 1 ] || excluded+=(drill soak)
[ "$fuzz" = 0 ] || excluded+=(lint deploy browser)
[ ${#excluded[@]} -eq 0 ] || ctest_args=(-LE "^($(IFS='|'; echo "${excluded[*]}"))\$" "${ctest_args[@]}")
ctest --test-dir "$build_dir" --output-on-failure -j "$jobs" --timeout 300 "${ctest_args[@]}"
# The sanitizer run also fuzzes every parser of outside input for 20 s each,
# two at a time; any finding fails CI.
if [ "$fuzz" = 1 ]; then
  FUZZ_BUILD_DIR=$build_dir ./scripts/fuzz.sh --json "$build_dir/fuzz.json" 20
fi
