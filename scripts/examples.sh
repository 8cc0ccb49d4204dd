#!/usr/bin/env bash
# Makes the example models and their reference outputs, unless present: TorchScript models in
# examples/models, and with torch >= 2.6 (Debian 13) also the AOTInductor packages in
# examples/pytorch2.
set -euo pipefail
cd "$(dirname "$0")/.."
need=0
for m in mlp digits resnet18 text; do
  [ -f "examples/models/$m/1/model.pt" ] || need=1
  [ -f "examples/reference/$m.json" ] || need=1
done
if /usr/bin/python3 -c 'import sys, torch; sys.exit(0 if tuple(map(int, torch.__version__.split(".")[:2])) >= (2, 6) else 1)'; then
  for m in mlp_aoti text_aoti; do
    [ -f "examples/pytorch2/$m/1/model.pt2" ] || need=1
    [ -f "examples/reference/$m.json" ] || need=1
  done
fi
if [ $need -eq 1 ]; then
  /usr/bin/python3 scripts/make_examples.py --out examples/models --reference examples/reference
else
  echo "examples: present (rm -r examples/models/*/1 examples/pytorch2/*/1 examples/reference to remake)"
fi
