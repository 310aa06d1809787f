#!/usr/bin/env bash
# The one C++ format (.clang-format, Debian 12's clang-format 14) over the
# tracked C++ sources: generated code is never committed (protobuf_generate
# writes it into the build folder) and anything under a third_party/ or
# vendor/ folder, or named *.pb.h / *.pb.cc, is skipped should it appear.
#
#   scripts/check_format.sh          exit 1 and list the files that differ
#   scripts/check_format.sh -v       the same, with every clang-format diagnostic
#   scripts/check_format.sh --fix    rewrite them in place (what scripts/format.sh does)
#   ... [FILE...]                    only these files
set -euo pipefail
cd "$(dirname "$0")/.."

fix=0
verbose=0
files=()
for arg in "$@"; do
  case $arg in
    --fix) fix=1 ;;
    -v|--verbose) verbose=1 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "check_format: unknown option $arg" >&2; exit 2 ;;
    *) files+=("$arg") ;;
  esac
done

clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null; then
  echo "check_format: $clang_format not found (scripts/deps.sh installs Debian's clang-format)" >&2
  exit 2
fi
# Another major version formats some constructs differently: say so.
major=$("$clang_format" --version | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
if [ "$major" != 14 ]; then
  echo "check_format: warning: clang-format $major, the config is checked with 14 (Debian 12)" >&2
fi

if [ ${#files[@]} -eq 0 ]; then
  mapfile -t files < <(git ls-files -- '*.cc' '*.h' '*.cpp' '*.hpp' \
    ':!:*third_party/*' ':!:*vendor/*' ':!:*.pb.h' ':!:*.pb.cc')
fi
if [ ${#files[@]} -eq 0 ]; then
  echo "check_format: no C++ files"
  exit 0
fi

if [ $fix = 1 ]; then
  printf '%s\0' "${files[@]}" | xargs -0 -n 64 "$clang_format" -i --style=file
  echo "format: ${#files[@]} files formatted with .clang-format"
  exit 0
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
printf '%s\0' "${files[@]}" | xargs -0 -n 64 "$clang_format" --dry-run -Werror --style=file 2>"$log"
status=$?
set -e
# Diagnostics read "file:line:col: error: code should be clang-formatted".
mapfile -t bad < <(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' "$log" |
  LC_ALL=C sort -u)
if [ $status -eq 0 ] && [ ${#bad[@]} -eq 0 ]; then
  echo "check_format: OK (${#files[@]} files)"
  exit 0
fi
if [ ${#bad[@]} -eq 0 ]; then
  cat "$log" >&2
  echo "check_format: clang-format failed (exit $status)" >&2
  exit 2
fi
if [ $verbose = 1 ]; then
  cat "$log" >&2
fi
violations=$(grep -c 'error: code should be clang-formatted' "$log" || true)
printf '  %s\n' "${bad[@]}" >&2
echo "check_format: ${#bad[@]} of ${#files[@]} files differ from .clang-format ($violations places;" \
  "-v shows them); scripts/format.sh fixes them" >&2
exit 1
