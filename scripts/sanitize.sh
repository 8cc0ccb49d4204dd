#!/usr/bin/env bash
# Sanitizer runs (see docs/testing.md):
#   asan  AddressSanitizer + UndefinedBehaviorSanitizer build of everything (unit tests, the
#         server, ptserve-bench) in build-asan/, then the unit tests (ctest) and the integration
#         tests against the instrumented server binary. Any report fails the run.
#   tsan  ThreadSanitizer over the HTTP transport (src/server/http: http_test, which holds
#         http_server_test, router_test and http_message_test) in build-tsan-http/, without
#         libtorch.
#
#   bash scripts/sanitize.sh                   # both
#   SANITIZE=tsan bash scripts/sanitize.sh     # one of them
#   SANITIZE_PYTEST="tests/integration/test_api.py tests/integration/test_errors.py" \
#     bash scripts/sanitize.sh                 # a subset of the integration tests
#
# Environment: SANITIZE ("asan tsan"), SANITIZE_PYTEST (integration test paths/args;
# default: all of tests/integration), SANITIZE_LEAKS (1; 0 turns LeakSanitizer off), CXX for
# the ASan build (default: the system c++, GCC).
set -euo pipefail
cd "$(dirname "$0")/.."
STAGES=${SANITIZE:-asan tsan}
PYTEST_ARGS=${SANITIZE_PYTEST:-tests/integration}

# ASan: the server is built without jemalloc (ASan replaces malloc). Leak detection is on; libtorch,
# OpenMP and Python are not instrumented. libtorch's own leaks at exit (type objects in shared_ptr
# cycles) are suppressed by module (scripts/lsan.supp), which also hides a leaked tensor whose
# allocation went through libtorch_cpu; SANITIZE_LEAKS=0 turns leak detection off.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=${SANITIZE_LEAKS:-1}:detect_stack_use_after_return=0:strict_string_checks=1:check_initialization_order=1:detect_odr_violation=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

for stage in $STAGES; do
  case "$stage" in
  asan)
    echo "== ASan+UBSan: build (build-asan)"
    # vptr: libtorch does not export the typeinfo of some of its classes (c10::DynamicType).
    FLAGS="-fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
    # -O1 -g1 to shorten the build (not compared with -O2 -g); reports keep their line numbers.
    cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPTSERVE_JEMALLOC=OFF \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
      -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
      -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
    start=$(date +%s)
    cmake --build build-asan
    echo "   build: $(( $(date +%s) - start )) s"
    echo "== ASan+UBSan: unit tests"
    start=$(date +%s)
    # ACrashingConstructor checks that a library's segfault in the probe child is reported as
    # signal 11; under ASan the child's SEGV is ASan's report and exit status instead.
    ctest --test-dir build-asan --output-on-failure -j2 --timeout 900 \
      -E 'ACrashingConstructorIsRefused'
    echo "   unit tests: $(( $(date +%s) - start )) s"
    echo "== ASan+UBSan: integration tests ($PYTEST_ARGS)"
    start=$(date +%s)
    # The servers the tests start write their reports to files (a test does not always look at
    # a server's exit status or log), checked afterwards.
    REPORTS=build-asan/sanitizer-reports
    rm -rf "$REPORTS"
    mkdir -p "$REPORTS"
    rc=0
    # shellcheck disable=SC2086
    ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$PWD/$REPORTS/asan" \
    UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$PWD/$REPORTS/ubsan" \
      PTSERVE_BUILD_DIR=build-asan /usr/bin/python3 -m pytest -q $PYTEST_ARGS || rc=$?
    echo "   integration tests: $(( $(date +%s) - start )) s"
    if [ -n "$(ls -A "$REPORTS")" ]; then
      echo "== sanitizer reports from the servers under test:"
      for f in "$REPORTS"/*; do echo "--- $f"; head -60 "$f"; done
      exit 1
    fi
    [ "$rc" = 0 ] || exit "$rc"
    ;;
  tsan)
    echo "== ThreadSanitizer: HTTP transport (build-tsan-http)"
    cmake -S . -B build-tsan-http -G Ninja -DPTSERVE_WITH_TORCH=OFF -DPTSERVE_BUILD_BENCH=OFF \
      -DPTSERVE_DIRS="core;server/http" -DCMAKE_BUILD_TYPE=Debug \
      -DCMAKE_CXX_FLAGS="-fsanitize=thread -O1 -Wno-tsan" >/dev/null
    cmake --build build-tsan-http --target http_test
    start=$(date +%s)
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1" \
      build-tsan-http/src/server/http/http_test --gtest_brief=1 --gtest_repeat=3
    echo "   http_test under TSan: $(( $(date +%s) - start )) s"
    ;;
  *)
    echo "sanitize.sh: unknown stage '$stage' (asan, tsan)" >&2
    exit 2
    ;;
  esac
done
echo "== sanitizers: no reports"
