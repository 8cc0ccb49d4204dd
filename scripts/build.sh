#!/usr/bin/env bash
# Configures and builds ptserve into build/ (override with PTSERVE_BUILD_DIR).
#
#   scripts/build.sh [CMAKE_ARGS...]           everything: server, tools, unit tests, benchmarks
#   scripts/build.sh --serve [CMAKE_ARGS...]   only the server binary (target ptserve); a new
#                                              build folder is configured without tests and
#                                              benchmarks (no gtest needed), an existing one
#                                              keeps its settings
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${PTSERVE_BUILD_DIR:-build}
TYPE=-DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo}
if [ "${1:-}" = "--serve" ]; then
  shift
  opts=()
  [ -f "$BUILD/CMakeCache.txt" ] || opts=(-DPTSERVE_BUILD_TESTS=OFF -DPTSERVE_BUILD_BENCH=OFF)
  cmake -S . -B "$BUILD" -G Ninja "$TYPE" "${opts[@]}" "$@" >/dev/null
  cmake --build "$BUILD" --target ptserve
else
  # ON explicitly: a folder first configured by `--serve` has them off.
  cmake -S . -B "$BUILD" -G Ninja "$TYPE" -DPTSERVE_BUILD_TESTS=ON -DPTSERVE_BUILD_BENCH=ON "$@" >/dev/null
  cmake --build "$BUILD"
fi
