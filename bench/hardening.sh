#!/usr/bin/env bash
# Issue "hardening": does hardening cost speed? Two ptserve binaries — one built before the
# hardening work (e.g. commit 7f776d6) and one after — serve the example MLP (batching off, as in
# bench/core.sh: this measures the serving path, where the limits and checks live), alternately,
# on the same machine in one run: /predict JSON and KServe v2 binary at concurrency 64.
# Usage: bench/hardening.sh BEFORE_BUILD_DIR [AFTER_BUILD_DIR=build] [seconds-per-step=10] [rounds=2]
#   git worktree add /tmp/before 7f776d6 && cmake -S /tmp/before -B /tmp/before/build -G Ninja \
#     -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build /tmp/before/build --target ptserve
#   bench/hardening.sh /tmp/before/build
# Results in out/bench-hardening/ (ptserve-bench JSON per step) and a table of after/before ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/server.sh
BEFORE=${1:?usage: bench/hardening.sh BEFORE_BUILD_DIR [AFTER_BUILD_DIR] [SECS] [ROUNDS]}
AFTER=${2:-build}
SECS=${3:-10}
ROUNDS=${4:-2}
OUT=out/bench-hardening
rm -rf "$OUT" && mkdir -p "$OUT"
BENCH="$AFTER/bench/ptserve-bench"  # one load generator for both
for b in "$BEFORE" "$AFTER"; do
  [ -x "$b/src/server/ptserve" ] || { echo "no $b/src/server/ptserve: build it first" >&2; exit 1; }
done
[ -x "$BENCH" ] && [ -f examples/models/mlp/1/model.pt ] || { echo "build first: scripts/build.sh && scripts/examples.sh" >&2; exit 1; }

REPO=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$REPO"' EXIT
mkdir -p "$REPO/mlp"
ln -s "$PWD/examples/models/mlp/1" "$REPO/mlp/1"
sed '/^dynamic_batching/,$d' examples/models/mlp/config.pbtxt > "$REPO/mlp/config.pbtxt"

for ((round = 1; round <= ROUNDS; round++)); do
  for side in before after; do
    dir=$BEFORE extra=()
    # The newer server also speaks gRPC: off, so that both run the same threads.
    [ "$side" = after ] && dir=$AFTER extra=(--grpc-port -1)
    port_args PORTS
    log="$OUT/$side-$round.log"
    start_server "$log" "$dir/src/server/ptserve" --model-repository "$REPO" "${PORTS[@]}" "${extra[@]}"
    pid=$SERVER_PID
    wait_ready "$pid" "$log" || exit 1
    echo "== round $round, $side ($dir)"
    "$BENCH" -u localhost:$SERVER_PORT -p $((SECS * 1000)) -r 3 --warmup-ms 2000 \
      --json "$OUT/$side-$round-predict.json" --endpoint predict --concurrency-range 64 | tail -n +2
    "$BENCH" -u localhost:$SERVER_PORT -p $((SECS * 1000)) -r 3 --warmup-ms 2000 \
      --json "$OUT/$side-$round-binary.json" -m mlp --binary --concurrency-range 64 | tail -n +2
    stop_server "$pid"
  done
done

/usr/bin/python3 - "$OUT" "$ROUNDS" <<'PY'
import json, os, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def step(side, r, case):
    return json.load(open(os.path.join(out, f"{side}-{r}-{case}.json")))["steps"][0]
print(f"\n{'case':<10}{'round':>6}{'before req/s':>14}{'after req/s':>13}{'after/before':>14}"
      f"{'p99 before':>12}{'p99 after':>11}")
for case in ("predict", "binary"):
    ratios = []
    for r in range(1, rounds + 1):
        b, a = step("before", r, case), step("after", r, case)
        ratio = a["throughput"] / b["throughput"]
        ratios.append(ratio)
        print(f"{case:<10}{r:>6}{b['throughput']:>14.0f}{a['throughput']:>13.0f}{ratio:>14.3f}"
              f"{b['latency_us']['p99']:>12.0f}{a['latency_us']['p99']:>11.0f}")
    print(f"{case:<10}{'mean':>6}{'':>27}{sum(ratios) / len(ratios):>14.3f}")
PY
