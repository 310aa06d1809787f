#!/usr/bin/env bash
# Applies .clang-format to the tracked C++ files (or to the files given), in
# place: the same file list as scripts/check_format.sh.
#   scripts/format.sh [FILE...]
exec "$(dirname "$0")/check_format.sh" --fix "$@"
