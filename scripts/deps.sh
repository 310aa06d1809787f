#!/usr/bin/env bash
# Installs the Debian 12 packages recstack builds, tests and runs with.
# Idempotent and fast when everything is there: apt runs only for what is missing.
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # RPC, schemas, storage, numerics, metrics
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler libabsl-dev
  libhiredis-dev redis-server libopenblas-dev prometheus-cpp-dev
  # the serving processes' allocator (CMakeLists.txt: recstack_use_jemalloc)
  libjemalloc-dev
  # libraries: ANN index, HTTP, CLI, JSON, logging
  libhnswlib-dev libcpp-httplib-dev libcli11-dev nlohmann-json3-dev libspdlog-dev
  # API keys' SHA-256 and TLS: certificate checks (OpenSSL), and `openssl` makes the local stack's certificates
  libssl-dev openssl
  # tests and benchmarks (FAISS is the top-K peer, linked only into a benchmark);
  # page tests use a real browser: headless chromium (tests/integration/gateway_page)
  libgtest-dev libgmock-dev libbenchmark-dev libfaiss-dev chromium
  # learned rankers: gradient-boosted trees (common/ml/gbdt.*)
  libxgboost-dev
  # deploy checks (docker-compose config, YAML manifests) and load-test plots
  docker-compose python3-yaml gnuplot-nox
  # the README's Python client over TLS, run by the TLS stack test (tests/e2e/stack/tls_test.sh)
  python3-grpcio python3-grpc-tools
  # used by scripts: health probes, JSON in shell; the C++ format (scripts/check_format.sh)
  curl jq clang-format
  # fuzzing: clang's libFuzzer (tests/fuzz, scripts/fuzz.sh); its runtimes
  # (libFuzzer, ASan, UBSan) are only a Recommends of clang
  clang libclang-rt-14-dev
  # LLVM's linker for the Clang (sanitizer) build: a test binary links in a
  # quarter of GNU ld's time (CMakeLists.txt)
  lld
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# Debian's redis-server package would start a system-wide server; recstack
# starts its own on a chosen port, so keep the package's from starting with a
# policy-rc.d that refuses. One already there is the machine's own: it stays,
# untouched (ours is removed afterwards, also when apt fails).
if [ -e /usr/sbin/policy-rc.d ]; then
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod +x /usr/sbin/policy-rc.d
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
