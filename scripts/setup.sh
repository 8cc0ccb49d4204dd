#!/usr/bin/env bash
# Installs what ptserve needs, on Debian 12 (libtorch 1.13) or Debian 13 (libtorch 2.6).
# Idempotent: does nothing when every package is already installed. Run as root (or with sudo).
#
#   scripts/setup.sh            everything to build, test, benchmark and serve (CI, scripts/test.sh)
#   scripts/setup.sh --serve    only what building the server and serving the examples need
#                               (scripts/serve.sh)
#   scripts/setup.sh --docs     graphviz and headless chromium (scripts/render_docs.sh)
#   ... --print                 lists the packages and installs nothing
set -euo pipefail

. /etc/os-release
# PTSERVE_SETUP_CODENAME=trixie scripts/setup.sh --print: the list for another release.
codename=${PTSERVE_SETUP_CODENAME:-${VERSION_CODENAME:-}}
SERVE=(
  # build the server
  g++ cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread libjemalloc-dev
  libboost-dev libsimdjson-dev libprotobuf-dev protobuf-compiler libcli11-dev libabsl-dev
  libspdlog-dev
  libzip-dev  # reads .pt2 (AOTInductor) packages
  libgrpc++-dev protobuf-compiler-grpc  # the gRPC front end (--grpc-port)
  libssl-dev  # HTTPS (--tls-cert)
  # make the example models (scripts/make_examples.py), wait for readiness (scripts/lib/server.sh)
  python3-torch python3-torchvision python3-sklearn python3-numpy curl
)
TEST=(
  libgtest-dev libgmock-dev
  clang libclang-rt-dev  # scripts/fuzz.sh: libFuzzer, ASan and UBSan runtimes
  clang-format clang-tidy  # scripts/lint.sh
  python3-pytest python3-protobuf  # tools/ptserve_config.py: config.pbtxt through protobuf
  python3-grpcio python3-grpc-tools  # tests/integration/test_grpc.py: stubs made at test time
  openssl  # test_grpc.py: TLS certificates made at test time
  python3-fastapi python3-uvicorn python3-uvloop python3-locust
  wrk prometheus
)
DOCS=(graphviz chromium fonts-dejavu-core)
case "$codename" in
  bookworm) ;;
  # libtorch 2.6: AOTInductor packages are compiled (python3-setuptools, g++) by
  # torch._inductor.aoti_compile_and_package when make_examples.py builds the .pt2 examples.
  trixie|forky|sid) SERVE+=(python3-setuptools) ;;
  *) echo "setup: ${PRETTY_NAME:-this system} is untested; trying Debian 12's package list" >&2 ;;
esac

what=all print=0
for a in "$@"; do
  case "$a" in
    --serve) what=serve ;;
    --docs) what=docs ;;
    --all) what=all ;;
    --print) print=1 ;;
    *) echo "usage: scripts/setup.sh [--serve|--docs|--all] [--print]" >&2; exit 2 ;;
  esac
done
case "$what" in
  serve) PACKAGES=("${SERVE[@]}") ;;
  docs) PACKAGES=("${DOCS[@]}") ;;
  all) PACKAGES=("${SERVE[@]}" "${TEST[@]}") ;;
esac
if [ $print -eq 1 ]; then
  echo "${PACKAGES[*]}"
  exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PACKAGES[@]} packages ($what) present (${PRETTY_NAME:-})"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ($what) ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
