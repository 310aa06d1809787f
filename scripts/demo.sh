#!/usr/bin/env bash
# The main demo, unattended: installs what is missing, builds, starts the
# stack as local processes (reusing a running one), generates a synthetic
# data set (or loads MovieLens), ingests it through the API, trains through
# the API, prints recommendations with their explanations, and runs a
# 10-second open-loop load test against the gateway (with the same load on a
# bare echo RPC as the floor).
#
#   ./scripts/demo.sh                      synthetic data (5,000 users, 2,000 items)
#   ./scripts/demo.sh --movielens DIR      MovieLens 100K from DIR (u.data, u.item)
#   ./scripts/demo.sh --down               stop the stack
set -euo pipefail
cd "$(dirname "$0")/.."

movielens=""
case "${1:-}" in
  --down) exec deploy/local/stack.sh down ;;
  --movielens) movielens=${2:?--movielens needs a directory}; [ -f "$movielens/u.data" ] || { echo "demo.sh: $movielens/u.data not found" >&2; exit 2; } ;;
  -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
  "") ;;
  *) echo "demo.sh: unknown argument $1" >&2; exit 2 ;;
esac

./scripts/deps.sh
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
echo "== Building (first time: a few minutes on 2 cores)"
cmake --build build -j "$(nproc)" --target recstack recstack-ingestion recstack-training recstack-retrieval \
  recstack-ranking recstack-gateway recstack-loadtest | tail -1

echo "== Starting the stack (redis, ingestion, training, and the gateway with retrieval and ranking in it)"
deploy/local/stack.sh up
off=${RECSTACK_PORT_OFFSET:-0}
ing=127.0.0.1:$((50051 + off)); trn=127.0.0.1:$((50052 + off)); gw=127.0.0.1:$((50050 + off))
http=http://127.0.0.1:$((8080 + off))
rs=build/bin/recstack

if [ -n "$movielens" ]; then
  echo "== Ingesting MovieLens 100K through the ingestion service"
  $rs ingest --addr "$ing" --format movielens --items "$movielens/u.item" "$movielens/u.data"
  users=(1 2 3)
  dataset=$movielens/u.data
else
  data=.stack/data/synth
  if [ ! -f "$data/interactions.csv" ]; then
    echo "== A synthetic data set with a planted rank-16 model"
    $rs datagen --users 5000 --items 2000 --interactions 150000 --seed 7 --end-time-ms "$(date +%s%3N)" \
      --out "$data" | sed -n '1,6p'
  fi
  echo "== Ingesting it through the ingestion service (a second run finds only duplicates)"
  $rs ingest --addr "$ing" --items "$data/items.csv" "$data/interactions.csv"
  users=(u1 u2 u3)
  dataset=$data
fi

echo "== Training implicit ALS as a job on the training service"
$rs train --addr "$trn" --algo als-implicit --wait --quiet | grep -E "state|model_version|ndcg@10|precision@10|seconds"

echo "== Recommendations through the gateway (retrieval -> ranking)"
for u in "${users[@]}"; do
  $rs recommend --addr "$gw" --user "$u" --k 5
  echo
done
echo "== A user the model has never seen, with three fresh events, is folded in"
curl -s -X POST "$http/v1/events" -d "{\"events\":[
  {\"user_id\":\"newcomer\",\"item_id\":\"${users[0]/u/i}\",\"type\":\"LIKE\"},
  {\"user_id\":\"newcomer\",\"item_id\":\"i42\",\"type\":\"PLAY\"},
  {\"user_id\":\"newcomer\",\"item_id\":\"i7\",\"type\":\"PLAY\"}]}" >/dev/null || true
$rs recommend --addr "$gw" --user newcomer --k 5

echo
echo "== A 10-second load test: 200 Recommend/s on a schedule (open loop), users drawn Zipf-like,"
echo "   then the same schedule against a bare echo RPC (the floor)"
build/bin/recstack-loadtest --addr "$gw" --rate 200 --duration 10s --warmup 2s --dataset "$dataset" --floor

cat <<TXT

The stack is running:
  page (one recommendation's journey)  $http/
  models page (versions, what serves)  $http/models
  experiments page (A/B readouts)      $http/experiments
  the system-design walkthrough        docs/walkthrough/README.md (./scripts/walkthrough.sh)
  HTTP API                              curl '$http/v1/users/${users[0]}/recommendations?k=10&debug=true'
  gRPC                                  $gw (recstack.v1.GatewayService; reflection is on)
  metrics                               http://127.0.0.1:$((9100 + off))/metrics (retrieval's and ranking's too; 9101-9102: ingestion, training)
  five processes                        deploy/local/stack.sh up --split (retrieval and ranking on their own)
  logs                                  .stack/logs/
  CLI                                   build/bin/recstack --help
  load test                             build/bin/recstack-loadtest --addr $gw --sweep 100:2000:100 --slo 50ms --floor --plot sweep.svg
Stop it with: ./scripts/demo.sh --down
TXT
