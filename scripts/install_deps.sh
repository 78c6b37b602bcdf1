#!/usr/bin/env bash
# Installs every Debian 12 package the project needs to build, test and run.
# Idempotent: packages already present are skipped by apt. Used by the README,
# .ci/run and docker/Dockerfile alike.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  # RPC stack
  libgrpc++-dev libgrpc-dev protobuf-compiler protobuf-compiler-grpc libprotobuf-dev
  # core libraries
  libabsl-dev libre2-dev libopenblas-dev libspdlog-dev libfmt-dev
  libcurl4-openssl-dev libssl-dev
  # tests and benchmarks
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  # reference checks (numpy forward-pass check, python gRPC interop, compose parsing)
  python3 python3-numpy python3-regex python3-grpcio python3-grpc-tools python3-yaml
  # sanitizer builds and libFuzzer targets (scripts/test_sanitizers.sh);
  # llvm provides llvm-symbolizer for readable sanitizer stack traces
  clang libclang-rt-14-dev llvm
  # tools used by integration tests
  nginx-light openssl tmux procps time
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# Node.js + npm (for the tiktoken reference tests): use what the machine has
# (e.g. a NodeSource build bundles npm); otherwise take Debian's.
if ! command -v node >/dev/null 2>&1; then missing+=(nodejs); fi
if ! command -v npm >/dev/null 2>&1; then missing+=(npm); fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install_deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
