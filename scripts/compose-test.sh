#!/usr/bin/env bash
# The Compose stack end to end on a real engine (Podman, through its Docker
# API), on a Debian 12 machine as root, with Debian packages only:
#
#   1. sets the engine up (idempotent): installs what is missing, writes
#      /etc/containers/containers.conf only where no containers.conf exists,
#      builds the base image localhost/debian:bookworm with debootstrap only
#      if it is absent, starts `podman system service` (and stops it at the
#      end) unless an API socket already answers;
#   2. builds the images of deploy/docker/ (recstack, redis, prometheus);
#   3. `docker-compose up -d`, waits until every container is healthy;
#   4. through the published ports: datagen + ingest, train, recommend over
#      gRPC and HTTP (10 items), a 10 s open-loop load test (0 errors);
#   5. asks Prometheus that its 5 recstack targets are up and that every
#      metric the Grafana dashboard queries has data;
#   6. `docker-compose down -v`, and checks no container, network or volume
#      of the project is left.
#
# It prints the image sizes, build times, the time from `up` to all-healthy
# and the load-test summary; it exits non-zero at the first failure, with
# the failing containers' logs. Not part of the default test run (minutes,
# and it needs root): `ctest -L compose` in a build configured with
# -DRECSTACK_COMPOSE_TESTS=ON runs it. docs/deploy.md has the recipe.
#
# Environment:
#   RECSTACK_BASE_IMAGE     base of every image (default localhost/debian:bookworm,
#                           made here; debian:bookworm pulls Docker Hub's)
#   RECSTACK_RUNTIME_IMAGE  base of the recstack runtime stage (default: the base)
#   RECSTACK_BUILD_JOBS     compiler processes in the image build (default nproc)
#   RECSTACK_BIN_DIR        where the host's recstack and recstack-loadtest are
#                           (default build/bin if both are built there; otherwise
#                           they run from the image, on the host's network)
#   RECSTACK_LOADTEST_RATE  Recommend/s of the load test (default 200)
#   PODMAN_SOCKET           the API socket (default /run/podman/podman.sock)
set -euo pipefail
cd "$(dirname "$0")/.."

project=recstack-compose-test
compose_file=deploy/docker-compose.yml
base_image=${RECSTACK_BASE_IMAGE:-localhost/debian:bookworm}
runtime_image=${RECSTACK_RUNTIME_IMAGE:-$base_image}
jobs=${RECSTACK_BUILD_JOBS:-$(nproc)}
rate=${RECSTACK_LOADTEST_RATE:-200}
socket=${PODMAN_SOCKET:-/run/podman/podman.sock}
# Published ports (deploy/docker-compose.yml): they must be free.
ports=(6379 50050 50051 50052 50053 50054 8080 9100 9101 9102 9103 9104 9090)
user=u1 # a user of the synthetic data set, with history and a factor

log() { printf '\n== %s\n' "$*"; }
fail() {
  echo "compose-test: FAIL $*" >&2
  exit 1
}

if [ "$(id -u)" -ne 0 ]; then
  fail "run as root: the test drives rootful Podman (docs/deploy.md)"
fi

work=$(mktemp -d /tmp/recstack-compose-test.XXXXXX)
service_pid=""
ticker_pid=""
up_pid=""
stack_up=0

compose() { docker-compose -f "$compose_file" -p "$project" "$@"; }

# Containers of the project (running or not).
project_containers() { podman ps -a -q --filter "label=com.docker.compose.project=$project"; }

show_failures() {
  # Every container that is not healthy: its state and the end of its log
  # (a service that cannot start says why there).
  local c name state health
  for c in $(project_containers); do
    name=$(podman inspect --format '{{.Name}}' "$c")
    state=$(podman inspect --format '{{.State.Status}} exit={{.State.ExitCode}}' "$c")
    health=$(podman inspect --format '{{if .State.Healthcheck}}{{.State.Healthcheck.Status}}{{end}}' "$c" 2>/dev/null || true)
    if [ "$health" != healthy ]; then
      echo "--- $name: $state ${health:+health=$health}; last log lines:" >&2
      podman logs --tail 50 "$c" 2>&1 | uniq | tail -8 | sed 's/^/    /' >&2 || true
    fi
  done
}

cleanup() {
  local rc=$?
  set +e
  if [ -n "$up_pid" ]; then kill "$up_pid" 2>/dev/null; wait "$up_pid" 2>/dev/null; fi
  if [ "$stack_up" -eq 1 ]; then
    if [ "$rc" -ne 0 ]; then show_failures; fi
    echo "compose-test: stopping the stack" >&2
    compose down -v --remove-orphans >"$work/down.log" 2>&1
  fi
  if [ -n "$ticker_pid" ]; then kill "$ticker_pid" 2>/dev/null; wait "$ticker_pid" 2>/dev/null; fi
  if [ -n "$service_pid" ]; then
    kill "$service_pid" 2>/dev/null
    wait "$service_pid" 2>/dev/null
    rm -f "$socket"
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- 1. The engine ----------------------------------------------------------

log "Engine: Podman through its Docker API"
packages=(podman runc debootstrap uidmap slirp4netns docker-compose
  golang-github-containernetworking-plugin-dnsname iptables curl jq)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Another apt may hold the lock: wait for it.
  for attempt in 1 2 3 4 5 6 7 8 9 10; do
    if apt-get update -qq && apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 \
      "${missing[@]}" >"$work/apt.log" 2>&1; then
      break
    fi
    [ "$attempt" -lt 10 ] || { tail -20 "$work/apt.log" >&2; fail "apt-get install ${missing[*]} failed"; }
    echo "apt is busy or failed; retrying in 15 s"
    sleep 15
  done
fi

# runc + cgroupfs: crun refuses this kernel's hybrid cgroup layout, and the
# built-in ulimits exceed the machine's hard limits (setrlimit fails).
user_conf=${XDG_CONFIG_HOME:-$HOME/.config}/containers/containers.conf
existing=$(ls /etc/containers/containers.conf /etc/containers/containers.conf.d/*.conf "$user_conf" 2>/dev/null || true)
if [ -z "$existing" ]; then
  mkdir -p /etc/containers
  cat >/etc/containers/containers.conf <<'EOF'
# Written by recstack scripts/compose-test.sh (docs/deploy.md): Podman on a
# host without systemd's unified cgroups.
[containers]
# The built-in defaults exceed this machine's hard limits (setrlimit fails).
default_ulimits = ["nofile=20000:20000", "nproc=1024:1024"]

[engine]
# crun refuses the kernel's hybrid cgroup layout; runc with cgroupfs works.
runtime = "runc"
cgroup_manager = "cgroupfs"
EOF
  echo "wrote /etc/containers/containers.conf"
else
  echo "using the existing ${existing//$'\n'/ }"
fi
podman info --format 'podman {{.Version.Version}}: runtime {{.Host.OCIRuntime.Name}}, cgroups {{.Host.CgroupManager}} {{.Host.CgroupsVersion}}, network {{.Host.NetworkBackend}}' ||
  fail "podman info failed: see docs/deploy.md for the engine's configuration"

# Where apt gets Debian from here (deb822 or one-line sources).
mirror_for() { # $1: suite
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    awk -v suite="$1" '
      /^deb / { for (i = 2; i <= NF; i++) if ($i ~ /^(http|https):/) { url = $i; s = $(i + 1); break }
                if (s == suite && !found) { print url; found = 1 } }
      /^URIs:/ { url = $2 }
      /^Suites:/ { for (i = 2; i <= NF; i++) if ($i == suite && !found) { print url; found = 1 } }
      /^$/ { url = "" }'
}

if [[ "$base_image" == localhost/* ]] && ! podman image exists "$base_image"; then
  log "Base image $base_image: debootstrap (no registry needed)"
  mirror=$(mirror_for bookworm)
  security=$(mirror_for bookworm-security)
  mirror=${mirror:-http://deb.debian.org/debian}
  echo "mirror $mirror${security:+, security $security}"
  rootfs=$work/rootfs
  t0=$(date +%s)
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  # Like Docker Hub's image: no package caches, lists, documentation.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/var/log/*
  {
    echo "deb $mirror bookworm main"
    echo "deb $mirror bookworm-updates main"
    if [ -n "$security" ]; then echo "deb $security bookworm-security main"; fi
  } >"$rootfs/etc/apt/sources.list"
  tar -C "$rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["/bin/bash"]' - "$base_image" >/dev/null
  rm -rf "$rootfs"
  echo "base image built in $(($(date +%s) - t0)) s"
fi

if curl -sf --unix-socket "$socket" http://d/_ping >/dev/null 2>&1; then
  echo "API socket $socket already answers: using it (and leaving it running)"
else
  mkdir -p "$(dirname "$socket")"
  podman system service --time=0 "unix://$socket" >"$work/podman-service.log" 2>&1 &
  service_pid=$!
  for _ in $(seq 1 50); do
    curl -sf --unix-socket "$socket" http://d/_ping >/dev/null 2>&1 && break
    kill -0 "$service_pid" 2>/dev/null || { cat "$work/podman-service.log" >&2; fail "podman system service exited"; }
    sleep 0.2
  done
  curl -sf --unix-socket "$socket" http://d/_ping >/dev/null || fail "no answer on $socket"
  echo "started podman system service on $socket (pid $service_pid)"
fi
export DOCKER_HOST=unix://$socket

# Podman runs health checks from systemd timers; without systemd (a
# container, a VM whose init is not systemd) nothing runs them, and
# `depends_on: service_healthy` would wait for ever. Run them here instead,
# every 2 s, as the timers would.
if [ ! -S /run/systemd/private ]; then
  echo "no systemd: this script runs the containers' health checks every 2 s"
  (
    while sleep 2; do
      for c in $(podman ps -q --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
        podman healthcheck run "$c" >/dev/null 2>&1 || true
      done
    done
  ) &
  ticker_pid=$!
fi

# A previous run that was killed may have left the project behind.
if [ -n "$(project_containers)" ]; then
  echo "removing what a previous run left"
  compose down -v --remove-orphans >/dev/null 2>&1 || true
fi

# ---- 2. Images ----------------------------------------------------------------

declare -A build_seconds
build_image() { # $1 tag, $2 Dockerfile, $3 context, build args...
  local tag=$1 file=$2 context=$3 t0
  shift 3
  t0=$(date +%s)
  if ! podman build "$@" -f "$file" -t "$tag" "$context" >"$work/build-$tag.log" 2>&1; then
    tail -30 "$work/build-$tag.log" >&2
    fail "building $tag from $file"
  fi
  build_seconds[$tag]=$(($(date +%s) - t0))
  printf '%-28s %5d MB, built in %5d s (layers reused where nothing changed)\n' "$tag" \
    $(($(podman image inspect --format '{{.Size}}' "$tag") / 1000000)) "${build_seconds[$tag]}"
}

log "Images (base $base_image; building recstack compiles the project: minutes the first time)"
build_image recstack-redis:latest deploy/docker/redis.Dockerfile deploy/docker --build-arg "BASE_IMAGE=$base_image"
build_image recstack-prometheus:latest deploy/docker/prometheus.Dockerfile deploy/docker \
  --build-arg "BASE_IMAGE=$base_image"
build_image recstack:latest deploy/docker/Dockerfile . --build-arg "BASE_IMAGE=$base_image" \
  --build-arg "RUNTIME_IMAGE=$runtime_image" --build-arg "BUILD_JOBS=$jobs"

# ---- 3. Up --------------------------------------------------------------------

busy=()
for p in "${ports[@]}"; do
  if ss -Hltn "sport = :$p" | grep -q .; then busy+=("$p"); fi
done
[ ${#busy[@]} -eq 0 ] || fail "ports ${busy[*]} are in use (a local stack? deploy/local/stack.sh down)"

log "docker-compose up -d (project $project)"
# The services a plain `up` starts: those in no profile.
services=$(compose config | python3 -c '
import sys, yaml
for name, svc in yaml.safe_load(sys.stdin)["services"].items():
    if not svc.get("profiles"):
        print(name)')
t_up=$(date +%s.%N)
stack_up=1
# In the background: `up` waits for dependencies to be healthy, and a
# service that cannot start would keep it waiting; the loop below watches
# every container and stops at the first that exits or is unhealthy.
compose up -d --no-build >"$work/up.log" 2>&1 &
up_pid=$!
deadline=$(($(date +%s) + 300))
while :; do
  pending=()
  declare -A seen=()
  for c in $(project_containers); do
    read -r s st h restarts code < <(podman inspect --format \
      '{{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{if .State.Healthcheck}}{{.State.Healthcheck.Status}}{{else}}none{{end}} {{.RestartCount}} {{.State.ExitCode}}' "$c" 2>/dev/null) || continue # removed meanwhile
    seen[$s]=1
    if [ "$st" = exited ] || [ "$st" = dead ] || [ "$restarts" -gt 0 ]; then
      fail "$s exited with code $code (restarted $restarts times)"
    fi
    [ "$h" != unhealthy ] || fail "$s is unhealthy"
    [ "$st" = running ] && [ "$h" = healthy ] || pending+=("$s:$st/$h")
  done
  for s in $services; do [ -n "${seen[$s]:-}" ] || pending+=("$s:absent"); done
  unset seen
  if [ -n "$up_pid" ] && ! kill -0 "$up_pid" 2>/dev/null; then
    wait "$up_pid" || { sed 's/^/  /' "$work/up.log"; fail "docker-compose up failed"; }
    up_pid=""
  fi
  [ ${#pending[@]} -gt 0 ] || [ -n "$up_pid" ] || break
  [ "$(date +%s)" -lt "$deadline" ] || fail "not healthy after 300 s: ${pending[*]}"
  sleep 1
done
t_healthy=$(date +%s.%N)
sed 's/^/  /' "$work/up.log"
up_seconds=$(awk -v a="$t_up" -v b="$t_healthy" 'BEGIN { printf "%.1f", b - a }')
echo "all $(wc -w <<<"$services") services healthy ${up_seconds} s after up"
podman ps --filter "label=com.docker.compose.project=$project" --format '  {{.Names}}  {{.Status}}'
echo "users and root filesystems:"
for c in $(project_containers); do
  podman inspect --format '  {{.Name}}  user={{.Config.User}} read_only={{.HostConfig.ReadonlyRootfs}}' "$c"
done

# ---- 4. The demo's flow through the published ports ---------------------------

bin_dir=${RECSTACK_BIN_DIR:-build/bin}
if [ -x "$bin_dir/recstack" ] && [ -x "$bin_dir/recstack-loadtest" ]; then
  rs() { "$bin_dir/recstack" "$@"; }
  loadtest() { "$bin_dir/recstack-loadtest" "$@"; }
  echo "CLI and load generator: $bin_dir (host build)"
else
  # The image's binaries on the host's network: the same published ports.
  in_image() { podman run --rm --network host --read-only -v "$work:$work" --user 0:0 recstack:latest "$@"; }
  rs() { in_image recstack "$@"; }
  loadtest() { in_image recstack-loadtest "$@"; }
  echo "CLI and load generator: from the image on the host's network ($bin_dir has no build)"
fi

log "A synthetic data set, ingested through 127.0.0.1:50051"
data=$work/synth
rs datagen --users 5000 --items 2000 --interactions 150000 --seed 7 --end-time-ms "$(date +%s%3N)" \
  --out "$data" | sed -n '1,4p'
rs ingest --addr 127.0.0.1:50051 --items "$data/items.csv" "$data/interactions.csv"

log "Training implicit ALS on 127.0.0.1:50052"
rs train --addr 127.0.0.1:50052 --algo als-implicit --wait --quiet |
  grep -E "state|model_version|ndcg@10|precision@10|seconds" || fail "training failed"

log "Recommendations for $user over gRPC (127.0.0.1:50050)"
# Retrieval loads the model when training announces it: wait for it.
http_url="http://127.0.0.1:8080/v1/users/$user/recommendations?k=10"
for _ in $(seq 1 60); do
  body=$(curl -sf "$http_url" || true)
  if [ -n "$body" ] && [ "$(jq -r '.model_version // ""' <<<"$body")" != "" ] &&
    [ "$(jq -r '.degraded // false' <<<"$body")" = false ]; then
    break
  fi
  sleep 0.5
done
rs recommend --addr 127.0.0.1:50050 --user "$user" --k 10

log "Recommendations for $user over HTTP: GET $http_url"
body=$(curl -sf "$http_url") || fail "GET $http_url failed"
jq -r '"model \(.model_version), ranker \(.ranker), degraded \(.degraded // false)"' <<<"$body"
jq -r '.items | to_entries[] | "  \(.key + 1). \(.value.item_id)  score \(.value.score)  source \(.value.source)"' <<<"$body"
n=$(jq '.items | length' <<<"$body")
[ "$n" -eq 10 ] || fail "HTTP returned $n items, not 10: $body"
[ "$(jq -r '.degraded // false' <<<"$body")" = false ] || fail "the answer is degraded: $(jq -r .degraded_reason <<<"$body")"

log "Load test from the host: $rate Recommend/s for 10 s (open loop), 127.0.0.1:50050"
loadtest --addr 127.0.0.1:50050 --rate "$rate" --duration 10s --warmup 2s --dataset "$data" --json \
  >"$work/loadtest.json" || fail "recstack-loadtest failed: $(cat "$work/loadtest.json")"
jq -r '"achieved \(.achieved_rate | floor)/s, errors \(.errors), p50 \(.p50_us) us, p90 \(.p90_us) us, p99 \(.p99_us) us, p99.9 \(.p999_us) us, max \(.max_us) us"' \
  "$work/loadtest.json"
errors=$(jq '.errors' "$work/loadtest.json")
[ "$errors" -eq 0 ] || fail "the load test had $errors errors: $(jq -c '.errors_by_code' "$work/loadtest.json")"

# ---- 5. Prometheus --------------------------------------------------------------

log "Prometheus (127.0.0.1:9090): targets and the dashboard's metrics"
prom=http://127.0.0.1:9090/api/v1
# Scrapes every 5 s: wait until the five targets report up after the load.
sleep 6
for _ in $(seq 1 30); do
  targets=$(curl -sf "$prom/targets?state=active") || fail "no answer from $prom/targets"
  up=$(jq '[.data.activeTargets[] | select(.labels.job == "recstack" and .health == "up")] | length' <<<"$targets")
  [ "$up" -eq 5 ] && break
  sleep 1
done
jq -r '.data.activeTargets[] | select(.labels.job == "recstack") | "  \(.labels.instance)  \(.health)  \(.lastError)"' <<<"$targets"
total=$(jq '[.data.activeTargets[] | select(.labels.job == "recstack")] | length' <<<"$targets")
echo "recstack targets up: $up of $total"
if [ "$up" -ne 5 ] || [ "$total" -ne 5 ]; then fail "Prometheus has $up of $total recstack targets up (want 5 of 5)"; fi

dashboard=deploy/docker/grafana/dashboards/recstack.json
mapfile -t exprs < <(jq -r '.. | objects | select(has("expr")) | .expr' "$dashboard")
mapfile -t names < <(printf '%s\n' "${exprs[@]}" | grep -oE '\brecstack_[a-zA-Z0-9_]+' | sort -u)
[ ${#names[@]} -gt 0 ] || fail "no recstack metric in $dashboard"
nodata=()
for name in "${names[@]}"; do
  r=$(curl -sf --data-urlencode "query=count($name)" "$prom/query") || fail "query count($name) failed"
  [ "$(jq '.data.result | length' <<<"$r")" -gt 0 ] || nodata+=("$name")
done
echo "dashboard metrics with data: $((${#names[@]} - ${#nodata[@]})) of ${#names[@]}"
[ ${#nodata[@]} -eq 0 ] || fail "no data in Prometheus for: ${nodata[*]}"
# Every panel's query is valid PromQL for this Prometheus (Grafana's
# $__rate_interval as 1m).
bad=()
for e in "${exprs[@]}"; do
  q=${e//\$__rate_interval/1m}
  [[ "$q" != *'$'* ]] || { bad+=("$e (an unknown Grafana variable)"); continue; }
  r=$(curl -s --data-urlencode "query=$q" "$prom/query")
  [ "$(jq -r '.status' <<<"$r" 2>/dev/null)" = success ] || bad+=("$e: $(jq -r '.error' <<<"$r" 2>/dev/null)")
done
echo "dashboard queries Prometheus evaluates: $((${#exprs[@]} - ${#bad[@]})) of ${#exprs[@]}"
[ ${#bad[@]} -eq 0 ] || fail "queries Prometheus rejects: $(printf '\n  %s' "${bad[@]}")"

# ---- 6. Down, and nothing left ------------------------------------------------

log "docker-compose down -v"
compose down -v --remove-orphans 2>&1 | sed 's/^/  /'
stack_up=0
left_c=$(project_containers)
left_n=$(podman network ls --format '{{.Name}}' | grep -E "^${project}_" || true)
left_v=$(podman volume ls --format '{{.Name}}' | grep -E "^${project}_" || true)
[ -z "$left_c$left_n$left_v" ] || fail "left behind: containers [$left_c] networks [$left_n] volumes [$left_v]"
echo "no container, network or volume of $project is left"

log "Summary"
for tag in recstack:latest recstack-redis:latest recstack-prometheus:latest; do
  printf '  image %-26s %4d MB, built in %d s\n' "$tag" \
    $(($(podman image inspect --format '{{.Size}}' "$tag") / 1000000)) "${build_seconds[$tag]}"
done
echo "  up -> all healthy       ${up_seconds} s"
jq -r '"  load test              \(.achieved_rate | floor) Recommend/s, \(.errors) errors, p50 \(.p50_us) us, p99 \(.p99_us) us"' \
  "$work/loadtest.json"
echo "  prometheus             $up/5 targets up, ${#names[@]} dashboard metrics with data"
echo "compose-test: ok"
