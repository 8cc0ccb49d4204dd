#!/usr/bin/env bash
# Installs everything ptserve needs to build, test and serve on Debian 12.
# Idempotent: does nothing when every package is already installed. Run as root.
set -euo pipefail

PACKAGES=(
  # build
  g++ cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread libjemalloc-dev
  libboost-dev libsimdjson-dev libprotobuf-dev protobuf-compiler libcli11-dev libabsl-dev
  libspdlog-dev libgtest-dev libgmock-dev
  # example models, tests, benchmarks
  python3-torch python3-torchvision python3-sklearn python3-numpy python3-pytest
  python3-fastapi python3-uvicorn python3-uvloop python3-locust
  curl wrk prometheus
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
