#!/usr/bin/env bash
# The whole stack as local processes (DESIGN §8): redis-server (AOF on) and
# the five services, with logs and pid files under the state folder.
#
#   deploy/local/stack.sh up       start what is not running, wait for health
#   deploy/local/stack.sh down     stop everything (SIGTERM, then SIGKILL)
#   deploy/local/stack.sh status   what runs where
#   deploy/local/stack.sh describe one JSON object: ports, binaries and the flags
#                                  (and their RECSTACK_* variables) each process
#                                  gets; the Docker and Kubernetes tests read it
#
# Environment:
#   RECSTACK_STACK_DIR    state folder (default: .stack in the repo)
#   RECSTACK_PORT_OFFSET  added to every port (default 0): run a second stack
#   RECSTACK_BIN          where the binaries are (default: build/bin)
#   RECSTACK_EXPERIMENTS  when set, the experiments file: given to ranking (which
#                         runs them) and training (which reads them out)
#   RECSTACK_EXPLORE_RATE when set, the gateway's --explore-rate
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
state=${RECSTACK_STACK_DIR:-$root/.stack}
off=${RECSTACK_PORT_OFFSET:-0}
bin=${RECSTACK_BIN:-$root/build/bin}
host=127.0.0.1

redis_port=$((6379 + off))
declare -A grpc_port=([gateway]=$((50050 + off)) [ingestion]=$((50051 + off)) [training]=$((50052 + off))
                      [retrieval]=$((50053 + off)) [ranking]=$((50054 + off)))
declare -A metrics_port=([gateway]=$((9100 + off)) [ingestion]=$((9101 + off)) [training]=$((9102 + off))
                         [retrieval]=$((9103 + off)) [ranking]=$((9104 + off)))
http_port=$((8080 + off))
services=(ingestion training retrieval ranking gateway)

# describe only prints: it creates nothing.
if [ "${1:-status}" != describe ]; then
  mkdir -p "$state/logs" "$state/pids" "$state/redis" "$state/training"
fi

alive() { [ -f "$state/pids/$1.pid" ] && kill -0 "$(cat "$state/pids/$1.pid")" 2>/dev/null; }

start_redis() {
  if alive redis; then return; fi
  redis-server --bind "$host" --port "$redis_port" --dir "$state/redis" --appendonly yes \
    --save "" --daemonize no --protected-mode yes --logfile "$state/logs/redis.log" &
  echo $! > "$state/pids/redis.pid"
  for _ in $(seq 100); do
    redis-cli -h "$host" -p "$redis_port" ping >/dev/null 2>&1 && return
    sleep 0.1
  done
  echo "stack: redis-server did not start; see $state/logs/redis.log" >&2
  exit 1
}

# The flags of service $1, into the array `args` (flag, value, flag, value, ...).
service_args() {
  local name=$1
  args=(--listen "$host:${grpc_port[$name]}" --metrics-listen "$host:${metrics_port[$name]}"
        --redis-url "redis://$host:$redis_port")
  case $name in
    training) args+=(--state-dir "$state/training") ;;
    gateway) args+=(--http-listen "$host:$http_port" --retrieval-addr "$host:${grpc_port[retrieval]}"
                    --ranking-addr "$host:${grpc_port[ranking]}" --ingestion-addr "$host:${grpc_port[ingestion]}"
                    --training-addr "$host:${grpc_port[training]}") ;;
  esac
  # Optional settings of the user's, passed on explicitly so `describe` shows them.
  case $name in
    ranking | training) [ -z "${RECSTACK_EXPERIMENTS:-}" ] || args+=(--experiments "$RECSTACK_EXPERIMENTS") ;;
    gateway) [ -z "${RECSTACK_EXPLORE_RATE:-}" ] || args+=(--explore-rate "$RECSTACK_EXPLORE_RATE") ;;
  esac
}

start_service() {
  local name=$1
  if alive "$name"; then return; fi
  local args
  service_args "$name"
  "$bin/recstack-$name" "${args[@]}" >>"$state/logs/$name.log" 2>&1 &
  echo $! > "$state/pids/$name.pid"
}

stop() {
  local name=$1
  if ! alive "$name"; then rm -f "$state/pids/$name.pid"; return; fi
  local pid
  pid=$(cat "$state/pids/$name.pid")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$state/pids/$name.pid"
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

describe() {
  local s i j args flags envs sep
  printf '{\n  "host": %s,\n  "redis": {"port": %d},\n  "services": {\n' "$(json_str "$host")" "$redis_port"
  for i in "${!services[@]}"; do
    s=${services[$i]}
    service_args "$s"
    flags="" envs="" sep=""
    for ((j = 0; j < ${#args[@]}; j += 2)); do
      flags+="$sep$(json_str "${args[j]}"): $(json_str "${args[j+1]}")"
      envs+="$sep$(json_str "$(env_name "${args[j]}")"): $(json_str "${args[j+1]}")"
      sep=", "
    done
    printf '    %s: {"binary": %s, "grpc_port": %d, "metrics_port": %d' \
      "$(json_str "$s")" "$(json_str "recstack-$s")" "${grpc_port[$s]}" "${metrics_port[$s]}"
    [ "$s" = gateway ] && printf ', "http_port": %d' "$http_port"
    printf ',\n      "flags": {%s},\n      "env": {%s}}' "$flags" "$envs"
    [ "$i" -lt $((${#services[@]} - 1)) ] && printf ','
    printf '\n'
  done
  printf '  }\n}\n'
}

case "${1:-status}" in
  describe) describe ;;
  up)
    for b in "${services[@]}"; do
      [ -x "$bin/recstack-$b" ] || { echo "stack: $bin/recstack-$b is missing: build first" >&2; exit 1; }
    done
    start_redis
    for s in "${services[@]}"; do start_service "$s"; done
    for s in "${services[@]}"; do
      if ! "$bin/recstack" health --addr "$host:${grpc_port[$s]}" --wait 30s >/dev/null; then
        echo "stack: $s is not healthy; see $state/logs/$s.log" >&2
        exit 1
      fi
    done
    echo "stack: up (redis $host:$redis_port, gateway $host:${grpc_port[gateway]}, http http://$host:$http_port/)"
    ;;
  down)
    for s in gateway ranking retrieval training ingestion; do stop "$s"; done
    stop redis
    echo "stack: down"
    ;;
  status)
    for s in redis "${services[@]}"; do
      if alive "$s"; then echo "$s running (pid $(cat "$state/pids/$s.pid"))"; else echo "$s stopped"; fi
    done
    ;;
  *) echo "usage: $0 up|down|status|describe" >&2; exit 2 ;;
esac
