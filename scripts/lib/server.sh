# shellcheck shell=bash disable=SC2034  # (SERVER_PID, SERVER_PORT: for the caller)
# Shared shell helpers for scripts that start a server (scripts/serve.sh, bench/*.sh).
# Source it:  . "$(dirname "$0")/../scripts/lib/server.sh"
#
#   port_args OUT_ARRAY [ARG...]     fills OUT_ARRAY with --http-port/--metrics-port/
#                                    --management-port for each of them that ARG... (or the
#                                    environment, PTSERVE_HTTP_PORT etc.) does not set: the
#                                    preferred port (PTSERVE_PREFER_HTTP_PORT, ..._METRICS_PORT,
#                                    ..._MANAGEMENT_PORT) when it is free, else 0 (the server
#                                    takes any free port and logs it)
#   start_server LOG CMD [ARG...]    runs CMD in the background, output to LOG; sets SERVER_PID
#   wait_ready PID LOG [TIMEOUT [URL]]
#                                    waits until URL (default: the ptserve HTTP port from LOG,
#                                    /v2/health/ready) answers 200; sets SERVER_PORT. Fails
#                                    fast, printing the last lines of LOG, when PID exits or after
#                                    TIMEOUT seconds (default PTSERVE_READY_TIMEOUT or 600), or
#                                    when ptserve logs that a model failed to load (unless
#                                    PTSERVE_READY_WAIT_ON_FAILED_LOAD=1), and then stops PID.
#   log_port LOG WHAT                the port ptserve logged for WHAT ("HTTP server", "metrics",
#                                    "management API"), or nothing
#   stop_server PID [TIMEOUT]        SIGTERM, then SIGKILL after TIMEOUT seconds (default 30)
#   free_port                        a port nothing listens on now (for servers that cannot take 0)
#   port_is_free PORT                true when nothing listens on PORT (127.0.0.1)

port_is_free() {  # nothing accepts connections on PORT at 127.0.0.1 (bash's /dev/tcp; no python)
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Whether ARG... sets flag $1 (--flag V or --flag=V).
_has_flag() {
  local flag=$1; shift
  local a
  for a in "$@"; do
    [ "$a" = "$flag" ] && return 0
    [[ "$a" == "$flag="* ]] && return 0
  done
  return 1
}

port_args() {
  local -n _out=$1; shift
  _out=()
  local spec flag env prefer value
  for spec in "http-port HTTP_PORT" "metrics-port METRICS_PORT" "management-port MANAGEMENT_PORT"; do
    flag=--${spec% *} env=PTSERVE_${spec#* }
    _has_flag "$flag" "$@" && continue
    [ -n "${!env:-}" ] && continue  # ptserve reads PTSERVE_<FLAG> itself
    prefer=PTSERVE_PREFER_${spec#* }
    value=0
    if [ -n "${!prefer:-}" ] && port_is_free "${!prefer}"; then value=${!prefer}; fi
    _out+=("$flag" "$value")
  done
}

start_server() {
  local log=$1; shift
  "$@" > "$log" 2>&1 &
  SERVER_PID=$!
}

log_port() {
  sed -n -E "s/.*$2 listening on [^ \"]*:([0-9]+).*/\1/p" "$1" 2>/dev/null | head -n 1
}

_server_failed() {  # pid log message
  echo "error: $3" >&2
  [ "${PTSERVE_LOG_LINES:-30}" = 0 ] && return  # (the caller shows the log already)
  echo "---- last lines of $2 ----" >&2
  tail -n "${PTSERVE_LOG_LINES:-30}" "$2" >&2 || true
  echo "----" >&2
}

wait_ready() {
  local pid=$1 log=$2 timeout=${3:-${PTSERVE_READY_TIMEOUT:-600}} url=${4:-}
  local start=$SECONDS port=""
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      local rc=0
      wait "$pid" 2>/dev/null || rc=$?
      _server_failed "$pid" "$log" "the server (pid $pid) exited with status $rc before it was ready"
      return 1
    fi
    if [ -z "$url" ] && [ -z "$port" ]; then
      port=$(log_port "$log" "HTTP server")
    fi
    local u=$url
    if [ -z "$u" ] && [ -n "$port" ]; then
      u="http://127.0.0.1:$port/v2/health/ready"
      # --tls-cert: HTTPS (the certificate need not name 127.0.0.1: -k below)
      grep -q "HTTP server listening on .*(HTTPS" "$log" 2>/dev/null && u="https${u#http}"
    fi
    if [ -n "$u" ] && curl -skf -o /dev/null --max-time 5 "$u"; then
      SERVER_PORT=${port:-$(echo "$u" | sed -E 's#^[a-z]+://[^/]*:([0-9]+).*#\1#')}
      return 0
    fi
    # ptserve has loaded what it could and some model failed: it will not be ready by itself.
    if [ -z "$url" ] && [ "${PTSERVE_READY_WAIT_ON_FAILED_LOAD:-0}" != 1 ] &&
       grep -q "some models failed to load" "$log" 2>/dev/null; then
      _server_failed "$pid" "$log" "a model failed to load, so the server will not be ready; stopping it"
      stop_server "$pid" 10
      return 1
    fi
    if [ $((SECONDS - start)) -ge "$timeout" ]; then
      _server_failed "$pid" "$log" "the server (pid $pid) was not ready within ${timeout} s${u:+ ($u)}; stopping it"
      stop_server "$pid" 10
      return 1
    fi
    sleep 0.3
  done
}

stop_server() {
  local pid=$1 timeout=${2:-30} i
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
