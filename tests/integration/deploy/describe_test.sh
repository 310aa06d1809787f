#!/usr/bin/env bash
# `deploy/local/stack.sh describe`: one JSON object with the five services'
# binaries, distinct ports and flags; RECSTACK_PORT_OFFSET moves every port;
# it creates no state folder (it only prints). With --replicas N: one entry
# per replica of retrieval and ranking (retrieval-2, ...), every port still
# distinct, and the gateway calls every replica. With --tls: every process
# gets its service's certificate and the CA under $state/tls, the gateway's
# HTTP is https, and nothing is made (up makes the certificates). With
# --embedded (the default with one replica): three processes, the gateway
# with --embed retrieval,ranking (and the experiments), not with --replicas
# 2; --split: five processes (implied by --replicas N > 1), not with
# --embedded.
#   describe_test.sh ROOT PYTHON_RUNNER
set -euo pipefail
root=$1 run=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
state=$tmp/state
unset RECSTACK_EXPERIMENTS RECSTACK_EXPLORE_RATE
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 "$root/deploy/local/stack.sh" describe --split > "$tmp/d0.json"
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=100 "$root/deploy/local/stack.sh" describe --split > "$tmp/d100.json"
# The user's experiments file and exploration rate reach the services that read them.
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 RECSTACK_EXPERIMENTS=/tmp/exp.json RECSTACK_EXPLORE_RATE=0.1 \
  "$root/deploy/local/stack.sh" describe --split > "$tmp/dopt.json"
# Replicas: two, and the most (9) at two offsets 100 apart.
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 "$root/deploy/local/stack.sh" describe --replicas 2 > "$tmp/d2.json"
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 "$root/deploy/local/stack.sh" describe --replicas 2 \
  --redis-cluster 3 > "$tmp/dc3.json"
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 "$root/deploy/local/stack.sh" describe --replicas=9 > "$tmp/d9.json"
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=100 "$root/deploy/local/stack.sh" describe --replicas 9 > "$tmp/d9_100.json"
# TLS, with two replicas; RECSTACK_TLS_* in the caller's environment change nothing.
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 RECSTACK_TLS_CERT=/x.pem RECSTACK_TLS_CA=/ca.pem \
  "$root/deploy/local/stack.sh" describe --tls --replicas 2 > "$tmp/dtls.json"
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 RECSTACK_TLS_CERT=/x.pem RECSTACK_TLS_CA=/ca.pem \
  "$root/deploy/local/stack.sh" describe --split > "$tmp/dplain.json"
# Retrieval and ranking in the gateway's process; not with replicas.
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 RECSTACK_EXPERIMENTS=/tmp/exp.json \
  "$root/deploy/local/stack.sh" describe --embedded > "$tmp/demb.json"
# With no shape given, one replica is embedded.
RECSTACK_STACK_DIR=$state RECSTACK_PORT_OFFSET=0 RECSTACK_EXPERIMENTS=/tmp/exp.json \
  "$root/deploy/local/stack.sh" describe > "$tmp/ddefault.json"
for both in "--embedded --split" "--split --embedded"; do
  # shellcheck disable=SC2086  # two options
  if RECSTACK_STACK_DIR=$state "$root/deploy/local/stack.sh" describe $both >/dev/null 2>&1; then
    echo "describe $both should fail" >&2
    exit 1
  fi
done
if RECSTACK_STACK_DIR=$state "$root/deploy/local/stack.sh" describe --embedded --replicas 2 >/dev/null 2>&1; then
  echo "describe --embedded --replicas 2 should fail" >&2
  exit 1
fi
[ ! -e "$state" ] || { echo "describe created $state" >&2; exit 1; }
for bad in 0 10 two ""; do
  if RECSTACK_STACK_DIR=$state "$root/deploy/local/stack.sh" describe --replicas "$bad" >/dev/null 2>&1; then
    echo "describe --replicas '$bad' should fail" >&2
    exit 1
  fi
done
if RECSTACK_STACK_DIR=$state "$root/deploy/local/stack.sh" describe --no-such-option >/dev/null 2>&1; then
  echo "describe --no-such-option should fail" >&2
  exit 1
fi
[ ! -e "$state" ] || { echo "a failed describe created $state" >&2; exit 1; }
"$run" - "$tmp/d0.json" "$tmp/d100.json" "$tmp/dopt.json" "$tmp/d2.json" "$tmp/d9.json" "$tmp/d9_100.json" \
  "$tmp/dc3.json" "$tmp/dtls.json" "$tmp/dplain.json" "$tmp/demb.json" "$tmp/ddefault.json" "$state" <<'PY'
import json, sys
d0, d100, dopt, d2, d9, d9_100, dc3, dtls, dplain, demb, ddefault = (json.load(open(p)) for p in sys.argv[1:12])
state = sys.argv[12]
services = {"gateway", "ingestion", "training", "retrieval", "ranking"}
replicated = ("retrieval", "ranking")


def check(d):
    """Entries, ports and flags of one describe; returns its ports."""
    nodes = d["redis"]["nodes"]
    assert nodes[0] == d["redis"]["port"], d["redis"]
    # A cluster node also listens on its port + 10000 (the cluster bus).
    ports = list(nodes) + ([p + 10000 for p in nodes] if d["redis"]["cluster_masters"] else [])
    if d["redis"]["cluster_masters"]:
        url = "redis-cluster://" + ",".join(f"127.0.0.1:{p}" for p in nodes)
    else:
        url = f"redis://127.0.0.1:{d['redis']['port']}"
    for name, s in d["services"].items():
        assert s["service"] in services, s
        assert name == (s["service"] if s["replica"] == 1 else f"{s['service']}-{s['replica']}"), (name, s)
        assert s["binary"] == f"recstack-{s['service']}", s
        ports += [s["grpc_port"], s["metrics_port"]] + ([s["http_port"]] if "http_port" in s else [])
        assert s["flags"]["--listen"].endswith(f":{s['grpc_port']}"), s
        assert s["flags"]["--metrics-listen"].endswith(f":{s['metrics_port']}"), s
        assert s["flags"]["--redis-url"] == url, s
        for flag, value in s["flags"].items():
            env = "RECSTACK_" + flag[2:].replace("-", "_").upper()
            assert s["env"][env] == value, (env, s["env"])
        assert len(s["env"]) == len(s["flags"])
    assert len(ports) == len(set(ports)), f"ports collide: {sorted(ports)}"
    # The gateway calls every replica of a service, in order; one replica
    # is plain HOST:PORT.
    gw = d["services"]["gateway"]["flags"]
    for svc in services - {"gateway"}:
        reps = sorted((s["replica"], s["grpc_port"]) for s in d["services"].values() if s["service"] == svc)
        assert [r for r, _ in reps] == list(range(1, len(reps) + 1)), (svc, reps)
        want = (f"{d['host']}:{reps[0][1]}" if len(reps) == 1
                else "ipv4:" + ",".join(f"{d['host']}:{p}" for _, p in reps))
        assert gw[f"--{svc}-addr"] == want, (svc, gw[f"--{svc}-addr"], want)
    return ports


# --embedded: three processes; the gateway embeds retrieval and ranking
# (and runs the experiments), calls ingestion and training, on the same ports.
assert demb["embedded"] is True and d0["embedded"] is False, (demb["embedded"], d0["embedded"])
assert ddefault == demb, "describe without a shape is not describe --embedded"
assert d2["embedded"] is False, "--replicas 2 is not split"
assert set(demb["services"]) == {"gateway", "ingestion", "training"}, demb["services"].keys()
egw = demb["services"]["gateway"]["flags"]
assert egw["--embed"] == "retrieval,ranking" and demb["services"]["gateway"]["env"]["RECSTACK_EMBED"] == "retrieval,ranking", egw
assert "--retrieval-addr" not in egw and "--ranking-addr" not in egw, egw
assert egw["--redis-url"] == "redis://127.0.0.1:6379", egw
assert egw["--experiments"] == "/tmp/exp.json", egw
assert demb["services"]["training"]["flags"]["--experiments"] == "/tmp/exp.json"
for name in ("gateway", "ingestion", "training"):
    for k in ("grpc_port", "metrics_port"):
        assert demb["services"][name][k] == d0["services"][name][k], (name, k)
assert egw["--ingestion-addr"] == d0["services"]["gateway"]["flags"]["--ingestion-addr"]
assert set(d0["services"]) == services, d0["services"].keys()
assert d0["replicas"] == 1
check(d0)
assert all(s["replica"] == 1 for s in d0["services"].values())
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
# --replicas 2: retrieval-2 and ranking-2 beside the five, on ports of their own.
assert d2["replicas"] == 2
assert set(d2["services"]) == services | {"retrieval-2", "ranking-2"}, d2["services"].keys()
check(d2)
for name in services:  # replica 1 is the one-replica stack's entry, but for the gateway's targets
    if name != "gateway":
        assert d2["services"][name] == d0["services"][name], name
for svc in replicated:
    one, two = d2["services"][svc], d2["services"][f"{svc}-2"]
    assert two["service"] == svc and two["replica"] == 2 and two["binary"] == f"recstack-{svc}", two
    assert two["grpc_port"] == one["grpc_port"] + 10 and two["metrics_port"] == one["metrics_port"] + 10, two
gw = d2["services"]["gateway"]["flags"]
assert gw["--retrieval-addr"] == "ipv4:127.0.0.1:50053,127.0.0.1:50063", gw
assert gw["--ranking-addr"] == "ipv4:127.0.0.1:50054,127.0.0.1:50064", gw
assert gw["--ingestion-addr"] == "127.0.0.1:50051" and gw["--training-addr"] == "127.0.0.1:50052", gw
# Nine replicas: every port distinct, and a second stack 100 ports up shares none.
assert len(d9["services"]) == 3 + 2 * 9, d9["services"].keys()
p9, p9_100 = check(d9), check(d9_100)
assert not set(p9) & set(p9_100), sorted(set(p9) & set(p9_100))
# --redis-cluster 3: six nodes on the Redis port + 0..5, every service on the
# cluster, ingestion acknowledging only what a replica has.
assert dc3["redis"]["cluster_masters"] == 3
assert dc3["redis"]["nodes"] == [d0["redis"]["port"] + i for i in range(6)], dc3["redis"]
check(dc3)
assert dc3["services"]["ingestion"]["flags"]["--redis-wait-replicas"] == "1"
assert "--redis-wait-replicas" not in d0["services"]["ingestion"]["flags"]
assert d0["redis"]["cluster_masters"] == 0 and d0["redis"]["nodes"] == [d0["redis"]["port"]]
# Plaintext by default, whatever RECSTACK_TLS_* the caller has set.
assert d0["tls"] == {"enabled": False} and dplain == d0, (d0["tls"], dplain.get("tls"))
assert d0["services"]["gateway"]["http_scheme"] == "http"
for s in d0["services"].values():
    assert not any(f.startswith("--tls") for f in s["flags"]), s["flags"]
# --tls: the CA and the client's files in $state/tls, each process with its
# service's certificate and key (replicas share them) and the CA.
check(dtls)
tls = f"{state}/tls"
assert dtls["tls"] == {"enabled": True, "mutual": True, "dir": tls, "ca": f"{tls}/ca.pem",
                       "client_cert": f"{tls}/client.pem", "client_key": f"{tls}/client-key.pem"}, dtls["tls"]
assert set(dtls["services"]) == set(d2["services"])
for name, s in dtls["services"].items():
    svc = s["service"]
    assert s["flags"]["--tls-cert"] == f"{tls}/{svc}.pem", (name, s["flags"])
    assert s["flags"]["--tls-key"] == f"{tls}/{svc}-key.pem", (name, s["flags"])
    assert s["flags"]["--tls-ca"] == f"{tls}/ca.pem", (name, s["flags"])
    rest = {k: v for k, v in s["flags"].items() if not k.startswith("--tls")}
    assert rest == d2["services"][name]["flags"], name
assert dtls["services"]["gateway"]["http_scheme"] == "https"
print("describe: ok")
PY
# The other commands are unchanged: an unknown one is a usage error.
if "$root/deploy/local/stack.sh" no-such-command 2>/dev/null; then
  echo "stack.sh no-such-command should fail" >&2
  exit 1
fi
