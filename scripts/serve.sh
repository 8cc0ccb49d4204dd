#!/usr/bin/env bash
# Sets everything up and serves the bundled example models on port 8000.
# Extra arguments go to ptserve (see: build/src/server/ptserve --help).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
bash scripts/examples.sh
exec "${PTSERVE_BUILD_DIR:-build}/src/server/ptserve" --model-repository examples/models "$@"
