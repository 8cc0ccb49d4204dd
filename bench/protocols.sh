#!/usr/bin/env bash
# The example MLP over the three inference protocols, one server, side by side: KServe v2 JSON and
# binary over HTTP, and gRPC ModelInfer with raw contents, at concurrency 1 and 64 (closed loop,
# ptserve-bench), each step twice in alternation. Prints throughput, p50/p99 and the server's CPU
# time per request (from /proc: what the protocol costs the server, whatever the client costs;
# on a small machine the client shares the CPUs and its own cost lowers every throughput).
#
#   bench/protocols.sh [BUILD_DIR=build] [window_ms=4000]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
WINDOW=${2:-4000}
. scripts/lib/server.sh
BENCH=$BUILD/bench/ptserve-bench
TMP=$(mktemp -d)
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && stop_server "$SERVER_PID"; rm -rf "$TMP"' EXIT
port_args PORTS
start_server "$TMP/ptserve.log" "$BUILD/src/server/ptserve" --model-repository examples/models \
  --grpc-port 0 "${PORTS[@]}"
wait_ready "$SERVER_PID" "$TMP/ptserve.log" || exit 1
GRPC_PORT=$(log_port "$TMP/ptserve.log" "gRPC server")
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

run() {  # protocol concurrency -> "req/s p50 p99 server-µs/req"
  local args=(-m mlp --concurrency-range "$2:$2" -p "$WINDOW" -r 1 --warmup-ms 500 --json "$TMP/r.json")
  case "$1" in
    json) args+=(-u "127.0.0.1:$SERVER_PORT") ;;
    binary) args+=(-u "127.0.0.1:$SERVER_PORT" --binary) ;;
    grpc) args+=(-i grpc -u "127.0.0.1:$GRPC_PORT") ;;
  esac
  local t0 t1
  t0=$(cpu_ticks)
  "$BENCH" "${args[@]}" > "$TMP/out.txt" 2>&1 || { cat "$TMP/out.txt" >&2; exit 1; }
  t1=$(cpu_ticks)
  /usr/bin/env python3 - "$TMP/r.json" "$t0" "$t1" "$WINDOW" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
step = (r["steps"] if "steps" in r else r["results"])[-1]
lat = step["latency_us"] if "latency_us" in step else step
rps = step["throughput"]
ticks = int(sys.argv[3]) - int(sys.argv[2])
seconds = (int(sys.argv[4]) + 500) / 1000.0  # the window and its warm-up
print(f'{rps:.0f} {lat["p50"]:.0f} {lat["p99"]:.0f} {ticks * 10000 / (rps * seconds):.1f}')
EOF
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-6s %-7s %4s %9s %9s %9s %16s\n" round proto c "req/s" "p50 µs" "p99 µs" "server µs/req"
for round in 1 2; do
  for c in 1 64; do
    for proto in json binary grpc; do
      read -r rps p50 p99 cpu < <(run "$proto" "$c")
      printf "%-6s %-7s %4s %9s %9s %9s %16s\n" "$round" "$proto" "$c" "$rps" "$p50" "$p99" "$cpu"
    done
  done
done
