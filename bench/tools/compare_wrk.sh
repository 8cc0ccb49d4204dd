#!/usr/bin/env bash
# Measures ptserve-bench against wrk on the same trivial endpoint, each pinned to core 0 with the
# server pinned to core 1. Prints throughput, CPU used by the client, requests per client
# CPU-second, and the low-load latency (concurrency 1) of both.
#
#   bench/tools/compare_wrk.sh BUILD_DIR [seconds=6] [connections=64] [port=18080]
set -euo pipefail
BUILD=${1:?build dir}
SECS=${2:-6}
CONNS=${3:-64}
PORT=${4:-18080}
BENCH=$BUILD/bench/ptserve-bench
SERVER=$BUILD/bench/trivial_http_server
TMP=$(mktemp -d)
taskset -c 1 "$SERVER" "$PORT" >/dev/null 2>&1 &
SERVER_PID=$!
trap 'kill $SERVER_PID 2>/dev/null; rm -rf "$TMP"' EXIT
sleep 0.3


run_bench() {  # concurrency, json out
  local c=$1 out=$2
  local t0 t1
  t0=$(date +%s.%N)
  cpu=$( { TIMEFORMAT="%U %S"; time taskset -c 0 "$BENCH" -u 127.0.0.1:$PORT --endpoint predict \
      --shape data:1 --concurrency-range "$c" -p $((SECS * 1000)) -r 1 --warmup-ms 500 \
      --json "$out" >/dev/null 2>&1; } 2>&1 | awk '{print $1+$2}')
  t1=$(date +%s.%N)
  echo "$cpu $(echo "$t1 - $t0" | bc)"
}

read BENCH_CPU BENCH_WALL < <(run_bench "$CONNS" "$TMP/b.json")
BENCH_RPS=$(grep -o '"throughput": [0-9.]*' "$TMP/b.json" | awk '{print $2}')
WRK_CPU=$( { TIMEFORMAT="%U %S"; time taskset -c 0 wrk -t1 -c"$CONNS" -d"${SECS}s" \
    "http://127.0.0.1:$PORT/" > "$TMP/wrk.txt" 2>&1; } 2>&1 | awk '{print $1+$2}')
WRK_RPS=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk.txt")

read _ _ < <(run_bench 1 "$TMP/b1.json")
BENCH_P50_C1=$(grep -o '"p50": [0-9.]*' "$TMP/b1.json" | awk '{print $2}')
taskset -c 0 wrk -t1 -c1 -d"${SECS}s" --latency "http://127.0.0.1:$PORT/" > "$TMP/wrk1.txt" 2>&1
WRK_P50_C1=$(awk '$1=="50%" {print $2}' "$TMP/wrk1.txt")
WRK_RPS_C1=$(awk '/Requests\/sec/ {print $2}' "$TMP/wrk1.txt")
BENCH_RPS_C1=$(grep -o '"throughput": [0-9.]*' "$TMP/b1.json" | awk '{print $2}')

BENCH_CORES=$(grep -o '"client_cpu": [0-9.]*' "$TMP/b.json" | awk '{print $2}')
WRK_REQS=$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")
FLOOR=$(taskset -c 0 "$BUILD/bench/rtt_floor" "$PORT" 20000)
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "c=%s  ptserve-bench: %8.0f req/s (client CPU %.2fs over ~%.1fs)\n" "$CONNS" "$BENCH_RPS" "$BENCH_CPU" "$BENCH_WALL"
printf "c=%s  wrk:           %8.0f req/s (client CPU %.2fs over %ss)\n" "$CONNS" "$WRK_RPS" "$WRK_CPU" "$SECS"
printf "ratio bench/wrk: %.2f\n" "$(echo "$BENCH_RPS / $WRK_RPS" | bc -l)"
# Throughput per client CPU-second: what one fully available core would drive (robust to other
# load on the machine, which steals CPU from both clients alike).
printf "per client CPU-second: ptserve-bench %.0f req (worker used %.2f cores), wrk %.0f req\n" \
  "$(echo "$BENCH_RPS / $BENCH_CORES" | bc -l)" "$BENCH_CORES" "$(echo "$WRK_REQS / $WRK_CPU" | bc -l)"
printf "c=1   ptserve-bench: p50 %s us, %s req/s;  wrk: p50 %s, %s req/s\n" \
  "$BENCH_P50_C1" "$BENCH_RPS_C1" "$WRK_P50_C1" "$WRK_RPS_C1"
echo "c=1   blocking write/read loop (no generator overhead): $FLOOR"
# Open loop at a low rate: the generator's scheduling lateness shows up in latency and send time.
taskset -c 0 "$BENCH" -u 127.0.0.1:$PORT --endpoint predict --shape data:1 \
  --request-rate-range 1000 --request-distribution poisson -p $((SECS * 1000)) -r 1 \
  --warmup-ms 500 --json "$TMP/o.json" >/dev/null 2>&1
printf "open loop 1000/s poisson: p50 %s us, client send %s us\n" \
  "$(grep -o '"p50": [0-9.]*' "$TMP/o.json" | awk '{print $2}')" \
  "$(grep -o '"client_send_us": [0-9.]*' "$TMP/o.json" | awk '{print $2}')"
