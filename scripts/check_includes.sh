#!/usr/bin/env bash
# The include rule of the layout (STYLE.md, issue 12): common <- service core
# <- gRPC adapter <- main; tools and the load generator use clients and
# common only. A file
#   under services/<name>/   may include services/<name>/... only (its own service);
#   under common/            may not include services/...;
#   under tools/, loadtest/  may not include services/....
# Quoted and angled includes count, and so do relative ones ("../x/y.h"),
# resolved against the including file's directory.
#
#   scripts/check_includes.sh [ROOT]    ROOT defaults to the repository root
#
# Exit 0 with one OK line; exit 1 with "file:line: #include ... (why)" per
# offence. ROOT need not be a git checkout (the lint test builds a tree).
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
if [ ! -d "$root" ]; then
  echo "check_includes: $root is not a directory" >&2
  exit 2
fi
cd "$root"

dirs=()
for d in services common tools loadtest; do
  [ -d "$d" ] && dirs+=("$d")
done
if [ ${#dirs[@]} -eq 0 ]; then
  echo "check_includes: OK (no services/, common/, tools/ or loadtest/ under $root)"
  exit 0
fi

files=$(find "${dirs[@]}" -type f \( -name '*.h' -o -name '*.hh' -o -name '*.hpp' -o -name '*.cc' \
  -o -name '*.cpp' -o -name '*.cxx' -o -name '*.c' -o -name '*.inc' -o -name '*.ipp' \) | LC_ALL=C sort)
count=$(printf '%s\n' "$files" | grep -c . || true)

set +e
printf '%s\n' "$files" | tr '\n' '\0' | xargs -0 -r awk '
  # "a/b/../c" -> "a/c"; "./" segments dropped. Returns "" when it climbs out.
  function normalize(path,    n, parts, out, m, i) {
    n = split(path, parts, "/")
    m = 0
    for (i = 1; i <= n; i++) {
      if (parts[i] == "" || parts[i] == ".") continue
      if (parts[i] == "..") { if (m == 0) return ""; m--; continue }
      out[++m] = parts[i]
    }
    path = ""
    for (i = 1; i <= m; i++) path = path (i > 1 ? "/" : "") out[i]
    return path
  }
  # Which area a path belongs to: "services/<name>", "common", "tools",
  # "loadtest" or "" (anything else, e.g. generated proto headers, system).
  function area(path,    p) {
    split(path, p, "/")
    if (p[1] == "services" && p[2] != "") return "services/" p[2]
    if (p[1] == "common" || p[1] == "tools" || p[1] == "loadtest") return p[1]
    return ""
  }
  FNR == 1 { from = area(FILENAME); dir = FILENAME; sub(/\/[^\/]*$/, "", dir) }
  /^[ \t]*#[ \t]*include[ \t]*["<]/ {
    line = $0
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
    target = substr(line, 2)
    sub(/[">].*$/, "", target)
    resolved = target
    if (target ~ /^\.\.?\//) resolved = normalize(dir "/" target)
    to = area(resolved)
    if (to !~ /^services\//) next
    why = ""
    if (from ~ /^services\// && to != from) why = "a file of " from " includes " to
    else if (from == "common") why = "common/ includes services/"
    else if (from == "tools" || from == "loadtest") why = from "/ includes services/"
    if (why == "") next
    printf "%s:%d: %s  (%s)\n", FILENAME, FNR, $0, why
    bad++
  }
  END { exit bad > 0 ? 1 : 0 }
'
status=$?
set -e
# xargs reports 123 when an awk run exited 1 (an offence); anything else
# non-zero is a failure to run.
case $status in
  0) echo "check_includes: OK ($count files under ${dirs[*]}: no cross-service include)" ;;
  123) echo "check_includes: FAILED: the includes above cross the layering (scripts/check_includes.sh)" >&2
       exit 1 ;;
  *) echo "check_includes: could not scan $root (exit $status)" >&2
     exit 2 ;;
esac
