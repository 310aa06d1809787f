#!/usr/bin/env bash
# The docs' benchmark tables, generated from the benchmarks' committed JSON
# (STYLE rule 18: no figure typed by hand). In docs/*.md and
# docs/walkthrough/*.md, the text between
#
#   <!-- bench:NAME -->
#   <!-- /bench -->
#
# is replaced by the markdown table that scripts/bench_tables/NAME.jq makes
# from the JSON file its first line names ("# input: retrieval.json", in
# docs/bench/; "../walkthrough/figures.json" for the walkthrough's). Text
# outside the markers is left alone.
#
#   scripts/bench_tables.sh [ROOT]          rewrite the tables in ROOT/docs/*.md
#   scripts/bench_tables.sh --check [ROOT]  change nothing; exit 1 and show the
#                                           diff if a table differs from its JSON
#   scripts/bench_tables.sh --list          the table names
#
# ROOT defaults to the repository root. Exit 2 on a broken marker, an unknown
# table or a missing JSON file. Needs jq.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
specs=$here/bench_tables
check=0
root=
for arg in "$@"; do
  case $arg in
    --check) check=1 ;;
    --list)
      for f in "$specs"/*.jq; do
        name=$(basename "$f" .jq)
        [ "$name" = lib ] || echo "$name <- docs/bench/$(sed -n '1s/^# input: *//p' "$f")"
      done
      exit 0 ;;
    -h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench_tables: unknown option $arg" >&2; exit 2 ;;
    *) root=$arg ;;
  esac
done
root=${root:-$(cd "$here/.." && pwd)}
bench=$root/docs/bench

fail() {
  echo "bench_tables: $*" >&2
  exit 2
}

# The table NAME, on stdout.
render() {
  local name=$1 spec=$specs/$1.jq input
  [ -f "$spec" ] || fail "$2: no table '$name' (no $spec; --list shows them)"
  input=$(sed -n '1s/^# input: *//p' "$spec")
  [ -n "$input" ] || fail "$spec: the first line must be '# input: FILE.json'"
  [ -f "$bench/$input" ] || fail "$2: table '$name' needs $bench/$input, which is missing"
  jq -r -L "$specs" -f "$spec" "$bench/$input" || fail "$2: table '$name': jq failed on $input"
}

# FILE with its tables regenerated, on stdout.
regenerate() {
  local file=$1 line name= n=0 start=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    if [[ $line =~ ^\<!--\ bench:([A-Za-z0-9_.-]+)\ --\>[[:space:]]*$ ]]; then
      [ -z "$name" ] || fail "$file:$n: a bench marker inside the one opened at line $start"
      name=${BASH_REMATCH[1]}
      start=$n
      printf '%s\n\n' "$line"
      render "$name" "$file:$n"
      printf '\n'
    elif [[ $line =~ ^\<!--\ /bench\ --\>[[:space:]]*$ ]]; then
      [ -n "$name" ] || fail "$file:$n: <!-- /bench --> without an opening marker"
      name=
      printf '%s\n' "$line"
    elif [ -z "$name" ]; then
      printf '%s\n' "$line"
    fi
  done <"$file"
  [ -z "$name" ] || fail "$file:$start: <!-- bench:$name --> is never closed by <!-- /bench -->"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
shopt -s nullglob
tables=0
changed=()
for file in "$root"/docs/*.md "$root"/docs/walkthrough/*.md; do
  grep -q '^<!-- bench:' "$file" || continue
  out=$tmp/$(echo "${file#"$root"/docs/}" | tr / _)
  regenerate "$file" >"$out"
  tables=$((tables + $(grep -c '^<!-- bench:' "$file")))
  if ! cmp -s "$file" "$out"; then
    changed+=("$file")
    if [ $check = 1 ]; then
      diff -u "$file" "$out" | sed "s|$tmp/||" || true
    else
      cp "$out" "$file"
    fi
  fi
done

rel() { printf '%s\n' "${@#"$root"/}"; }
if [ $check = 1 ]; then
  if [ ${#changed[@]} -gt 0 ]; then
    echo "bench_tables: $(rel "${changed[@]}" | paste -sd' ') differ from their JSON (above: - as" \
      "committed, + as generated); a generated table is not edited by hand: change the JSON" \
      "(scripts/bench.sh) or the table's program (scripts/bench_tables/), then run" \
      "scripts/bench_tables.sh" >&2
    exit 1
  fi
  echo "bench_tables: OK ($tables table(s) up to date)"
else
  echo "bench_tables: $tables table(s); rewrote ${#changed[@]} file(s)$([ ${#changed[@]} -eq 0 ] || printf ': %s' "$(rel "${changed[@]}" | paste -sd' ')")"
fi
