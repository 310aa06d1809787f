#!/usr/bin/env bash
# The local stack with TLS everywhere (`stack.sh up --split --tls`: the five processes) on free ports in
# a temporary state folder:
#   1. the e2e flows through TLS: ingest, train, recommend with the CLI (its
#      --tls-* flags, then the RECSTACK_TLS_* variables), a short load test,
#      and the HTTPS API and page with `curl --cacert`;
#   2. every gRPC port refuses a plaintext client, a client without a
#      certificate, and a client whose certificate another CA signed (mutual
#      TLS), and takes the stack's client certificate; HTTPS refuses plain
#      HTTP and a client that does not trust the CA;
#   3. the README's Python client (the block after the
#      `<!-- python-tls-example -->` marker, run as is with Debian's python3,
#      python3-grpcio and stubs from grpc_tools) gets recommendations.
# Then `stack.sh down` must leave nothing running.
#
#   tls_test.sh BIN_DIR
set -euo pipefail
bin=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/../../.." && pwd)
stack=$root/deploy/local/stack.sh
python=/usr/bin/python3
. "$(dirname "$0")/ports.sh"

state=$(mktemp -d "${TMPDIR:-/tmp}/recstack-e2e-tls.XXXXXX")
offset=$(pick_offset 6379 8080 50050 50051 50052 50053 50054 9100 9101 9102 9103 9104)
export RECSTACK_STACK_DIR=$state RECSTACK_BIN=$bin RECSTACK_PORT_OFFSET=$offset
unset RECSTACK_TLS_CERT RECSTACK_TLS_KEY RECSTACK_TLS_CA
off=$offset
cleanup() {
  "$stack" down >/dev/null 2>&1 || true
  rm -rf "$state"
}
trap cleanup EXIT
start=$SECONDS
step() { echo "== $* ($((SECONDS - start)) s)"; }

"$python" -c 'import grpc, grpc_tools' 2>/dev/null \
  || fail "Debian's python3-grpcio and python3-grpc-tools are missing (scripts/deps.sh)"

step "stack.sh up --tls"
"$stack" up --split --tls > "$state/up.log" || fail "stack did not come up: $(cat "$state/up.log")"
tls=$state/tls
for f in ca.pem client.pem client-key.pem gateway.pem gateway-key.pem; do
  [ -s "$tls/$f" ] || fail "stack.sh up --tls made no $tls/$f"
done
[ "$(stat -c %a "$tls/client-key.pem")" = 600 ] || fail "client-key.pem is not mode 600"
grep -q "tls on (mutual)" "$state/up.log" || fail "up does not say TLS is on: $(cat "$state/up.log")"
grep -q -- "--tls-ca $tls/ca.pem" "$state/up.log" || fail "up does not print the CLI's TLS flags"
"$stack" describe --split --tls | jq -e --arg d "$tls" \
  '.tls.enabled and .tls.ca == "\($d)/ca.pem" and .services.gateway.http_scheme == "https" and
   ([.services[].flags["--tls-ca"]] | all(. == "\($d)/ca.pem"))' >/dev/null \
  || fail "describe --tls does not show TLS"
"$stack" describe --split | jq -e '.tls.enabled == false' >/dev/null || fail "describe shows TLS without --tls"

declare -A port=([gateway]=$((50050 + off)) [ingestion]=$((50051 + off)) [training]=$((50052 + off))
                 [retrieval]=$((50053 + off)) [ranking]=$((50054 + off)))
gw=127.0.0.1:${port[gateway]}
https=https://127.0.0.1:$((8080 + off))
client=(--tls-ca "$tls/ca.pem" --tls-cert "$tls/client.pem" --tls-key "$tls/client-key.pem")
rs=("$bin/recstack")

step "ingest, train, recommend through mutual TLS (the CLI's flags)"
data=$state/data
"${rs[@]}" datagen --users 200 --items 150 --interactions 4000 --seed 5 --out "$data" >/dev/null
"${rs[@]}" ingest --addr "127.0.0.1:${port[ingestion]}" "${client[@]}" --items "$data/items.csv" \
  "$data/interactions.csv" --json > "$state/ingest.json" || fail "ingest over TLS failed"
jq -e '.accepted > 0' "$state/ingest.json" >/dev/null || fail "nothing ingested: $(cat "$state/ingest.json")"
"${rs[@]}" train --addr "127.0.0.1:${port[training]}" "${client[@]}" --algo als-implicit \
  --iterations 3 --wait --quiet --json > "$state/train.json" || fail "training over TLS failed"
jq -e '.model_version | length > 0' "$state/train.json" >/dev/null \
  || fail "no model_version: $(cat "$state/train.json")"
v=
for _ in $(seq 50); do
  "${rs[@]}" recommend --addr "$gw" "${client[@]}" --user u1 --k 5 --json > "$state/rec.json" \
    || fail "recommend over TLS failed"
  v=$(jq -r 'select(.degraded == false and (.items | length) == 5) | .model_version // ""' "$state/rec.json")
  [ -n "$v" ] && break
  sleep 0.2
done
[ -n "$v" ] || fail "the gateway never answered from the model over TLS: $(cat "$state/rec.json")"

step "the same with RECSTACK_TLS_* (what stack.sh up prints)"
(
  export RECSTACK_TLS_CERT=$tls/client.pem RECSTACK_TLS_KEY=$tls/client-key.pem RECSTACK_TLS_CA=$tls/ca.pem
  "${rs[@]}" similar --addr "127.0.0.1:${port[retrieval]}" --item i1 --k 3 --json > "$state/similar.json"
  "${rs[@]}" models --addr "127.0.0.1:${port[training]}" --json > "$state/models.json"
) || fail "the CLI with RECSTACK_TLS_* failed"
jq -e --arg v "$v" '.current_version == $v' "$state/models.json" >/dev/null \
  || fail "models over TLS: $(cat "$state/models.json")"

step "load generator over mutual TLS: 50 requests/s for 2 s"
"$bin/recstack-loadtest" --addr "$gw" "${client[@]}" --rate 50 --duration 2s --warmup 0s \
  --dataset "$data" --mix recommend=80,ingest=10,similar=10 --connections 2 --json > "$state/load.json" \
  || fail "loadtest over TLS failed"
jq -e '.config.tls and .errors == 0 and .completed == .scheduled and .scheduled == 100' \
  "$state/load.json" >/dev/null || fail "load test over TLS: $(cat "$state/load.json")"

step "HTTPS: the API and the page"
curl -sS --fail --cacert "$tls/ca.pem" "$https/healthz" | jq -e '.status == "SERVING"' >/dev/null \
  || fail "GET /healthz over HTTPS"
curl -sS --fail --cacert "$tls/ca.pem" "$https/v1/users/u1/recommendations?k=5" > "$state/http.json" \
  || fail "GET /v1/users/u1/recommendations over HTTPS"
jq -e '(.items | length) == 5' "$state/http.json" >/dev/null || fail "HTTPS recommendations: $(cat "$state/http.json")"
# The whole page first: `curl | grep -q` under pipefail fails when grep
# stops reading before curl has written it all (curl error 23).
page=$(curl -sS --fail --cacert "$tls/ca.pem" "$https/") || fail "the page over HTTPS"
grep -qi "<html" <<<"$page" || fail "the page over HTTPS is not HTML"
# By name too (the certificate's DNS:localhost).
curl -sS --fail --cacert "$tls/ca.pem" "https://localhost:$((8080 + off))/healthz" >/dev/null \
  || fail "https://localhost: the certificate does not name localhost"
if curl -sS --max-time 5 "http://127.0.0.1:$((8080 + off))/healthz" >/dev/null 2>&1; then
  fail "plain HTTP answered on the HTTPS port"
fi
if curl -sS --max-time 5 "$https/healthz" >/dev/null 2>&1; then
  fail "curl trusted the stack's certificate without --cacert"
fi

step "every gRPC port: plaintext, no certificate and another CA's certificate refused"
foreign=$state/foreign
"$root/deploy/tls/make-certs.sh" "$foreign" client
for s in gateway ingestion training retrieval ranking; do
  a=127.0.0.1:${port[$s]}
  "${rs[@]}" health --addr "$a" "${client[@]}" >/dev/null || fail "$s refused the stack's client certificate"
  if "${rs[@]}" health --addr "$a" >/dev/null 2>&1; then fail "$s answered a plaintext client"; fi
  if "${rs[@]}" health --addr "$a" --tls-ca "$tls/ca.pem" >/dev/null 2>&1; then
    fail "$s answered a TLS client without a certificate"
  fi
  if "${rs[@]}" health --addr "$a" --tls-ca "$tls/ca.pem" --tls-cert "$foreign/client.pem" \
       --tls-key "$foreign/client-key.pem" >/dev/null 2>&1; then
    fail "$s answered a client whose certificate another CA signed"
  fi
  # The client checks the server too: another CA as its root refuses the stack.
  if "${rs[@]}" health --addr "$a" --tls-ca "$foreign/ca.pem" --tls-cert "$tls/client.pem" \
       --tls-key "$tls/client-key.pem" >/dev/null 2>&1; then
    fail "the CLI trusted $s with another CA as its root"
  fi
done
# Bad flags fail at once, naming the flag.
if "${rs[@]}" health --addr "$gw" --tls-cert "$tls/client.pem" 2>"$state/flag.err"; then
  fail "--tls-cert without --tls-key accepted"
fi
grep -q -- "--tls-cert: given without --tls-key" "$state/flag.err" || fail "bad flag message: $(cat "$state/flag.err")"
if "$bin/recstack-ranking" --listen 127.0.0.1:0 --metrics-listen off --tls-ca "$tls/ca.pem" 2>"$state/flag.err"; then
  fail "a service started with --tls-ca alone"
fi
grep -q -- "--tls-ca: a service needs --tls-cert and --tls-key" "$state/flag.err" \
  || fail "service flag message: $(cat "$state/flag.err")"

step "the README's Python client (grpc.ssl_channel_credentials)"
py=$state/python
mkdir -p "$py/stubs"
awk '/<!-- python-tls-example -->/ {armed = 1; next}
     armed && /^```python$/ {inside = 1; next}
     inside && /^```$/ {exit}
     inside {print}' "$root/README.md" > "$py/example.py"
[ -s "$py/example.py" ] || fail "no Python block after <!-- python-tls-example --> in README.md"
# The snippet dials the default gateway port and reads the default state
# folder (.stack/tls/ in the repository): point both at this stack.
[ "$(grep -c '"127.0.0.1:50050"' "$py/example.py")" = 1 ] || fail "the README's snippet no longer dials \"127.0.0.1:50050\""
grep -q '"\.stack/tls/' "$py/example.py" || fail "the README's snippet no longer reads .stack/tls/"
sed -i "s/\"127.0.0.1:50050\"/\"$gw\"/" "$py/example.py"
ln -s "$state" "$py/.stack"
"$python" -m grpc_tools.protoc -I "$root/proto" --python_out="$py/stubs" --grpc_python_out="$py/stubs" \
  "$root"/proto/recstack/v1/*.proto || fail "grpc_tools.protoc failed"
(cd "$py" && PYTHONPATH=$py/stubs PYTHONDONTWRITEBYTECODE=1 "$python" example.py) > "$py/out.txt" 2>&1 \
  || fail "the README's Python client failed: $(cat "$py/out.txt")"
cat "$py/out.txt"
grep -q "^model $v" "$py/out.txt" || fail "the Python client's answer has no model $v"
[ "$(grep -c '^i[0-9]' "$py/out.txt")" = 5 ] || fail "the Python client did not get 5 items"

step "down"
"$stack" down >/dev/null
for f in "$state"/pids/*.pid; do
  [ -e "$f" ] && fail "pid file left behind: $f"
done
if pgrep -f "recstack-.*:$((50050 + off))" >/dev/null; then fail "a service still runs"; fi
echo "PASS ($((SECONDS - start)) s)"
