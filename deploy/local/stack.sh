#!/usr/bin/env bash
# The whole stack as local processes (DESIGN §8): redis-server (AOF on) and
# the five services, with logs and pid files under the state folder.
#
#   deploy/local/stack.sh up       start what is not running, wait for health
#   deploy/local/stack.sh down     stop everything (SIGTERM, then SIGKILL)
#   deploy/local/stack.sh status   what runs where
#
# Environment:
#   RECSTACK_STACK_DIR    state folder (default: .stack in the repo)
#   RECSTACK_PORT_OFFSET  added to every port (default 0): run a second stack
#   RECSTACK_BIN          where the binaries are (default: build/bin)
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

mkdir -p "$state/logs" "$state/pids" "$state/redis" "$state/training"

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

start_service() {
  local name=$1
  if alive "$name"; then return; fi
  local args=(--listen "$host:${grpc_port[$name]}" --metrics-listen "$host:${metrics_port[$name]}"
              --redis-url "redis://$host:$redis_port")
  case $name in
    training) args+=(--state-dir "$state/training") ;;
    gateway) args+=(--http-listen "$host:$http_port" --retrieval-addr "$host:${grpc_port[retrieval]}"
                    --ranking-addr "$host:${grpc_port[ranking]}" --ingestion-addr "$host:${grpc_port[ingestion]}") ;;
  esac
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

case "${1:-status}" in
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
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
