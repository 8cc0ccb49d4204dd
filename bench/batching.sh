#!/usr/bin/env bash
# Issue "batching" benchmark, in one run on one machine: batching off vs on at
# concurrency 1, 8, 64, 256 for the MLP and ResNet-18 (KServe v2 binary), and
# ResNet-18's physical limit: in-process images/s at its best batch size and
# thread split, through ptserve's own backend.
# The in-process reference loads the model the way the server does (inputs declared, so the
# default OPTIMIZE applies to both).
# Usage: [DELAY_US=0] [RESNET_SECS=15] bench/batching.sh [seconds-per-window]
#        (results in out/bench-batching/)
# DELAY_US is max_queue_delay_microseconds of the batching-on runs (0: a free instance takes
# whatever queued while it was busy, so batching costs nothing at low load).
# Ports: any free ones; a server that exits or is not ready within PTSERVE_READY_TIMEOUT seconds
# (600) fails the run with its last log lines.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/server.sh
BUILD=${PTSERVE_BUILD_DIR:-build}
SECS=${1:-2}
# ResNet-18 runs a batch of 32 in ~0.5 s: shorter windows count too few batches.
RESNET_SECS=${RESNET_SECS:-15}
OUT=out/bench-batching
mkdir -p "$OUT"
BENCH="$BUILD/bench/ptserve-bench"
CPUS=$(nproc)
REPO=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$REPO"' EXIT

echo "== ResNet-18 in-process (images/s by batch size and thread split)"
: > "$OUT/inprocess.jsonl"
for split in "1 $CPUS" "$CPUS 1"; do
  set -- $split
  "$BUILD/src/backend/ptserve-inprocess-bench" --model examples/models/resnet18/1/model.pt \
    --shape 3,224,224 --input-names INPUT__0 --batch-sizes 1,4,8,16,32 --instances "$1" --intra-op-threads "$2" \
    --seconds 10 --warmup-seconds 2 | tee -a "$OUT/inprocess.jsonl"
done
BEST=$(/usr/bin/python3 -c "
import json
rows=[json.loads(l) for l in open('$OUT/inprocess.jsonl')]
b=max(rows,key=lambda r:r['rows_per_s'])
print(b['instances'], b['intra_op_threads'], b['batch'], b['rows_per_s'])")
read BEST_INST BEST_INTRA BEST_BATCH BEST_RATE <<< "$BEST"
echo "best in-process: $BEST_INST instance(s) x $BEST_INTRA thread(s), batch $BEST_BATCH: $BEST_RATE images/s"

# model config: $1 model, $2 batching on/off, $3 instances, $4 intra-op threads
write_config() {
  local model=$1 on=$2 inst=$3 intra=$4 dir="$REPO/$1"
  mkdir -p "$dir"; ln -sfn "$PWD/examples/models/$model/1" "$dir/1"
  sed '/^dynamic_batching/,$d; /^instance_group/,/^]/d' "examples/models/$model/config.pbtxt" > "$dir/config.pbtxt"
  cat >> "$dir/config.pbtxt" <<CFG
instance_group [ { count: $inst kind: KIND_CPU } ]
parameters { key: "INTRA_OP_THREAD_COUNT" value { string_value: "$intra" } }
CFG
  if [ "$on" = on ]; then
    echo "dynamic_batching { max_queue_delay_microseconds: ${DELAY_US:-0} }" >> "$dir/config.pbtxt"
  fi
}

run_server() {  # $1 label
  port_args PORTS
  start_server "$OUT/ptserve-$1.log" "$BUILD/src/server/ptserve" --model-repository "$REPO" \
    --max-queue-size 4096 "${PORTS[@]}"
  SERVER=$SERVER_PID
  wait_ready "$SERVER" "$OUT/ptserve-$1.log" || exit 1
  PORT=$SERVER_PORT
}

for mode in off on; do
  rm -rf "$REPO"/*
  write_config mlp $mode 1 "$CPUS"
  write_config resnet18 $mode "$BEST_INST" "$BEST_INTRA"
  run_server $mode
  for model in mlp resnet18; do
    window=$((SECS * 1000)) warmup=1000
    [ $model = resnet18 ] && window=$((RESNET_SECS * 1000)) warmup=4000
    for c in 1 8 64 256; do
      "$BENCH" -u localhost:$PORT -m $model --binary --concurrency-range $c -p $window -r 3 \
        --warmup-ms $warmup --timeout-ms 120000 --json "$OUT/${model}_${mode}_c$c.json" | tail -n +3
    done
  done
  stop_server "$SERVER"
done

/usr/bin/python3 - "$OUT" "$BEST_RATE" <<'PY'
import json, os, sys
out, best = sys.argv[1], float(sys.argv[2])
def step(name):
    return json.load(open(os.path.join(out, name + ".json")))["steps"][0]
print(f"\n{'model':<9}{'conc':>5} | {'off req/s':>10}{'p50':>8}{'p99':>8} | {'on req/s':>10}{'p50':>8}{'p99':>8}{'batch':>7} | on/off")
for model in ["mlp", "resnet18"]:
    for c in [1, 8, 64, 256]:
        a, b = step(f"{model}_off_c{c}"), step(f"{model}_on_c{c}")
        print(f"{model:<9}{c:>5} | {a['throughput']:>10.0f}{a['latency_us']['p50']:>8.0f}{a['latency_us']['p99']:>8.0f}"
              f" | {b['throughput']:>10.0f}{b['latency_us']['p50']:>8.0f}{b['latency_us']['p99']:>8.0f}"
              f"{b['server'].get('batch_size', 0):>7.1f} | {b['throughput'] / max(a['throughput'], 1e-9):.2f}x")
peak = max(step(f"resnet18_on_c{c}")["throughput"] for c in [64, 256])
print(f"\nResNet-18 served (batching on, best of c64/c256): {peak:.1f} img/s = "
      f"{100 * peak / best:.0f}% of in-process best {best:.1f} img/s")
PY
