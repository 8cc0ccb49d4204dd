#!/usr/bin/env bash
# Sets everything up, builds, and runs every test: unit tests (ctest), ThreadSanitizer runs,
# monitoring checks, the integration tests that drive the real server binary over HTTP, the
# short performance-regression suite, offline deploy checks, and — on Debian 12 — the unit and
# integration tests again against Debian 13's libtorch 2.6 (scripts/test-debian13.sh).
#
# PTSERVE_TEST_PARTS (comma-separated) runs a subset: lint, unit, tools, tsan, fuzz, monitoring,
# integration, soak, regress, deploy, asan, debian13 (default: all). The build treats warnings as
# errors (-DPTSERVE_WERROR=ON); lint is clang-format and clang-tidy on the C++ the last commit
# changed (scripts/lint.sh; PTSERVE_LINT_BASE to measure from elsewhere) and clang's
# thread-safety analysis over the annotated files (scripts/thread_safety.sh). asan is an AddressSanitizer +
# UndefinedBehaviorSanitizer build of everything with the unit tests and the hostile-input
# integration tests against it (scripts/sanitize.sh, docs/testing.md); SANITIZE_PYTEST=tests/integration
# runs the whole integration suite under it instead (1,466 s in the one full run, on a loaded
# 2-CPU machine, which CI's 90 minutes do not hold beside the rest).
set -euo pipefail
cd "$(dirname "$0")/.."
PARTS=",${PTSERVE_TEST_PARTS:-lint,unit,tools,tsan,fuzz,monitoring,integration,soak,regress,deploy,asan,debian13},"
part() { [[ "$PARTS" == *",$1,"* ]]; }
. /etc/os-release
echo "== ptserve tests on ${PRETTY_NAME:-?}: ${PARTS:1:-1}"
bash scripts/setup.sh
bash scripts/build.sh -DPTSERVE_WERROR=ON
bash scripts/examples.sh
BUILD=${PTSERVE_BUILD_DIR:-build}

if part lint; then
  echo "== lint: clang-format and clang-tidy on the changed C++"
  bash scripts/lint.sh
  echo "== lint: clang -Wthread-safety over the annotated files"
  bash scripts/thread_safety.sh "$BUILD"
fi

if part unit; then
  echo "== unit tests"
  ctest --test-dir "$BUILD" --output-on-failure -j2
fi

if part tools; then
  echo "== tools and script helpers: config.pbtxt through protobuf, ptserve-optimize --write, scripts/lib/server.sh"
  /usr/bin/python3 -m pytest -q tests/tools
fi

if part tsan; then
  echo "== ThreadSanitizer: scheduler, metrics, repository (model version lifetime, routing), serving"
  cmake -S . -B build-tsan -G Ninja -DPTSERVE_WITH_TORCH=OFF -DPTSERVE_BUILD_BENCH=OFF \
    -DPTSERVE_GRPC=OFF -DPTSERVE_DIRS="core;config;protocol;metrics;scheduler;repository;serving" \
    -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1" >/dev/null
  cmake --build build-tsan --target scheduler_test metrics_test repository_test serving_test
  TSAN_OPTIONS="halt_on_error=1" build-tsan/src/scheduler/scheduler_test --gtest_brief=1
  TSAN_OPTIONS="halt_on_error=1" build-tsan/src/repository/repository_test --gtest_brief=1
  TSAN_OPTIONS="halt_on_error=1" build-tsan/src/serving/serving_test --gtest_brief=1
  TSAN_OPTIONS="halt_on_error=1" build-tsan/src/metrics/metrics_test --gtest_brief=1 \
    --gtest_filter=-*Death*
fi

if part tsan; then
  echo "== ThreadSanitizer: the HTTP transport (http_test)"
  SANITIZE=tsan bash scripts/sanitize.sh
fi

if part fuzz; then
  echo "== libFuzzer: KServe JSON and binary, /predict, config.pbtxt, HTTP requests (30 s each)"
  FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh
fi

if part monitoring; then
  echo "== monitoring: promtool checks of rules, config and dashboard queries"
  bash scripts/check_monitoring.sh
fi

if part integration; then
  echo "== integration tests"
  PTSERVE_BUILD_DIR="$BUILD" /usr/bin/python3 -m pytest -q tests/integration
fi

if part soak; then
  echo "== soak: the seed's Locust scenario, 1,000 users for 2 minutes; RSS, threads, fds flat"
  SOAK_SECONDS=${SOAK_SECONDS:-120} PTSERVE_BUILD_DIR="$BUILD" bash scripts/soak.sh
fi

if part regress; then
  echo "== performance regression (short suite against bench/regress/baseline.json)"
  /usr/bin/python3 bench/regress/regress.py --short --build "$BUILD"
fi

if part deploy; then
  echo "== deploy: manifests, Dockerfiles, compose (offline checks)"
  if command -v kubectl >/dev/null && command -v npm >/dev/null; then
    bash scripts/k8s_validate.sh
  else
    echo "skipped: needs kubectl (>= 1.27) and npm"
  fi
fi

if part asan; then
  echo "== ASan+UBSan: unit tests and the hostile-input integration tests against an instrumented build"
  # Every test that sends malformed, oversized or hostile requests, configs or overrides (where
  # memory errors would be), plus the API tour. Not test_operators.py: its crashing library makes
  # the probe child's segfault an ASan report, which fails the run though the server is right.
  I=tests/integration
  SANITIZE=asan SANITIZE_PYTEST=${SANITIZE_PYTEST:-"$I/test_errors.py $I/test_hardening_http.py $I/test_hardening_models.py $I/test_api.py $I/test_grpc.py $I/test_tls.py"} \
    bash scripts/sanitize.sh
fi

if part debian13; then
  if [ "${VERSION_CODENAME:-}" = "bookworm" ]; then
    echo "== libtorch 2.6: unit and integration tests in a Debian 13 root"
    bash scripts/test-debian13.sh
  else
    echo "== libtorch 2.6: this is $PRETTY_NAME, whose own libtorch the tests above used"
  fi
fi
echo "== all tests passed"
