#!/usr/bin/env bash
# Renders the README's pictures into docs/images/:
#   architecture  docs/architecture.dot -> architecture.svg and architecture.png (graphviz)
#   bench         serves the MLP example (batching on), runs a short ptserve-bench sweep with
#                 --report, and screenshots the HTML report (sweep chart, table, latency heat
#                 maps) with headless chromium -> bench-report.png
#
#   bash scripts/render_docs.sh                        # both
#   RENDER_PARTS=architecture bash scripts/render_docs.sh
#
# Installs graphviz and chromium when missing (scripts/setup.sh --docs). The bench part needs
# the server and ptserve-bench built (scripts/build.sh) in PTSERVE_BUILD_DIR (default: this
# checkout's build/) and the example MLP (scripts/examples.sh) in PTSERVE_EXAMPLES (default:
# examples/models). RENDER_BENCH_ARGS replaces the sweep's ptserve-bench arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/server.sh
PARTS=",${RENDER_PARTS:-architecture,bench},"
BUILD=${PTSERVE_BUILD_DIR:-build}
EXAMPLES=${PTSERVE_EXAMPLES:-examples/models}
IMAGES=docs/images
mkdir -p "$IMAGES"
if ! command -v dot >/dev/null || ! command -v chromium >/dev/null; then
  bash scripts/setup.sh --docs
fi

if [[ "$PARTS" == *,architecture,* ]]; then
  echo "== architecture: docs/architecture.dot -> $IMAGES/architecture.svg, .png"
  dot -Tsvg docs/architecture.dot -o "$IMAGES/architecture.svg"
  dot -Tpng -Gdpi=100 docs/architecture.dot -o "$IMAGES/architecture.png"
fi

if [[ "$PARTS" == *,bench,* ]]; then
  echo "== bench: ptserve-bench report of the MLP example -> $IMAGES/bench-report.png"
  SERVER_BIN=$BUILD/src/server/ptserve BENCH=$BUILD/bench/ptserve-bench
  for f in "$SERVER_BIN" "$BENCH"; do
    [ -x "$f" ] || { echo "render_docs: $f missing: scripts/build.sh (or set PTSERVE_BUILD_DIR)" >&2; exit 1; }
  done
  [ -f "$EXAMPLES/mlp/1/model.pt" ] ||
    { echo "render_docs: $EXAMPLES/mlp/1/model.pt missing: scripts/examples.sh (or set PTSERVE_EXAMPLES)" >&2; exit 1; }
  TMP=$(mktemp -d)
  PID=""
  trap '[ -n "$PID" ] && stop_server "$PID"; rm -rf "$TMP"' EXIT
  mkdir -p "$TMP/repo/mlp"
  cp "$EXAMPLES/mlp/config.pbtxt" "$TMP/repo/mlp/"
  ln -s "$(cd "$EXAMPLES/mlp/1" && pwd)" "$TMP/repo/mlp/1"
  port_args PORTS
  start_server "$TMP/ptserve.log" "$SERVER_BIN" --model-repository "$TMP/repo" "${PORTS[@]}"
  PID=$SERVER_PID
  wait_ready "$PID" "$TMP/ptserve.log" 300
  read -r -a ARGS <<< "${RENDER_BENCH_ARGS:--m mlp --binary --concurrency-range 1:16:x2 -p 2000 -r 3 --warmup-ms 500}"
  # From $TMP by its plain name: the report shows its command line.
  (cd "$TMP" && PATH="$(cd "$(dirname "$BENCH")" && pwd):$PATH" \
    ptserve-bench -u "localhost:$SERVER_PORT" "${ARGS[@]}" --report report.html)
  stop_server "$PID"
  PID=""
  # --no-sandbox: chromium refuses to run as root otherwise; the page is our own static file.
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
    --window-size="${RENDER_WINDOW:-1200,1080}" --screenshot="$TMP/shot.png" \
    "file://$TMP/report.html" >"$TMP/chromium.log" 2>&1 ||
    { tail -n 20 "$TMP/chromium.log" >&2; exit 1; }
  cp "$TMP/shot.png" "$IMAGES/bench-report.png"
fi
ls -l "$IMAGES"
