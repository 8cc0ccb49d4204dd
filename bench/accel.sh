#!/usr/bin/env bash
# Acceleration benchmark (issue "acceleration"), in one run on one machine:
#  (a) tools/ptserve-optimize tables: MLP (fp32 / frozen / 1 thread / bf16 / dynamic int8 /
#      static int8 at batch 1, 32, 256), digits (same, plus accuracy on the held-back digits),
#      ResNet-18 (fp32 / frozen / bf16 / static int8 at batch 1 and 8; top-1 agreement on random
#      inputs) and, with RESNET50=1, a torchvision ResNet-50 with random weights;
#  (b) the same levers through ptserve's C++ backend (config parameters applied at load):
#      ptserve-inprocess-bench --param ..., MLP at batch 1, 32, 256.
# Usage: bench/accel.sh [seconds-per-measurement]   (results in out/bench-accel/)
# Numbers are only comparable within one run: rerun the whole script on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${PTSERVE_BUILD_DIR:-build}
SECS=${1:-2}
OUT=out/bench-accel
mkdir -p "$OUT"
PY=/usr/bin/python3
TOOL=tools/ptserve-optimize
[ -f examples/models/mlp/1/model.pt ] || { echo "make the examples first: scripts/examples.sh"; exit 1; }
echo "machine: $(nproc) CPU(s), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
echo "flags: $(grep -m1 -o -w -E 'avx512_bf16|amx_bf16|amx_tile|avx512_vnni' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== (a) ptserve-optimize: mlp"
$PY $TOOL --model-dir examples/models/mlp --batch-sizes 1,32,256 --seconds "$SECS" \
  --json "$OUT/mlp.json" | tee "$OUT/mlp.txt"
echo "== (a) ptserve-optimize: digits (accuracy on the held-back 25% of scikit-learn's digits)"
$PY $TOOL --model-dir examples/models/digits --eval digits --batch-sizes 1,32,256 \
  --seconds "$SECS" --json "$OUT/digits.json" | tee "$OUT/digits.txt"
echo "== (a) ptserve-optimize: resnet18"
$PY $TOOL --model-dir examples/models/resnet18 --levers fp32,frozen,bf16,static_int8 \
  --batch-sizes 1,8 --seconds "$SECS" --random-samples 64 --json "$OUT/resnet18.json" \
  | tee "$OUT/resnet18.txt"
if [ "${RESNET50:-0}" = 1 ]; then
  R50=$(mktemp -d)
  trap 'rm -rf "$R50"' EXIT
  mkdir -p "$R50/resnet50/1"
  sed 's/resnet18/resnet50/g' examples/models/resnet18/config.pbtxt > "$R50/resnet50/config.pbtxt"
  $PY -c "
import torch, torchvision
torch.manual_seed(0)
m = torchvision.models.resnet50(weights=None).eval()
torch.jit.save(torch.jit.trace(m, torch.randn(1, 3, 224, 224)), '$R50/resnet50/1/model.pt')"
  echo "== (a) ptserve-optimize: resnet50"
  $PY $TOOL --model-dir "$R50/resnet50" --levers fp32,frozen,bf16,static_int8 \
    --batch-sizes 1,8 --seconds "$SECS" --random-samples 32 --json "$OUT/resnet50.json" \
    | tee "$OUT/resnet50.txt"
fi

echo "== (b) C++ backend, levers from config parameters (MLP)"
B="$BUILD/src/backend/ptserve-inprocess-bench"
[ -x "$B" ] || { echo "build first: cmake --build $BUILD --target ptserve-inprocess-bench"; exit 1; }
for p in OPTIMIZE=false OPTIMIZE=true PRECISION=BF16 QUANTIZATION=DYNAMIC_INT8; do
  echo "-- $p"
  "$B" --model examples/models/mlp/1/model.pt --shape 784 --input-names INPUT__0 \
    --batch-sizes 1,32,256 --intra-op-threads "$(nproc)" --seconds "$SECS" --param "$p" \
    | tee "$OUT/inprocess-mlp-$p.json"
done
