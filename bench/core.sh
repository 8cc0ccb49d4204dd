#!/usr/bin/env bash
# Issue "core" benchmark, in one run on one machine:
#  (a) in-process libtorch time of the MLP at batch 1 (ptserve's own backend, no HTTP);
#  (b) ptserve p50/p99 and throughput for the same model, /predict JSON and KServe v2 binary,
#      at concurrency 1 and 64 (batching off: this measures the serving path itself);
#  (c) the seed's FastAPI + uvicorn wrapper of the same TorchScript file at concurrency 64.
# Usage: bench/core.sh [seconds-per-step]   (results in out/bench-core/)
# Ports: any free ones (ptserve takes port 0 and logs its ports); a server that exits or is not
# ready within PTSERVE_READY_TIMEOUT seconds (600) fails the run with its last log lines.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/server.sh
BUILD=${PTSERVE_BUILD_DIR:-build}
SECS=${1:-5}
OUT=out/bench-core
mkdir -p "$OUT"
BENCH="$BUILD/bench/ptserve-bench"
MODEL=examples/models/mlp/1/model.pt
[ -x "$BENCH" ] && [ -f "$MODEL" ] || { echo "build first: scripts/build.sh && scripts/examples.sh"; exit 1; }

# A repository with only the MLP, batching off.
REPO=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$REPO"' EXIT
mkdir -p "$REPO/mlp"
ln -s "$PWD/examples/models/mlp/1" "$REPO/mlp/1"
sed '/^dynamic_batching/,$d' examples/models/mlp/config.pbtxt > "$REPO/mlp/config.pbtxt"

echo "== (a) in-process, batch 1"
"$BUILD/src/backend/ptserve-inprocess-bench" --model "$MODEL" --shape 784 --batch-sizes 1 \
  --intra-op-threads 2 --seconds "$SECS" | tee "$OUT/inprocess.json"

echo "== (b) ptserve"
port_args PORTS
start_server "$OUT/ptserve.log" "$BUILD/src/server/ptserve" --model-repository "$REPO" "${PORTS[@]}"
SERVER=$SERVER_PID
wait_ready "$SERVER" "$OUT/ptserve.log" || exit 1
PORT=$SERVER_PORT
run() {  # name, extra args...
  local name=$1; shift
  "$BENCH" -u localhost:$PORT -p $((SECS * 1000)) -r 3 --warmup-ms 1000 --json "$OUT/$name.json" "$@" \
    | tail -n +2
}
run predict_c1 --endpoint predict --concurrency-range 1
run predict_c64 --endpoint predict --concurrency-range 64
run binary_c1 -m mlp --binary --concurrency-range 1
run binary_c64 -m mlp --binary --concurrency-range 64
stop_server "$SERVER"

echo "== (c) FastAPI + uvicorn (2 workers x 1 torch thread)"
FPORT=$(free_port)
start_server "$OUT/fastapi.log" /usr/bin/python3 bench/fastapi_baseline.py --port "$FPORT" --workers 2 \
  --model "$MODEL"
FASTAPI=$SERVER_PID
wait_ready "$FASTAPI" "$OUT/fastapi.log" 300 "http://127.0.0.1:$FPORT/health" || exit 1
"$BENCH" -u localhost:$FPORT -p $((SECS * 1000)) -r 3 --warmup-ms 1000 --json "$OUT/fastapi_c64.json" \
  --endpoint predict --concurrency-range 64 | tail -n +2
stop_server "$FASTAPI"

/usr/bin/python3 - "$OUT" <<'PY'
import json, sys, os
out = sys.argv[1]
def step(name):
    return json.load(open(os.path.join(out, name + ".json")))["steps"][0]
inproc = json.loads(open(os.path.join(out, "inprocess.json")).read().splitlines()[0])
print(f"\nin-process MLP batch 1: p50 {inproc['p50_us']:.0f} us")
print(f"{'case':<14}{'req/s':>9}{'p50 us':>9}{'p99 us':>9}  {'p50 - in-process':>16}")
for name in ["predict_c1", "predict_c64", "binary_c1", "binary_c64", "fastapi_c64"]:
    s = step(name)
    lat = s["latency_us"]
    print(f"{name:<14}{s['throughput']:>9.0f}{lat['p50']:>9.0f}{lat['p99']:>9.0f}  {lat['p50'] - inproc['p50_us']:>16.0f}")
print(f"\nptserve /predict c64 / FastAPI c64 throughput: {step('predict_c64')['throughput'] / step('fastapi_c64')['throughput']:.1f}x")
print(f"ptserve binary  c64 / FastAPI c64 throughput: {step('binary_c64')['throughput'] / step('fastapi_c64')['throughput']:.1f}x")
PY
