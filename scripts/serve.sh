#!/usr/bin/env bash
# From a fresh Debian 12/13 machine to serving the bundled example models: installs what building
# and serving need (scripts/setup.sh --serve), builds only the server (scripts/build.sh --serve),
# makes the example models (scripts/examples.sh), starts ptserve and waits until it is ready,
# printing each step with its elapsed time. Then it serves until Ctrl-C / SIGTERM.
#
# Ports: HTTP 8000, metrics 8002, management 8003 when free, else any free port (printed).
# Extra arguments go to ptserve (`build/src/server/ptserve --help`). --http-port, --metrics-port
# and --management-port (or PTSERVE_HTTP_PORT, ...) given there are used as given; with
# --model-repository DIR (or PTSERVE_MODEL_REPOSITORY) it serves DIR and makes no examples.
# Environment: PTSERVE_BUILD_DIR (build), PTSERVE_READY_TIMEOUT (600 s: fail with the server's
# last log lines if it is not ready by then), PTSERVE_LOG (where the server's output also goes;
# default $BUILD/ptserve-serve.log), SERVE_SKIP (comma-separated steps not to run: setup, build,
# examples).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/server.sh
BUILD=${PTSERVE_BUILD_DIR:-build}
T0=$SECONDS
SKIP=",${SERVE_SKIP:-},"
step() {  # id name script args...
  local id=$1 name=$2 t=$SECONDS; shift 2
  if [[ "$SKIP" == *",$id,"* ]]; then
    echo "== serve: $name: skipped (SERVE_SKIP)"
    return
  fi
  echo "== serve: $name (at $((SECONDS - T0)) s)"
  bash "$@"
  echo "== serve: $name done in $((SECONDS - t)) s (total $((SECONDS - T0)) s)"
}
step setup "install packages (scripts/setup.sh --serve)" scripts/setup.sh --serve
step build "build the server (scripts/build.sh --serve)" scripts/build.sh --serve
REPO=()
if _has_flag --model-repository "$@" || [ -n "${PTSERVE_MODEL_REPOSITORY:-}" ]; then
  echo "== serve: your model repository: the example models are not made"
else
  step examples "make the example models (scripts/examples.sh)" scripts/examples.sh
  REPO=(--model-repository examples/models)
fi

PTSERVE_PREFER_HTTP_PORT=8000 PTSERVE_PREFER_METRICS_PORT=8002 PTSERVE_PREFER_MANAGEMENT_PORT=8003 \
  port_args PORTS "$@"
LOG=${PTSERVE_LOG:-$BUILD/ptserve-serve.log}
mkdir -p "$(dirname "$LOG")"
t=$SECONDS
echo "== serve: start ptserve and wait until every model is ready (at $((SECONDS - T0)) s; log: $LOG)"
# The log goes to the file (wait_ready reads the ports from it) and to this terminal.
start_server "$LOG" "$BUILD/src/server/ptserve" "${REPO[@]}" "${PORTS[@]}" "$@"
tail -n +1 -f --pid="$SERVER_PID" "$LOG" &
TAIL=$!
trap 'kill -TERM "$SERVER_PID" 2>/dev/null || true' INT TERM HUP PIPE
trap 'kill "$TAIL" 2>/dev/null || true' EXIT
PTSERVE_LOG_LINES=0 wait_ready "$SERVER_PID" "$LOG" || exit 1  # (its log is on the terminal)
MPORT=$(log_port "$LOG" metrics) GPORT=$(log_port "$LOG" "management API")
echo "== serve: ready in $((SECONDS - t)) s (total $((SECONDS - T0)) s from the start of scripts/serve.sh)"
echo "== serve: http://localhost:$SERVER_PORT  (try: curl localhost:$SERVER_PORT/v2/models/mlp)" \
     "${MPORT:+ metrics: http://localhost:$MPORT/metrics}${GPORT:+  management: localhost:$GPORT}"
echo "== serve: Ctrl-C stops it"
rc=0
while :; do  # a trapped signal interrupts wait: wait again for the server's own exit status
  wait "$SERVER_PID" && rc=0 || rc=$?
  kill -0 "$SERVER_PID" 2>/dev/null || break
done
exit $rc
