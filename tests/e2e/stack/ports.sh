# Sourced by the stack tests: a port offset at which every port the stack
# will use is free on loopback, and how a test fails.
#   fail MESSAGE...       prints it and the tail of every log in $state/logs, exits 1
#   pick_offset PORT...   prints an offset in 1000-15400 such that each PORT
#                         + offset is free and outside the kernel's ephemeral
#                         range (200 tries, then exits 1)
# The ephemeral range (ip_local_port_range, 32768-60999 by default) is where
# the kernel picks the source port of every outgoing connection: a listen
# port chosen there can be taken by some client's connect between the check
# and the bind, which is how a stack test failed in CI with "Address already
# in use". With the default range the offsets 10950-15400 put the gRPC ports
# (50050+) above it and every other port below it.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_offset() {
  local _ off p ok lo=32768 hi=60999
  [ -r /proc/sys/net/ipv4/ip_local_port_range ] && read -r lo hi < /proc/sys/net/ipv4/ip_local_port_range
  for _ in $(seq 200); do
    off=$((1000 + RANDOM % 14401)) ok=1
    for p in "$@"; do
      p=$((p + off))
      if [ $p -gt 65535 ] || { [ $p -ge "$lo" ] && [ $p -le "$hi" ]; } || ! port_free $p; then
        ok=0
        break
      fi
    done
    [ $ok = 1 ] && { echo $off; return; }
  done
  echo "no free port offset outside the ephemeral range $lo-$hi found" >&2
  exit 1
}
fail() {
  echo "FAIL: $*" >&2
  for f in "$state"/logs/*.log; do echo "--- $f" >&2; tail -5 "$f" >&2; done
  exit 1
}
