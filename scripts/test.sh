#!/usr/bin/env bash
# Sets everything up, builds, and runs every test: unit tests (ctest), the
# scheduler's tests under ThreadSanitizer, and the integration tests that
# drive the real server binary over HTTP.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bash scripts/examples.sh
BUILD=${PTSERVE_BUILD_DIR:-build}

echo "== unit tests"
ctest --test-dir "$BUILD" --output-on-failure -j2

echo "== ThreadSanitizer: scheduler, metrics, repository (model version lifetime, routing)"
cmake -S . -B build-tsan -G Ninja -DPTSERVE_WITH_TORCH=OFF -DPTSERVE_BUILD_BENCH=OFF \
  -DPTSERVE_DIRS="core;config;metrics;scheduler;repository" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1" >/dev/null
cmake --build build-tsan --target scheduler_test metrics_test repository_test
TSAN_OPTIONS="halt_on_error=1" build-tsan/src/scheduler/scheduler_test --gtest_brief=1
TSAN_OPTIONS="halt_on_error=1" build-tsan/src/repository/repository_test --gtest_brief=1
TSAN_OPTIONS="halt_on_error=1" build-tsan/src/metrics/metrics_test --gtest_brief=1 \
  --gtest_filter=-*Death*:*HotPathCost*

echo "== monitoring: promtool checks of rules, config and dashboard queries"
bash scripts/check_monitoring.sh

echo "== integration tests"
PTSERVE_BUILD_DIR="$BUILD" /usr/bin/python3 -m pytest -q tests/integration
echo "== performance regression (short suite against bench/regress/baseline.json)"
/usr/bin/python3 bench/regress/regress.py --short --build "$BUILD"

echo "== deploy: manifests, Dockerfiles, compose (offline checks)"
if command -v kubectl >/dev/null && command -v npm >/dev/null; then
  bash scripts/k8s_validate.sh
else
  echo "skipped: needs kubectl (>= 1.27) and npm"
fi
echo "== all tests passed"
