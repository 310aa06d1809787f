#!/usr/bin/env bash
# The docs' generated benchmark tables (scripts/bench_tables.sh):
#   1. the committed docs are what their committed JSON generates (so a hand
#      edit of a generated table, or a JSON committed without regenerating,
#      fails here);
#   2. on a copy of docs/: a hand-edited table is caught, regenerating
#      restores it and a second run changes nothing; a broken marker is an
#      error, not a silent skip.
#   tests/lint/bench_tables_test.sh SCRIPT ROOT
set -euo pipefail
script=${1:?usage: bench_tables_test.sh path/to/bench_tables.sh ROOT}
root=${2:?usage: bench_tables_test.sh path/to/bench_tables.sh ROOT}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench_tables_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect NAME CODE COMMAND...: COMMAND must exit with CODE.
expect() {
  local name=$1 code=$2 out got
  shift 2
  set +e
  out=$("$@" 2>&1)
  got=$?
  set -e
  if [ "$got" -ne "$code" ]; then
    echo "FAIL $name: exit $got, expected $code; output:"
    printf '%s\n' "$out" | sed 's/^/    /'
    failures=$((failures + 1))
  else
    echo "ok   $name (exit $got)"
  fi
}

# 1. The committed docs.
expect committed_docs_up_to_date 0 "$script" --check "$root"

# 2. A copy: the same docs and JSON.
mkdir -p "$tmp/copy/docs"
cp -r "$root/docs/." "$tmp/copy/docs/"
doc=$(grep -l '^<!-- bench:' "$tmp"/copy/docs/*.md | head -1)
if [ -z "$doc" ]; then
  echo "FAIL: no docs/*.md has a <!-- bench:NAME --> marker"
  exit 1
fi
expect copy_up_to_date 0 "$script" --check "$tmp/copy"
# A hand edit of the first data row of the first generated table.
cp "$doc" "$tmp/original.md"
awk '/^<!-- bench:/ && !done {inside = 1}
     inside && /^\| / && ++rows == 3 {$0 = $0 " 42 |"; inside = 0; done = 1}
     {print}' "$tmp/original.md" >"$doc"
if cmp -s "$doc" "$tmp/original.md"; then
  echo "FAIL: the test could not edit a table row in $doc"
  exit 1
fi
expect hand_edit_is_caught 1 "$script" --check "$tmp/copy"
expect regenerate 0 "$script" "$tmp/copy"
if cmp -s "$doc" "$tmp/original.md"; then
  echo "ok   regenerated_equals_committed"
else
  echo "FAIL regenerated_equals_committed:"
  diff -u "$tmp/original.md" "$doc" | sed 's/^/    /' || true
  failures=$((failures + 1))
fi
expect second_run_changes_nothing 0 "$script" --check "$tmp/copy"
# A marker never closed, and an unknown table: errors (exit 2).
printf '# t\n\n<!-- bench:%s -->\n\nno end marker\n' \
  "$(sed -n 's/^<!-- bench:\([^ ]*\) -->.*/\1/p' "$doc" | head -1)" >"$tmp/copy/docs/zz_unclosed.md"
expect unclosed_marker 2 "$script" --check "$tmp/copy"
printf '# t\n\n<!-- bench:no_such_table -->\n<!-- /bench -->\n' >"$tmp/copy/docs/zz_unclosed.md"
expect unknown_table 2 "$script" --check "$tmp/copy"

if [ "$failures" -ne 0 ]; then
  echo "bench_tables_test: $failures check(s) failed"
  exit 1
fi
echo "bench_tables_test: all checks passed"
