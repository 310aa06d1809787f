#!/usr/bin/env bash
# Runs one deploy check with a python3 that has PyYAML (Debian's
# python3-yaml, installed by scripts/deps.sh): Debian's own first.
set -euo pipefail
# No __pycache__ in the source tree.
export PYTHONDONTWRITEBYTECODE=1
for py in /usr/bin/python3 python3; do
  if command -v "$py" >/dev/null 2>&1 && "$py" -c 'import yaml' 2>/dev/null; then
    exec "$py" "$@"
  fi
done
echo "deploy tests: no python3 with PyYAML; run scripts/deps.sh (python3-yaml)" >&2
exit 1
