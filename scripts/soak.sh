#!/usr/bin/env bash
# Soak test (bench/soak.py): the real server on the example models under the seed's Locust load
# (1000 users) for SOAK_SECONDS, sampling its RSS, threads and open descriptors every
# SOAK_INTERVAL seconds. Fails on any failed request, or if, from SOAK_WARMUP seconds after all
# users are connected to the end, any series leaves ±5 % of its median. Prints the series.
#
#   bash scripts/soak.sh                      # 30 minutes
#   SOAK_SECONDS=120 bash scripts/soak.sh     # what CI runs (~2.5 minutes with startup)
#
# Environment: SOAK_SECONDS (1800), SOAK_WARMUP (a sixth of SOAK_SECONDS, 20..300),
# SOAK_USERS (1000), SOAK_SPAWN_RATE (100), SOAK_INTERVAL (5), SOAK_LOCUST_WORKERS (0: one
# Locust process), SOAK_OUT (out/soak), PTSERVE_BUILD_DIR (build). Needs the server built
# (scripts/build.sh), the example models (scripts/examples.sh) and python3-locust.
set -euo pipefail
cd "$(dirname "$0")/.."
args=(--seconds "${SOAK_SECONDS:-1800}" --users "${SOAK_USERS:-1000}"
      --spawn-rate "${SOAK_SPAWN_RATE:-100}" --interval "${SOAK_INTERVAL:-5}"
      --locust-workers "${SOAK_LOCUST_WORKERS:-0}" --out "${SOAK_OUT:-out/soak}"
      --build "${PTSERVE_BUILD_DIR:-build}")
[ -n "${SOAK_WARMUP:-}" ] && args+=(--warmup "$SOAK_WARMUP")
exec /usr/bin/python3 bench/soak.py "${args[@]}"
