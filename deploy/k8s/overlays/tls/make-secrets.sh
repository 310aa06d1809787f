#!/usr/bin/env bash
# The Secrets of the tls overlay from a throwaway CA: runs
# deploy/tls/make-certs.sh (certificates naming each Service, its
# NAMESPACE.svc names, localhost and 127.0.0.1) into DIR, then prints one
# kubernetes.io/tls Secret per service, recstack-tls-NAME with tls.crt,
# tls.key and ca.crt, for `kubectl apply -f -`. DIR keeps the CA and
# client.pem + client-key.pem for clients outside the cluster
# (`kubectl port-forward svc/gateway 50050` then `recstack --tls-ca DIR/ca.pem
# --tls-cert DIR/client.pem --tls-key DIR/client-key.pem ...`).
#
#   make-secrets.sh [--namespace NS] DIR | kubectl apply -f -
#
# Needs only `kubectl` (client side: --dry-run=client) and `openssl`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../../../.." && pwd)
namespace=recstack
if [ "${1:-}" = --namespace ]; then
  [ $# -ge 2 ] || { echo "usage: $0 [--namespace NS] DIR" >&2; exit 2; }
  namespace=$2
  shift 2
fi
[ $# -eq 1 ] || { echo "usage: $0 [--namespace NS] DIR" >&2; exit 2; }
dir=$1
services=(gateway ingestion training retrieval ranking)
"$root/deploy/tls/make-certs.sh" --namespace "$namespace" "$dir" "${services[@]}" client >&2
first=1
for s in "${services[@]}"; do
  [ $first = 1 ] || echo ---
  first=0
  kubectl create secret generic "recstack-tls-$s" --namespace "$namespace" --type kubernetes.io/tls \
    --from-file "tls.crt=$dir/$s.pem" --from-file "tls.key=$dir/$s-key.pem" \
    --from-file "ca.crt=$dir/ca.pem" --dry-run=client -o yaml
done
