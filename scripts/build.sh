#!/usr/bin/env bash
# Configures and builds ptserve into build/ (override with PTSERVE_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${PTSERVE_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$BUILD"
