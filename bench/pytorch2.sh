#!/usr/bin/env bash
# PyTorch 2 benchmark, in one run on one machine (Debian 12 host + the Debian 13 root):
#  (a) libtorch 1.13 vs 2.6 builds: in-process MLP at batch 1 and 64, ResNet-18 at batch 1 and 8;
#      served MLP (binary v2) and ResNet-18 at concurrency 1 and 64;
#  (b) on 2.6, TorchScript vs AOTInductor: MLP and the text classifier, p50 at concurrency 1 and
#      throughput at concurrency 64 with dynamic batching on (the text example's TorchScript
#      config has none: the benchmark's copy adds it, with PAD_INPUTS like text_aoti's).
# Usage: bench/pytorch2.sh [seconds-per-step]
# (skip the in-process part with PTSERVE_BENCH_SERVED_ONLY=1)   (needs scripts/build.sh + scripts/examples.sh on
# the host and in the root: scripts/debian13-run.sh bash -c 'scripts/build.sh && scripts/examples.sh')
# The servers take any free ports (results keep the labels 8190 = libtorch 1.13, 8191 = 2.6); one
# that exits or is not ready within PTSERVE_READY_TIMEOUT seconds (600) fails the run with its
# last log lines.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/server.sh
SECS=${1:-4}
BUILD=${PTSERVE_BUILD_DIR:-build}
OUT=$PWD/out/bench-pytorch2
mkdir -p "$OUT"
BENCH="$BUILD/bench/ptserve-bench"
ROOT=$(bash scripts/debian13-root.sh)
grep -m1 "model name" /proc/cpuinfo | sed 's/^/cpu: /'
echo "cpu flags: $(grep -m1 -o -w -E 'avx512_bf16|amx_tile|avx512_vnni|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')"

inproc() {  # where(host|root) name model shape batches
  local where=$1 name=$2 model=$3 shape=$4 batches=$5
  local cmd="$BUILD/src/backend/ptserve-inprocess-bench --model $model --shape $shape --batch-sizes $batches --intra-op-threads 2 --seconds $SECS"
  if [ "$where" = host ]; then $cmd; else bash scripts/debian13-run.sh bash -c "build/src/backend/ptserve-inprocess-bench --model $model --shape $shape --batch-sizes $batches --intra-op-threads 2 --seconds $SECS"; fi \
    | sed "s/^/{\"build\": \"$where\", \"case\": \"$name\", \"r\": /; s/\$/}/" >> "$OUT/inprocess.jsonl"
}
if [ -z "${PTSERVE_BENCH_SERVED_ONLY:-}" ]; then
  rm -f "$OUT/inprocess.jsonl"
  echo "== (a) in-process (ptserve's TorchScript backend, 2 intra-op threads)"
  for where in host root; do
    inproc $where mlp examples/models/mlp/1/model.pt 784 1,64
    inproc $where resnet18 examples/models/resnet18/1/model.pt 3,224,224 1,8
  done
fi

echo "== servers: libtorch 1.13 (label 8190), libtorch 2.6 in the Debian 13 root (label 8191)"
mkrepo() {  # dir models...
  local dir=$1; shift; mkdir -p "$dir"
  for m in "$@"; do
    local src=examples/models/$m; [ -d "$src" ] || src=examples/pytorch2/$m
    mkdir -p "$dir/$m"; cp "$src/config.pbtxt" "$dir/$m/"; ln -sfn "$PWD/$src/1" "$dir/$m/1"
  done
}
HOSTREPO=$(mktemp -d); mkrepo "$HOSTREPO" mlp resnet18 text
S113='' S26=''
trap 'for p in $S113 $S26; do stop_server $p; done; rm -rf "$HOSTREPO"' EXIT
start_server "$OUT/server-113.log" "$BUILD/src/server/ptserve" --model-repository "$HOSTREPO" \
  --http-port 0 --grpc-port -1 --management-port -1
S113=$SERVER_PID
# (one line: scripts/debian13-run.sh passes its command through printf %q)
bash scripts/debian13-run.sh bash -c 'rm -rf /tmp/bench-repo; for m in mlp resnet18 text mlp_aoti text_aoti; do d=examples/models/$m; [ -d $d ] || d=examples/pytorch2/$m; mkdir -p /tmp/bench-repo/$m; cp $d/config.pbtxt /tmp/bench-repo/$m/; ln -s /ptserve/$d/1 /tmp/bench-repo/$m/1; done; printf "dynamic_batching { max_queue_delay_microseconds: 500 }\nparameters { key: \"PAD_INPUTS\" value { string_value: \"input_ids:0,attention_mask:0\" } }\n" >> /tmp/bench-repo/text/config.pbtxt; exec build/src/server/ptserve --model-repository /tmp/bench-repo --http-port 0 --grpc-port -1 --management-port -1' \
  > "$OUT/server-26.log" 2>&1 &
S26=$!  # the chain of execs ends in ptserve: this is its pid
declare -A PORT_OF
wait_ready "$S113" "$OUT/server-113.log" || exit 1
PORT_OF[8190]=$SERVER_PORT
wait_ready "$S26" "$OUT/server-26.log" || exit 1
PORT_OF[8191]=$SERVER_PORT
run() {  # name port-label model conc extra...
  local name=$1 port=${PORT_OF[$2]} model=$3 conc=$4; shift 4
  "$BENCH" -u localhost:$port -m "$model" --binary --concurrency-range "$conc" -p $((SECS * 1000)) \
    -r 3 --warmup-ms 1000 --json "$OUT/$name.json" "$@" > /dev/null
}
TEXT=(--shape input_ids:16 --shape attention_mask:16 --input-data zero)
for c in 1 64; do
  for port in 8190 8191; do
    run mlp_${port}_c$c $port mlp $c
    run resnet18_${port}_c$c $port resnet18 $c
  done
  run mlp_aoti_c$c 8191 mlp_aoti $c
  run text_8191_c$c 8191 text $c "${TEXT[@]}"
  run text_aoti_c$c 8191 text_aoti $c "${TEXT[@]}"
done

/usr/bin/python3 - "$OUT" <<'PY'
import json, os, sys
out = sys.argv[1]
def step(name):
    s = json.load(open(os.path.join(out, name + ".json")))["steps"][0]
    return s["throughput"], s["latency_us"]["p50"], s["latency_us"]["p99"]
rows = [json.loads(l) for l in open(os.path.join(out, "inprocess.jsonl"))]
print("\n(a) in-process, p50 us per batch (2 intra-op threads)")
print(f"{'case':<22}{'1.13':>10}{'2.6':>10}{'2.6/1.13':>10}")
for case in ["mlp", "resnet18"]:
    for r13 in [r for r in rows if r["case"] == case and r["build"] == "host"]:
        b = r13["r"]["batch"]
        r26 = [r for r in rows if r["case"] == case and r["build"] == "root" and r["r"]["batch"] == b][0]
        a, c = r13["r"]["p50_us"], r26["r"]["p50_us"]
        print(f"{case + ' batch ' + str(b):<22}{a:>10.0f}{c:>10.0f}{c / a:>10.2f}")
print("\n(a) served (binary v2): req/s and p50 us")
print(f"{'case':<22}{'1.13 req/s':>11}{'2.6 req/s':>11}{'1.13 p50':>10}{'2.6 p50':>10}")
for m in ["mlp", "resnet18"]:
    for c in [1, 64]:
        t13, p13, _ = step(f"{m}_8190_c{c}")
        t26, p26, _ = step(f"{m}_8191_c{c}")
        print(f"{m + ' c' + str(c):<22}{t13:>11.0f}{t26:>11.0f}{p13:>10.0f}{p26:>10.0f}")
print("\n(b) libtorch 2.6: TorchScript vs AOTInductor (binary v2, dynamic batching on)")
print(f"{'model':<10}{'TS p50 c1':>11}{'AOTI p50 c1':>12}{'TS req/s c64':>14}{'AOTI req/s c64':>16}")
for ts, ao in [("mlp_8191", "mlp_aoti"), ("text_8191", "text_aoti")]:
    _, tp, _ = step(f"{ts}_c1"); _, ap, _ = step(f"{ao}_c1")
    tt, _, _ = step(f"{ts}_c64"); at, _, _ = step(f"{ao}_c64")
    print(f"{ts.split('_')[0]:<10}{tp:>11.0f}{ap:>12.0f}{tt:>14.0f}{at:>16.0f}")
PY
