# Sourced by the stack tests: a port offset at which every port the stack
# will use is free on loopback, and how a test fails.
#   fail MESSAGE...       prints it and the tail of every log in $state/logs, exits 1
#   pick_offset PORT...   prints an offset in 1000-14999 such that each PORT
#                         + offset is free (50 tries, then exits 1)
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_offset() {
  local _ off p ok
  for _ in $(seq 50); do
    off=$((1000 + RANDOM % 14000)) ok=1
    for p in "$@"; do
      port_free $((p + off)) || { ok=0; break; }
    done
    [ $ok = 1 ] && { echo $off; return; }
  done
  echo "no free port offset found" >&2
  exit 1
}
fail() {
  echo "FAIL: $*" >&2
  for f in "$state"/logs/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done
  exit 1
}
