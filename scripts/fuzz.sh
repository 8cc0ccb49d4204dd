#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/) into build-fuzz/ with clang, ASan and UBSan, and runs
# each for a bounded time on a scratch copy of its committed seed corpus (fuzz/corpus/<name>/,
# which therefore never grows here). Fails on any crash, sanitizer report (ASan, UBSan,
# LeakSanitizer), out-of-memory (RSS over FUZZ_RSS_MB, or one allocation over it) or an input
# that runs longer than FUZZ_TIMEOUT seconds, and prints the reproducer and how to replay it.
#
#   bash scripts/fuzz.sh                                  # every harness, 30 s each (CI)
#   FUZZ_SECONDS=600 bash scripts/fuzz.sh                 # longer
#   FUZZERS="config_fuzzer http_request_fuzzer" bash scripts/fuzz.sh
#   FUZZ_JOBS=2 bash scripts/fuzz.sh                      # two harnesses at a time
#
# Environment: FUZZ_SECONDS (30), FUZZ_RSS_MB (2048), FUZZ_TIMEOUT (10), FUZZ_JOBS (1),
# FUZZERS (all), FUZZ_BUILD_DIR (build-fuzz), CXX (clang++), FUZZ_NO_BUILD=1 to skip building.
# Replay a reproducer: build-fuzz/fuzz/<harness> <file>  (exits non-zero while it still fails).
# Seeds: fuzz/make_corpus.py; a reproducer of a fixed bug goes to fuzz/corpus/<harness>/.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${FUZZ_SECONDS:-30}
RSS_MB=${FUZZ_RSS_MB:-2048}
TIMEOUT=${FUZZ_TIMEOUT:-10}
JOBS=${FUZZ_JOBS:-1}
BUILD=${FUZZ_BUILD_DIR:-build-fuzz}
ALL="kserve_json_fuzzer kserve_binary_fuzzer predict_fuzzer config_fuzzer http_request_fuzzer"
FUZZERS=${FUZZERS:-$ALL}

declare -A DICT=([kserve_json_fuzzer]=json [kserve_binary_fuzzer]=json [predict_fuzzer]=json
                 [config_fuzzer]=pbtxt [http_request_fuzzer]=http)

if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  CXX_BIN=${CXX:-}
  if [ -z "$CXX_BIN" ] || ! "$CXX_BIN" --version 2>/dev/null | grep -q clang; then
    CXX_BIN=$(command -v clang++ || command -v clang++-14 || true)
  fi
  [ -n "$CXX_BIN" ] || { echo "fuzz.sh: clang++ not found (Debian: clang, libclang-rt-14-dev)" >&2; exit 2; }
  echo "== fuzz: building harnesses in $BUILD ($CXX_BIN)"
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER="$CXX_BIN" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPTSERVE_FUZZ=ON -DPTSERVE_WITH_TORCH=OFF -DPTSERVE_BUILD_TESTS=OFF -DPTSERVE_BUILD_BENCH=OFF \
    -DPTSERVE_JEMALLOC=OFF -DPTSERVE_DIRS="core;config;protocol;server/http" >/dev/null
  cmake --build "$BUILD" --target fuzzers
fi

RUN="$BUILD/run"
rm -rf "$RUN"
mkdir -p "$RUN"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:symbolize=1:allocator_may_return_null=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

run_one() {
  local name=$1 dir="$RUN/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp fuzz/corpus/"$name"/* "$dir/corpus/" 2>/dev/null || true
  local rc=0
  "$BUILD/fuzz/$name" "$dir/corpus" -dict="fuzz/dict/${DICT[$name]}.dict" \
    -max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS_MB" -malloc_limit_mb="$RSS_MB" \
    -timeout="$TIMEOUT" -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/rc"
}

pids=()
for name in $FUZZERS; do
  [ -x "$BUILD/fuzz/$name" ] || { echo "fuzz.sh: no harness $BUILD/fuzz/$name" >&2; exit 2; }
  echo "== fuzz: $name for ${SECONDS_EACH}s"
  run_one "$name" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$JOBS" ]; then
    wait "${pids[0]}"
    pids=("${pids[@]:1}")
  fi
done
wait

failed=0
printf '%-22s %12s %10s %8s %s\n' harness execs exec/s corpus result
for name in $FUZZERS; do
  dir="$RUN/$name"
  rc=$(cat "$dir/rc")
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' | tail -1)
  speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$dir/log" | grep -o '[0-9]*$' | tail -1)
  units=$(grep -o 'corp: [0-9]*' "$dir/log" | tail -1 | grep -o '[0-9]*$')
  artifacts=$(find "$dir/artifacts" -type f | sort)
  if [ "$rc" != 0 ] || [ -n "$artifacts" ]; then
    failed=1
    printf '%-22s %12s %10s %8s %s\n' "$name" "${execs:-?}" "${speed:-?}" "${units:-?}" "FAILED (exit $rc)"
    grep -m1 -E 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:|SUMMARY:' "$dir/log" | sed 's/^/    /' || true
    for a in $artifacts; do
      echo "    reproducer: $a"
      echo "    replay:     $BUILD/fuzz/$name $a"
    done
    echo "    log:        $dir/log"
  else
    printf '%-22s %12s %10s %8s %s\n' "$name" "${execs:-?}" "${speed:-?}" "${units:-?}" ok
  fi
done
[ "$failed" = 0 ] || { echo "== fuzz: FAILED"; exit 1; }
echo "== fuzz: no crash, leak, UB, OOM or timeout"
