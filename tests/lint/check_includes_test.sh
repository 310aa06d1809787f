#!/usr/bin/env bash
# scripts/check_includes.sh on small synthetic trees in a temp dir (never on
# the real tree): each case builds a tree, runs the check and compares its
# verdict (exit code) and, for a failure, the file:line it must name.
#   tests/lint/check_includes_test.sh SCRIPT
set -euo pipefail
script=${1:?usage: check_includes_test.sh path/to/check_includes.sh}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_includes_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

# A tree every case starts from: it follows the rule.
base() {
  local t=$1
  mkdir -p "$t/services/ranking" "$t/services/retrieval/index" "$t/common/math" "$t/tools/recstack" "$t/loadtest"
  printf '#pragma once\nint Rank();\n' >"$t/services/ranking/engine.h"
  printf '#include "services/ranking/engine.h"\n\n#include <vector>\n\n#include "common/math/dense.h"\n#include "recstack/v1/ranking.grpc.pb.h"\nint Rank() { return 0; }\n' \
    >"$t/services/ranking/engine.cc"
  printf '#pragma once\n#include "services/retrieval/index/flat.h"\n' >"$t/services/retrieval/retriever.h"
  printf '#pragma once\n#include "../retriever.h"\n' >"$t/services/retrieval/index/flat.h"
  printf '#pragma once\n#include <cstddef>\n' >"$t/common/math/dense.h"
  printf '#include "common/math/dense.h"\n// #include "services/ranking/engine.h" is not included: a comment\nint main() {}\n' \
    >"$t/tools/recstack/main.cc"
  printf '#include "common/math/dense.h"\n' >"$t/loadtest/runner.cc"
}

# expect NAME CODE [PATTERN]: runs the check on $tmp/NAME; the exit code must
# be CODE and the output must contain PATTERN (a fixed string) when given.
expect() {
  local name=$1 code=$2 pattern=${3:-} out got
  set +e
  out=$("$script" "$tmp/$name" 2>&1)
  got=$?
  set -e
  if [ "$got" -ne "$code" ]; then
    echo "FAIL $name: exit $got, expected $code; output:"
    printf '%s\n' "$out" | sed 's/^/    /'
    failures=$((failures + 1))
  elif [ -n "$pattern" ] && ! grep -qF -- "$pattern" <<<"$out"; then
    echo "FAIL $name: output lacks '$pattern'; output:"
    printf '%s\n' "$out" | sed 's/^/    /'
    failures=$((failures + 1))
  else
    echo "ok   $name (exit $got)"
  fi
}

# 1. Own headers, common/, generated and system headers only: passes.
base "$tmp/clean"
expect clean 0 "check_includes: OK"

# 2. A planted cross-service include fails and names the file and line.
base "$tmp/cross_service"
printf '#pragma once\n#include <string>\n#include "services/retrieval/retriever.h"\n' \
  >"$tmp/cross_service/services/ranking/features.h"
expect cross_service 1 "services/ranking/features.h:3:"

# 3. A tool including a service fails.
base "$tmp/tool"
printf '#include "services/ranking/engine.h"\n' >"$tmp/tool/tools/recstack/rank_command.cc"
expect tool 1 "tools/recstack/rank_command.cc:1:"

# 4. The load generator including a service fails (angled include).
base "$tmp/loadtest"
printf '#include <vector>\n#include <services/retrieval/retriever.h>\n' >"$tmp/loadtest/loadtest/workload.cc"
expect loadtest 1 "loadtest/workload.cc:2:"

# 5. common/ including a service fails.
base "$tmp/common"
printf '#pragma once\n#include "services/ranking/engine.h"\n' >"$tmp/common/common/math/blas.h"
expect common 1 "common/math/blas.h:2:"

# 6. A relative include that climbs into another service fails.
base "$tmp/relative"
printf '#include "../retrieval/retriever.h"\n' >"$tmp/relative/services/ranking/merge.cc"
expect relative 1 "services/ranking/merge.cc:1:"

# 7. A service whose name is a prefix of another's is still another service.
base "$tmp/prefix"
mkdir -p "$tmp/prefix/services/rank"
printf '#include "services/ranking/engine.h"\n' >"$tmp/prefix/services/rank/x.cc"
expect prefix 1 "services/rank/x.cc:1:"

# 8. Every offence is listed, not only the first.
base "$tmp/several"
printf '#include "services/ranking/engine.h"\n' >"$tmp/several/tools/recstack/a.cc"
printf '#include "services/retrieval/retriever.h"\n' >"$tmp/several/services/ranking/b.cc"
expect several 1 "tools/recstack/a.cc:1:"
expect several 1 "services/ranking/b.cc:1:"

if [ "$failures" -ne 0 ]; then
  echo "check_includes_test: $failures case(s) failed"
  exit 1
fi
echo "check_includes_test: all cases passed"
