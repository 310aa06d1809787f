#!/usr/bin/env bash
# A throwaway certificate authority and the certificates of the stack, made
# with `openssl` (EC P-256, SHA-256): what `deploy/local/stack.sh up --tls`
# uses, and how to make the Secrets of Compose and Kubernetes (docs/deploy.md).
#
#   deploy/tls/make-certs.sh [OPTIONS] DIR [NAME...]
#
# In DIR (created, mode 700):
#   ca.pem, ca-key.pem         the CA (made once; kept while it is valid)
#   NAME.pem, NAME-key.pem     for each NAME (default: gateway ingestion training
#                              retrieval ranking client), signed by the CA, for
#                              TLS servers and clients alike (serverAuth and
#                              clientAuth), subjectAltName DNS:NAME, DNS:localhost,
#                              IP:127.0.0.1, IP:::1 and the --namespace names
# Files that exist and are valid for another --min-days are kept, so running
# it again adds only what is missing; a new CA (the old one missing or about
# to expire) re-signs every certificate. Private keys are mode 600.
#
# Options:
#   --days N         validity of what is made (default 365)
#   --min-days N     remake what expires within N days (default 1)
#   --namespace NS   also NAME.NS, NAME.NS.svc and NAME.NS.svc.cluster.local
#                    (Kubernetes Services)
#   --cn TEXT        the CA's common name (default "recstack throwaway CA")
set -euo pipefail

usage() {
  echo "usage: $0 [--days N] [--min-days N] [--namespace NS] [--cn TEXT] DIR [NAME...]" >&2
  exit 2
}
days=365 min_days=1 namespace="" cn="recstack throwaway CA"
while [ $# -gt 0 ]; do
  case $1 in
    --days) [ $# -ge 2 ] || usage; days=$2; shift 2 ;;
    --min-days) [ $# -ge 2 ] || usage; min_days=$2; shift 2 ;;
    --namespace) [ $# -ge 2 ] || usage; namespace=$2; shift 2 ;;
    --cn) [ $# -ge 2 ] || usage; cn=$2; shift 2 ;;
    -*) echo "make-certs: unknown option $1" >&2; usage ;;
    *) break ;;
  esac
done
[ $# -ge 1 ] || usage
dir=$1
shift
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(gateway ingestion training retrieval ranking client)
for v in "$days" "$min_days"; do
  [[ $v =~ ^[0-9]+$ ]] && [ "$v" -ge 1 ] || { echo "make-certs: --days/--min-days must be >= 1" >&2; exit 2; }
done
[ "$min_days" -lt "$days" ] || { echo "make-certs: --min-days must be below --days" >&2; exit 2; }
for n in "${names[@]}"; do
  [[ $n =~ ^[a-z0-9]([a-z0-9-]*[a-z0-9])?$ ]] || { echo "make-certs: '$n' is not a DNS label" >&2; exit 2; }
  [ "$n" != ca ] || { echo "make-certs: 'ca' is the CA's own file name" >&2; exit 2; }
done
command -v openssl >/dev/null || { echo "make-certs: openssl is missing (scripts/deps.sh)" >&2; exit 1; }

umask 077
mkdir -p "$dir"
chmod 700 "$dir"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Valid now and for another --min-days.
fresh() { [ -s "$1" ] && openssl x509 -in "$1" -noout -checkend $((min_days * 86400)) >/dev/null 2>&1; }
new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
serial() { printf '0x%s' "$(openssl rand -hex 16)"; }

new_ca=0
if ! fresh "$dir/ca.pem" || [ ! -s "$dir/ca-key.pem" ]; then
  new_key "$tmp/ca-key.pem"
  openssl req -x509 -new -key "$tmp/ca-key.pem" -sha256 -days "$days" -subj "/CN=$cn" \
    -set_serial "$(serial)" \
    -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" -out "$tmp/ca.pem"
  mv "$tmp/ca-key.pem" "$dir/ca-key.pem"
  mv "$tmp/ca.pem" "$dir/ca.pem"
  new_ca=1
fi

for n in "${names[@]}"; do
  cert=$dir/$n.pem key=$dir/$n-key.pem
  # Kept when fresh, signed by this CA and matching its key.
  if [ $new_ca = 0 ] && fresh "$cert" && [ -s "$key" ] &&
     openssl verify -CAfile "$dir/ca.pem" "$cert" >/dev/null 2>&1 &&
     [ "$(openssl x509 -in "$cert" -noout -pubkey)" = "$(openssl pkey -in "$key" -pubout)" ]; then
    continue
  fi
  san="DNS:$n,DNS:localhost,IP:127.0.0.1,IP:::1"
  [ -z "$namespace" ] || san+=",DNS:$n.$namespace,DNS:$n.$namespace.svc,DNS:$n.$namespace.svc.cluster.local"
  cat > "$tmp/ext.cnf" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=$san
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
  new_key "$tmp/key.pem"
  openssl req -new -key "$tmp/key.pem" -subj "/CN=$n" -out "$tmp/req.csr"
  openssl x509 -req -in "$tmp/req.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -sha256 \
    -days "$days" -set_serial "$(serial)" -extfile "$tmp/ext.cnf" -out "$tmp/cert.pem" 2>/dev/null
  mv "$tmp/key.pem" "$key"
  mv "$tmp/cert.pem" "$cert"
done
# Certificates are public; keys stay 600.
chmod 644 "$dir/ca.pem"
for n in "${names[@]}"; do chmod 644 "$dir/$n.pem"; done
