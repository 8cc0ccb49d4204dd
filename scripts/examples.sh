#!/usr/bin/env bash
# Makes the example models (TorchScript) and their reference outputs, unless present.
set -euo pipefail
cd "$(dirname "$0")/.."
need=0
for m in mlp digits resnet18 text; do
  [ -f "examples/models/$m/1/model.pt" ] || need=1
  [ -f "examples/reference/$m.json" ] || need=1
done
if [ $need -eq 1 ]; then
  /usr/bin/python3 scripts/make_examples.py --out examples/models --reference examples/reference
else
  echo "examples: present (rm -r examples/models/*/1 examples/reference to remake)"
fi
