#!/usr/bin/env bash
# `deploy/local/stack.sh describe`: one JSON object with the five services'
# binaries, distinct ports and flags; RECSTACK_PORT_OFFSET moves every port;
# it creates no state folder (it only prints).
#   describe_test.sh ROOT PYTHON_RUNNER
set -euo pipefail
root=$1 run=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
state=$tmp/state
unset RECSTACK_EXPERIMENTS RECSTACK_EXPLORE_RATE
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 "$root/deploy/local/stack.sh" describe > "$tmp/d0.json"
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=100 "$root/deploy/local/stack.sh" describe > "$tmp/d100.json"
# The user's experiments file and exploration rate reach the services that read them.
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 RECSTACK_EXPERIMENTS=/tmp/exp.json RECSTACK_EXPLORE_RATE=0.1 \
  "$root/deploy/local/stack.sh" describe > "$tmp/dopt.json"
[ ! -e "$state" ] || { echo "describe created $state" >&2; exit 1; }
"$run" - "$tmp/d0.json" "$tmp/d100.json" "$tmp/dopt.json" <<'PY'
import json, sys
d0, d100, dopt = (json.load(open(p)) for p in sys.argv[1:4])
services = {"gateway", "ingestion", "training", "retrieval", "ranking"}
assert set(d0["services"]) == services, d0["services"].keys()
ports = [d0["redis"]["port"]]
for name, s in d0["services"].items():
    assert s["binary"] == f"recstack-{name}", s
    ports += [s["grpc_port"], s["metrics_port"]] + ([s["http_port"]] if "http_port" in s else [])
    assert s["flags"]["--listen"].endswith(f":{s['grpc_port']}"), s
    assert s["flags"]["--metrics-listen"].endswith(f":{s['metrics_port']}"), s
    assert s["flags"]["--redis-url"].endswith(f":{d0['redis']['port']}"), s
    for flag, value in s["flags"].items():
        env = "RECSTACK_" + flag[2:].replace("-", "_").upper()
        assert s["env"][env] == value, (env, s["env"])
    assert len(s["env"]) == len(s["flags"])
assert len(ports) == len(set(ports)), f"ports collide: {ports}"
assert "--state-dir" in d0["services"]["training"]["flags"]
assert "http_port" in d0["services"]["gateway"] and "--http-listen" in d0["services"]["gateway"]["flags"]
assert d100["redis"]["port"] == d0["redis"]["port"] + 100
for name in services:
    for k in ("grpc_port", "metrics_port", "http_port"):
        if k in d0["services"][name]:
            assert d100["services"][name][k] == d0["services"][name][k] + 100, (name, k)
# The gateway calls training (the /experiments page).
assert d0["services"]["gateway"]["flags"]["--training-addr"].endswith(f":{d0['services']['training']['grpc_port']}")
# Optional settings: absent by default, passed on when set.
for name in services:
    assert "--experiments" not in d0["services"][name]["flags"], name
    assert "--explore-rate" not in d0["services"][name]["flags"], name
for name in ("ranking", "training"):
    assert dopt["services"][name]["flags"]["--experiments"] == "/tmp/exp.json", dopt["services"][name]
    assert dopt["services"][name]["env"]["RECSTACK_EXPERIMENTS"] == "/tmp/exp.json"
assert dopt["services"]["gateway"]["flags"]["--explore-rate"] == "0.1"
assert "--experiments" not in dopt["services"]["gateway"]["flags"]
print("describe: ok")
PY
# The other commands are unchanged: an unknown one is a usage error.
if "$root/deploy/local/stack.sh" no-such-command 2>/dev/null; then
  echo "stack.sh no-such-command should fail" >&2
  exit 1
fi
