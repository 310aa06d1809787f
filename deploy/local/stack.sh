#!/usr/bin/env bash
# The whole stack as local processes (DESIGN §8): redis-server (AOF on) and
# the five services (by default retrieval and ranking inside the gateway's
# process, --split: processes of their own), with logs and pid files under
# the state folder.
#
#   deploy/local/stack.sh up [OPTIONS]       start what is not running (and restart a
#                                            process whose flags changed), wait for health
#   deploy/local/stack.sh down               stop everything that runs, every replica
#                                            (SIGTERM, then SIGKILL)
#   deploy/local/stack.sh status [OPTIONS]   what runs where
#   deploy/local/stack.sh describe [OPTIONS] one JSON object: ports, binaries and the
#                                            flags (and their RECSTACK_* variables) each
#                                            process gets; the Docker and Kubernetes
#                                            tests read it
#
# Options:
#   --embedded     (the default with one replica) retrieval and ranking run
#                  inside the gateway's process (gateway --embed
#                  retrieval,ranking: the same code, no gRPC hop between
#                  them): three services, not five. The shape for one
#                  machine: a third to a half of the CPU per Recommend, a
#                  knee 1.2-1.6x as high on the same cores (docs/serving.md,
#                  docs/loadtest.md).
#   --split        retrieval and ranking as processes of their own, reached
#                  over gRPC: the five services of Docker Compose and
#                  Kubernetes, each restarted, shed and scaled on its own (the
#                  fault drills and scripts/scale.sh run this shape).
#                  `up` in the other shape switches a running stack over.
#   --replicas N   run N (1-9, default 1) replicas of retrieval and of ranking
#                  (N > 1 implies --split; not with --embedded);
#                  the gateway calls each service at every replica's address
#                  (--retrieval-addr ipv4:127.0.0.1:50053,127.0.0.1:50063,...)
#                  and spreads its calls round-robin over them
#   --redis-cluster M
#                  a Redis Cluster of M masters (1-5) with one replica each
#                  instead of one redis-server: 2M redis-server processes on
#                  the Redis port + 0..2M-1 (cluster bus: + 10000), formed
#                  with `redis-cli --cluster create`, node timeout 2 s; every
#                  service gets --redis-url redis-cluster://<every node> (16
#                  event partitions) and ingestion --redis-wait-replicas 1.
#                  Pid and log files redis-0 ... redis-<2M-1>. Use the same
#                  option with status, describe and up again; down stops any.
#   --redis-acl    least privilege in Redis: an ACL user per service
#                  (deploy/redis/acl.sh: ingestion writes events, training
#                  writes models, retrieval and ranking only read, the default
#                  user is off); passwords under $state/redis/acl/, made once;
#                  each service gets its user in --redis-url (passed in the
#                  environment, RECSTACK_REDIS_URL, not on its command line);
#                  redis-cli as admin: redis-cli --user admin --pass
#                  "$(cat $state/redis/acl/admin.password)". Applies to a Redis
#                  started by this `up` (down first to add it to a running one).
#   --tls          TLS everywhere: `up` makes a throwaway CA and a certificate
#                  per service under $state/tls (deploy/tls/make-certs.sh:
#                  ca.pem, NAME.pem + NAME-key.pem, and client.pem +
#                  client-key.pem for the CLI and other clients), and starts
#                  every service with --tls-cert, --tls-key and --tls-ca:
#                  gRPC only over mutual TLS (a client needs a certificate the
#                  CA signed), the gateway's HTTP as HTTPS. Metrics stay plain
#                  HTTP. Plaintext without it; switching restarts every service.
#
# Ports (RECSTACK_PORT_OFFSET is added to every one):
#   redis 6379, HTTP 8080 (the gateway's)
#   gRPC:    gateway 50050, ingestion 50051, training 50052, retrieval 50053, ranking 50054
#   metrics: gateway 9100,  ingestion 9101,  training 9102,  retrieval 9103,  ranking 9104
#   replica i of retrieval and ranking (i = 1..N) adds 10*(i-1) to both its
#   ports: retrieval-2 50063/9113, ranking-2 50064/9114, ..., retrieval-9
#   50133/9183. Replica 1 keeps the base ports and its plain name
#   (retrieval), so a one-replica stack is unchanged. With N <= 9 no replica
#   reaches another process's port; two stacks side by side need port
#   offsets at least 100 apart.
# Files: $state/pids/NAME.pid and $state/logs/NAME.log, NAME = redis, gateway,
# ..., retrieval, retrieval-2, ...; `down` stops every NAME.pid it finds.
#
# Environment:
#   RECSTACK_STACK_DIR    state folder (default: .stack in the repo)
#   RECSTACK_PORT_OFFSET  added to every port (default 0): run a second stack
#   RECSTACK_BIN          where the binaries are (default: build/bin)
#   RECSTACK_EXPERIMENTS  when set, the experiments file: given to ranking (which
#                         runs them) and training (which reads them out)
#   RECSTACK_EXPLORE_RATE when set, the gateway's --explore-rate
#   RECSTACK_HEALTH_WAIT  how long `up` waits for each service to be SERVING
#                         (default 120s: training replays its snapshot and
#                         feedback log first, a minute after millions of events)
# (RECSTACK_TLS_CERT, _KEY and _CA are ignored: --tls decides.)
set -euo pipefail
# The services and the CLI read these; only --tls may turn TLS on.
unset RECSTACK_TLS_CERT RECSTACK_TLS_KEY RECSTACK_TLS_CA
root=$(cd "$(dirname "$0")/../.." && pwd)
state=${RECSTACK_STACK_DIR:-$root/.stack}
off=${RECSTACK_PORT_OFFSET:-0}
bin=${RECSTACK_BIN:-$root/build/bin}
host=127.0.0.1

usage() {
  echo "usage: $0 up|down|status|describe [--embedded|--split] [--replicas N] [--redis-cluster M] [--redis-acl] [--tls]" >&2
  exit 2
}

# The command, then its options: one `case` arm per option.
cmd=${1:-status}
[ $# -eq 0 ] || shift
replicas=1
cluster_masters=0
acl=0
tls=0
shape=  # embedded or split; unset: embedded with one replica, split with more
while [ $# -gt 0 ]; do
  case $1 in
    --embedded | --split)
      if [ -n "$shape" ] && [ "$shape" != "${1#--}" ]; then
        echo "stack: --embedded and --split are two shapes: give one" >&2
        exit 2
      fi
      shape=${1#--}; shift ;;
    --redis-acl) acl=1; shift ;;
    --replicas) [ $# -ge 2 ] || usage; replicas=$2; shift 2 ;;
    --replicas=*) replicas=${1#*=}; shift ;;
    --redis-cluster) [ $# -ge 2 ] || usage; cluster_masters=$2; shift 2 ;;
    --redis-cluster=*) cluster_masters=${1#*=}; shift ;;
    --tls) tls=1; shift ;;
    *) echo "stack: unknown option $1" >&2; usage ;;
  esac
done
case $cmd in up | down | status | describe) ;; *) usage ;; esac
if ! [[ $replicas =~ ^[1-9]$ ]]; then
  echo "stack: --replicas must be 1-9, got '$replicas'" >&2
  exit 2
fi
if [ "$shape" = embedded ] && [ "$replicas" != 1 ]; then
  echo "stack: --embedded runs retrieval and ranking in the gateway: --replicas must be 1 (or give --split)" >&2
  exit 2
fi
[ -n "$shape" ] || { [ "$replicas" = 1 ] && shape=embedded || shape=split; }
embedded=0
[ "$shape" = split ] || embedded=1
if ! [[ $cluster_masters =~ ^[0-5]$ ]]; then
  echo "stack: --redis-cluster must be 1-5 masters, got '$cluster_masters'" >&2
  exit 2
fi

acl_dir=$state/redis/acl
# redis-cli as the admin user when --redis-acl (the default user is off).
redis_auth=()
if [ "$acl" = 1 ] && [ "$cmd" != describe ]; then
  "$root/deploy/redis/acl.sh" "$acl_dir"
  redis_auth=(--user admin --pass "$(cat "$acl_dir/admin.password")" --no-auth-warning)
fi
rcli() { redis-cli -h "$host" "${redis_auth[@]}" "$@"; }
redis_port=$((6379 + off))
# A cluster's nodes: the Redis port + 0..2M-1.
cluster_ports=()
for ((i = 0; i < 2 * cluster_masters; i++)); do cluster_ports+=($((redis_port + i))); done
if [ "$cluster_masters" -gt 0 ]; then
  redis_url="redis-cluster://$(for p in "${cluster_ports[@]}"; do printf '%s:%d,' "$host" "$p"; done)"
  redis_url=${redis_url%,}
else
  redis_url="redis://$host:$redis_port"
fi
declare -A grpc_port=([gateway]=$((50050 + off)) [ingestion]=$((50051 + off)) [training]=$((50052 + off))
                      [retrieval]=$((50053 + off)) [ranking]=$((50054 + off)))
declare -A metrics_port=([gateway]=$((9100 + off)) [ingestion]=$((9101 + off)) [training]=$((9102 + off))
                         [retrieval]=$((9103 + off)) [ranking]=$((9104 + off)))
# The Redis URL service $1 uses: with --redis-acl its own user (none for the
# gateway, which reaches Redis only through the services; with --embedded
# retrieval's, read-only like ranking's); `describe` shows the password as ***.
redis_url_of() {
  local s=$1
  [ "$s" != gateway ] || [ "$embedded" = 0 ] || s=retrieval
  if [ "$acl" = 0 ] || [ "$s" = gateway ]; then printf '%s' "$redis_url"; return; fi
  local pw='***'
  [ "$cmd" = describe ] || pw=$(cat "$acl_dir/$s.password")
  printf '%s' "${redis_url/:\/\//://$s:$pw@}"
}
http_port=$((8080 + off))
# --tls: the files deploy/tls/make-certs.sh makes, and what a client shows.
tls_dir=$state/tls
client_tls=()
http_scheme=http
if [ $tls = 1 ]; then
  client_tls=(--tls-cert "$tls_dir/client.pem" --tls-key "$tls_dir/client-key.pem" --tls-ca "$tls_dir/ca.pem")
  http_scheme=https
fi
services=(ingestion training retrieval ranking gateway)
[ "$embedded" = 0 ] || services=(ingestion training gateway)
# The services that run --replicas N processes, and a replica's port step.
declare -A replicated=([retrieval]=1 [ranking]=1)
replica_step=10

# Processes are named after their service, replica i >= 2 with a suffix:
# retrieval, retrieval-2, ...
service_of() { printf '%s' "${1%-[0-9]}"; }
replica_of() { if [[ $1 =~ -([0-9])$ ]]; then printf '%s' "${BASH_REMATCH[1]}"; else printf 1; fi; }
instance_name() { if [ "$2" -eq 1 ]; then printf '%s' "$1"; else printf '%s-%d' "$1" "$2"; fi; }
grpc_port_of() { echo $((grpc_port[$(service_of "$1")] + replica_step * ($(replica_of "$1") - 1))); }
metrics_port_of() { echo $((metrics_port[$(service_of "$1")] + replica_step * ($(replica_of "$1") - 1))); }

# The processes of service $1 with --replicas, in order.
instances_of() {
  local s=$1 i n=1
  [ -z "${replicated[$s]:-}" ] || n=$replicas
  for ((i = 1; i <= n; i++)); do instance_name "$s" "$i"; echo; done
}
# Every process of the stack with --replicas, in start order.
all_instances() {
  local s
  for s in "${services[@]}"; do instances_of "$s"; done
}
# What a client dials to reach service $1: host:port, or with several
# replicas the gRPC target listing each one (ipv4:host:p1,host:p2,...).
target_of() {
  local s=$1 inst list=""
  local -a insts
  mapfile -t insts < <(instances_of "$s")
  if [ ${#insts[@]} -eq 1 ]; then
    printf '%s:%d' "$host" "$(grpc_port_of "$s")"
    return
  fi
  for inst in "${insts[@]}"; do list+="${list:+,}$host:$(grpc_port_of "$inst")"; done
  printf 'ipv4:%s' "$list"
}

# describe only prints: it creates nothing.
if [ "$cmd" != describe ]; then
  mkdir -p "$state/logs" "$state/pids" "$state/redis" "$state/training"
fi

alive() {
  local pid
  [ -f "$state/pids/$1.pid" ] || return 1
  pid=$(cat "$state/pids/$1.pid")
  kill -0 "$pid" 2>/dev/null || return 1
  # Killed but not yet reaped (a zombie: its new parent, PID 1 in a container,
  # reaps when it gets to it) is not running: `kill -9 X; up` must start X.
  ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null
}

# The processes with a pid file (running or not) beside those of --replicas:
# what `status` shows, so replicas started with a larger N are not hidden.
known_instances() {
  local s inst f
  for s in ingestion training retrieval ranking gateway; do
    {
      # The shape's processes, and any other with a pid file (retrieval and
      # ranking of a --split stack, whatever the shape asked now).
      [[ " ${services[*]} " != *" $s "* ]] || instances_of "$s"
      for f in "$state/pids/$s".pid "$state/pids/$s"-[0-9].pid; do
        [ ! -e "$f" ] || basename "$f" .pid
      done
    } | sort -u -t- -k2,2n
  done
}

start_redis() {
  if alive redis; then return; fi
  redis-server --bind "$host" --port "$redis_port" --dir "$state/redis" --appendonly yes \
    --save "" --daemonize no --protected-mode yes --logfile "$state/logs/redis.log" "${acl_args[@]}" &
  echo $! > "$state/pids/redis.pid"
  # 10 s to answer; longer only while it says LOADING (its AOF replays: a
  # state folder after a million events and hours of load holds a GB).
  local reply i
  for ((i = 0; i < 3000; i++)); do
    reply=$(rcli -p "$redis_port" ping 2>&1) || true  # refused until it listens
    case "$reply" in
      *PONG*) return ;;
      *LOADING*)
        if [ "$i" = 100 ]; then echo "stack: redis is loading its data set" >&2; fi
        ;;
      *)
        if [ "$i" -ge 100 ]; then break; fi
        ;;
    esac
    if ! alive redis; then break; fi
    sleep 0.1
  done
  echo "stack: redis-server did not start; see $state/logs/redis.log" >&2
  exit 1
}

cluster_info() { rcli -p "$1" cluster info 2>/dev/null | tr -d '\r'; }
cluster_ok() {  # every node says cluster_state:ok and knows all the others
  local p
  for p in "${cluster_ports[@]}"; do
    cluster_info "$p" | grep -q '^cluster_state:ok$' || return 1
    cluster_info "$p" | grep -q "^cluster_known_nodes:${#cluster_ports[@]}\$" || return 1
    # A replica counts once it is in sync (ingestion waits for one).
    if rcli -p "$p" info replication | tr -d '\r' | grep -q '^role:slave$'; then
      rcli -p "$p" info replication | tr -d '\r' | grep -q '^master_link_status:up$' || return 1
    fi
  done
}

start_redis_cluster() {
  local i p
  for i in "${!cluster_ports[@]}"; do
    p=${cluster_ports[$i]}
    alive "redis-$i" && continue
    mkdir -p "$state/redis/node-$i"
    redis-server --bind "$host" --port "$p" --dir "$state/redis/node-$i" --appendonly yes --save "" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
      --daemonize no --protected-mode yes --logfile "$state/logs/redis-$i.log" "${acl_args[@]}" \
      "${replica_auth[@]}" &
    echo $! > "$state/pids/redis-$i.pid"
  done
  for p in "${cluster_ports[@]}"; do
    for _ in $(seq 100); do
      rcli -p "$p" ping 2>/dev/null | grep -q PONG && break
      sleep 0.1
    done
  done
  # A node that knows only itself was never formed; one formed before (its
  # nodes.conf is kept in the state folder) finds the others again.
  if cluster_info "${cluster_ports[0]}" | grep -q '^cluster_known_nodes:1$'; then
    redis-cli "${redis_auth[@]}" --cluster create $(for p in "${cluster_ports[@]}"; do printf '%s:%d ' "$host" "$p"; done) \
      --cluster-replicas 1 --cluster-yes >>"$state/logs/redis-cluster-create.log" 2>&1 || {
      echo "stack: redis-cli --cluster create failed; see $state/logs/redis-cluster-create.log" >&2
      exit 1
    }
  fi
  for _ in $(seq 300); do
    cluster_ok && return
    sleep 0.1
  done
  echo "stack: the Redis Cluster did not become healthy; see $state/logs/redis-*.log" >&2
  exit 1
}

# redis-server's ACL file, and the user a replica replicates as.
acl_args=() replica_auth=()
if [ "$acl" = 1 ] && [ "$cmd" != describe ]; then
  acl_args=(--aclfile "$acl_dir/users.acl")
  replica_auth=(--masteruser admin --masterauth "$(cat "$acl_dir/admin.password")")
fi

# The flags of process $1 (a service or one of its replicas), into the array
# `args` (flag, value, flag, value, ...).
service_args() {
  local inst=$1 name
  name=$(service_of "$inst")
  args=(--listen "$host:$(grpc_port_of "$inst")" --metrics-listen "$host:$(metrics_port_of "$inst")"
        --redis-url "$(redis_url_of "$name")")
  case $name in
    training) args+=(--state-dir "$state/training") ;;
    ingestion) [ "$cluster_masters" -eq 0 ] || args+=(--redis-wait-replicas 1) ;;
    gateway)
      args+=(--http-listen "$host:$http_port")
      if [ "$embedded" = 1 ]; then
        args+=(--embed retrieval,ranking)
      else
        args+=(--retrieval-addr "$(target_of retrieval)" --ranking-addr "$(target_of ranking)")
      fi
      args+=(--ingestion-addr "$(target_of ingestion)" --training-addr "$(target_of training)") ;;
  esac
  # A replica has its service's certificate (names and SANs are per service).
  [ $tls = 0 ] || args+=(--tls-cert "$tls_dir/$name.pem" --tls-key "$tls_dir/$name-key.pem"
                         --tls-ca "$tls_dir/ca.pem")
  # Optional settings of the user's, passed on explicitly so `describe` shows them.
  case $name in
    ranking | training) [ -z "${RECSTACK_EXPERIMENTS:-}" ] || args+=(--experiments "$RECSTACK_EXPERIMENTS") ;;
    gateway)
      [ -z "${RECSTACK_EXPLORE_RATE:-}" ] || args+=(--explore-rate "$RECSTACK_EXPLORE_RATE")
      # Embedded ranking runs the experiments.
      [ "$embedded" = 0 ] || [ -z "${RECSTACK_EXPERIMENTS:-}" ] ||
        args+=(--experiments "$RECSTACK_EXPERIMENTS") ;;
  esac
}

# Starts process $1 unless it runs with this binary and these flags
# already; one that runs with other flags (another --replicas changes the
# gateway's) or another binary (RECSTACK_BIN) is restarted.
start_service() {
  local inst=$1 args flags
  service_args "$inst"
  flags=$(printf '%q ' "$bin/recstack-$(service_of "$inst")" "${args[@]}")
  if alive "$inst"; then
    # No flags file: started by an older stack.sh; leave it be.
    [ -f "$state/pids/$inst.flags" ] || return 0
    [ "$(cat "$state/pids/$inst.flags")" != "$flags" ] || return 0
    echo "stack: restarting $inst (its binary or flags changed)"
    stop "$inst"
  fi
  # A Redis URL with a password goes in the environment, not on the command
  # line (which every local user can read in ps).
  local i env=()
  for ((i = 0; i < ${#args[@]}; i += 2)); do
    if [ "${args[i]}" = --redis-url ] && [[ ${args[i+1]} == *@* ]]; then
      env=("RECSTACK_REDIS_URL=${args[i+1]}")
      args=("${args[@]:0:i}" "${args[@]:i+2}")
      break
    fi
  done
  env "${env[@]}" "$bin/recstack-$(service_of "$inst")" "${args[@]}" >>"$state/logs/$inst.log" 2>&1 &
  echo $! > "$state/pids/$inst.pid"
  printf '%s' "$flags" > "$state/pids/$inst.flags"
}

stop() {
  local name=$1
  if ! alive "$name"; then rm -f "$state/pids/$name.pid" "$state/pids/$name.flags"; return; fi
  local pid
  pid=$(cat "$state/pids/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$state/pids/$name.pid" "$state/pids/$name.flags"
}

# Stops every process of service $1 that has a pid file beyond replica $2
# (0: all of them, whatever --replicas said when they started).
stop_replicas_beyond() {
  local s=$1 keep=$2 f inst
  for f in "$state/pids/$s".pid "$state/pids/$s"-[0-9].pid; do
    [ -e "$f" ] || continue
    inst=$(basename "$f" .pid)
    [ "$(replica_of "$inst")" -gt "$keep" ] && stop "$inst"
  done
  return 0
}

json_str() {  # a JSON string literal
  local v=${1//\\/\\\\}
  v=${v//\"/\\\"}
  printf '"%s"' "$v"
}

# --flag-name -> RECSTACK_FLAG_NAME, as common/config/config.cc EnvName does.
env_name() {
  local f=${1#--}
  f=${f//-/_}
  printf 'RECSTACK_%s' "${f^^}"
}

# One entry per process, named as its pid file; "service" and "replica" say
# which service it runs (the binary recstack-SERVICE).
describe() {
  local inst s i j args flags envs sep
  local -a insts
  mapfile -t insts < <(all_instances)
  local nodes
  nodes=$(IFS=,; echo "${cluster_ports[*]}")
  printf '{\n  "host": %s,\n  "embedded": %s,\n  "replicas": %d,\n  "redis": {"port": %d, "cluster_masters": %d, "nodes": [%s], "acl": %s},\n' \
    "$(json_str "$host")" "$([ "$embedded" = 1 ] && echo true || echo false)" "$replicas" "$redis_port" "$cluster_masters" "${nodes:-$redis_port}" \
    "$([ "$acl" = 1 ] && echo true || echo false)"
  if [ $tls = 1 ]; then
    printf '  "tls": {"enabled": true, "mutual": true, "dir": %s, "ca": %s, "client_cert": %s, "client_key": %s},\n' \
      "$(json_str "$tls_dir")" "$(json_str "$tls_dir/ca.pem")" "$(json_str "$tls_dir/client.pem")" \
      "$(json_str "$tls_dir/client-key.pem")"
  else
    printf '  "tls": {"enabled": false},\n'
  fi
  printf '  "services": {\n'
  for i in "${!insts[@]}"; do
    inst=${insts[$i]}
    s=$(service_of "$inst")
    service_args "$inst"
    flags="" envs="" sep=""
    for ((j = 0; j < ${#args[@]}; j += 2)); do
      flags+="$sep$(json_str "${args[j]}"): $(json_str "${args[j+1]}")"
      envs+="$sep$(json_str "$(env_name "${args[j]}")"): $(json_str "${args[j+1]}")"
      sep=", "
    done
    printf '    %s: {"service": %s, "replica": %d, "binary": %s, "grpc_port": %d, "metrics_port": %d' \
      "$(json_str "$inst")" "$(json_str "$s")" "$(replica_of "$inst")" "$(json_str "recstack-$s")" \
      "$(grpc_port_of "$inst")" "$(metrics_port_of "$inst")"
    [ "$s" = gateway ] && printf ', "http_port": %d, "http_scheme": "%s"' "$http_port" "$http_scheme"
    printf ',\n      "flags": {%s},\n      "env": {%s}}' "$flags" "$envs"
    [ "$i" -lt $((${#insts[@]} - 1)) ] && printf ','
    printf '\n'
  done
  printf '  }\n}\n'
}

case $cmd in
  describe) describe ;;
  up)
    for b in "${services[@]}"; do
      [ -x "$bin/recstack-$b" ] || { echo "stack: $bin/recstack-$b is missing: build first" >&2; exit 1; }
    done
    if [ $tls = 1 ]; then
      "$root/deploy/tls/make-certs.sh" "$tls_dir" gateway ingestion training retrieval ranking client || {
        echo "stack: could not make the TLS certificates in $tls_dir" >&2
        exit 1
      }
    fi
    if [ "$cluster_masters" -gt 0 ]; then start_redis_cluster; else start_redis; fi
    mapfile -t insts < <(all_instances)
    for inst in "${insts[@]}"; do start_service "$inst"; done
    for inst in "${insts[@]}"; do
      if ! "$bin/recstack" health --addr "$host:$(grpc_port_of "$inst")" --wait "${RECSTACK_HEALTH_WAIT:-120s}" "${client_tls[@]}" >/dev/null; then
        echo "stack: $inst is not healthy; see $state/logs/$inst.log" >&2
        exit 1
      fi
    done
    # Replicas of an earlier, larger --replicas (with --embedded, every one):
    # the gateway no longer calls them.
    keep=$replicas
    [ "$embedded" = 0 ] || keep=0
    for s in "${!replicated[@]}"; do stop_replicas_beyond "$s" "$keep"; done
    shape_msg="$replicas replica(s) of retrieval and ranking"
    [ "$embedded" = 0 ] || shape_msg="retrieval and ranking embedded in the gateway (--split: processes of their own)"
    echo "stack: up (redis $redis_url, gateway $host:${grpc_port[gateway]}, http $http_scheme://$host:$http_port/," \
      "$shape_msg, tls $([ $tls = 1 ] && echo "on (mutual)" || echo off))"
    if [ $tls = 1 ]; then
      echo "stack: every gRPC port wants a client certificate from $tls_dir/ca.pem; the CLI and the load generator:"
      echo "  $bin/recstack recommend --addr $host:${grpc_port[gateway]} --user u1 ${client_tls[*]}"
      echo "  or: export RECSTACK_TLS_CERT=$tls_dir/client.pem RECSTACK_TLS_KEY=$tls_dir/client-key.pem RECSTACK_TLS_CA=$tls_dir/ca.pem"
      echo "  HTTPS: curl --cacert $tls_dir/ca.pem https://$host:$http_port/healthz"
    fi
    ;;
  down)
    for s in gateway ranking retrieval training ingestion; do stop_replicas_beyond "$s" 0; done
    stop redis
    for f in "$state"/pids/redis-[0-9].pid; do [ ! -e "$f" ] || stop "$(basename "$f" .pid)"; done
    echo "stack: down"
    ;;
  status)
    mapfile -t insts < <(known_instances)
    redis_names=(redis)
    if [ "$cluster_masters" -gt 0 ]; then
      redis_names=()
      for i in "${!cluster_ports[@]}"; do redis_names+=("redis-$i"); done
    fi
    for inst in "${redis_names[@]}" "${insts[@]}"; do
      if alive "$inst"; then
        echo "$inst running (pid $(cat "$state/pids/$inst.pid"))"
      else
        echo "$inst stopped"
      fi
    done
    ;;
esac
