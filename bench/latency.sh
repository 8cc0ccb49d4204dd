#!/usr/bin/env bash
# Serving overhead at concurrency 1 (issue "latency"): the example MLP at batch 1, in one run.
#  (a) in-process through ptserve's backend (no HTTP): the model as served (frozen, optimised) and
#      the unmodified model (OPTIMIZE false: what plain libtorch runs);
#  (b) ptserve at concurrency 1, KServe v2 binary and seed /predict JSON, batching off, once per
#      server variant (each variant is a set of extra server flags); and binary at concurrency 64,
#      to show what a variant does to throughput under load.
# Rounds alternate the cases so that drift on a noisy machine hits them alike.
#
# Usage: bench/latency.sh [seconds-per-step] [rounds]
#   PTSERVE_LATENCY_VARIANTS='name=flags;name=flags' (default: "inline=;handoff=--inline-execution=false")
# Output: a table of p50/p99 and p50 minus the in-process p50 (results in out/bench-latency/).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/server.sh
BUILD=${PTSERVE_BUILD_DIR:-build}
SECS=${1:-5}
ROUNDS=${2:-2}
OUT=out/bench-latency
mkdir -p "$OUT"
rm -f "$OUT"/*.json
BENCH="$BUILD/bench/ptserve-bench"
INPROC="$BUILD/src/backend/ptserve-inprocess-bench"
MODEL=examples/models/mlp/1/model.pt
[ -x "$BENCH" ] && [ -f "$MODEL" ] || { echo "build first: scripts/build.sh && scripts/examples.sh"; exit 1; }
VARIANTS=${PTSERVE_LATENCY_VARIANTS:-"inline=;handoff=--inline-execution=false"}
THREADS=$(nproc)

REPO=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$REPO"' EXIT
mkdir -p "$REPO/mlp"
ln -s "$PWD/examples/models/mlp/1" "$REPO/mlp/1"
sed '/^dynamic_batching/,$d' examples/models/mlp/config.pbtxt > "$REPO/mlp/config.pbtxt"

grep -m1 'model name' /proc/cpuinfo || true
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round: in-process, batch 1, $THREADS intra-op threads"
  # --input-names: with declared inputs the bench has samples, so OPTIMIZE (and LINEAR_KERNEL
  # AUTO) are applied as the server applies them.
  "$INPROC" --model "$MODEL" --shape 784 --batch-sizes 1 --intra-op-threads "$THREADS" \
    --input-names INPUT__0 --seconds "$SECS" | head -1 > "$OUT/inprocess_served_r$round.json"
  "$INPROC" --model "$MODEL" --shape 784 --batch-sizes 1 --intra-op-threads "$THREADS" \
    --input-names INPUT__0 --seconds "$SECS" --param OPTIMIZE=false | head -1 \
    > "$OUT/inprocess_unmodified_r$round.json"
  IFS=';' read -ra list <<< "$VARIANTS"
  for v in "${list[@]}"; do
    name=${v%%=*} flags=${v#*=}
    echo "== round $round: ptserve ($name: ${flags:-defaults})"
    port_args PORTS
    # shellcheck disable=SC2086  # flags are words
    start_server "$OUT/ptserve_$name.log" "$BUILD/src/server/ptserve" --model-repository "$REPO" \
      --grpc-port -1 "${PORTS[@]}" $flags
    SERVER=$SERVER_PID
    wait_ready "$SERVER" "$OUT/ptserve_$name.log" || exit 1
    for ep in binary predict binary_c64; do
      case $ep in
        binary) args=(-m mlp --binary --concurrency-range 1) ;;
        predict) args=(--endpoint predict --concurrency-range 1) ;;
        binary_c64) args=(-m mlp --binary --concurrency-range 64) ;;
      esac
      "$BENCH" -u "localhost:$SERVER_PORT" -p $((SECS * 1000)) -r 3 --warmup-ms 1000 \
        --json "$OUT/${name}_${ep}_r$round.json" "${args[@]}" > /dev/null
    done
    stop_server "$SERVER"
  done
done

/usr/bin/python3 - "$OUT" "$ROUNDS" "$VARIANTS" <<'PY'
import json, os, statistics, sys
out, rounds, variants = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = [v.split("=", 1)[0] for v in variants.split(";") if v]
def inproc(kind):
    return statistics.median(json.loads(open(os.path.join(out, f"inprocess_{kind}_r{r}.json")).read())["p50_us"]
                             for r in range(1, rounds + 1))
base = inproc("served")
print(f"\nin-process p50 (median of {rounds} rounds): as served {base:.0f} us, unmodified {inproc('unmodified'):.0f} us")
print(f"{'variant':<10}{'endpoint':<11}{'req/s':>8}{'p50 us':>9}{'p99 us':>9}{'p50 - in-process':>18}   per round p50")
for name in names:
    for ep in ["binary", "predict", "binary_c64"]:
        steps = [json.load(open(os.path.join(out, f"{name}_{ep}_r{r}.json")))["steps"][0]
                 for r in range(1, rounds + 1)]
        rps = statistics.median(s["throughput"] for s in steps)
        p50 = statistics.median(s["latency_us"]["p50"] for s in steps)
        p99 = statistics.median(s["latency_us"]["p99"] for s in steps)
        per = " ".join(f"{s['latency_us']['p50']:.0f}" for s in steps)
        over = f"{p50 - base:>18.0f}" if ep != "binary_c64" else f"{'':>18}"
        print(f"{name:<10}{ep:<11}{rps:>8.0f}{p50:>9.0f}{p99:>9.0f}{over}   {per}")
PY
