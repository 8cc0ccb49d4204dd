#!/usr/bin/env bash
# What HTTPS costs: the example MLP over HTTP and over HTTPS (--tls-cert), keep-alive connections,
# wrk at concurrency 64, for the seed's /predict (JSON) and KServe v2 binary. The two servers run
# one after the other, twice (plain, TLS, plain, TLS), so that a drift of the machine shows; the
# ratio is TLS throughput / plain throughput of the same round.
#
#   bench/tls.sh [BUILD_DIR=build] [seconds=8] [connections=64]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SECS=${2:-8}
CONNS=${3:-64}
. scripts/lib/server.sh
command -v wrk >/dev/null || { echo "tls.sh: needs wrk (scripts/setup.sh)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "tls.sh: needs openssl (scripts/setup.sh)" >&2; exit 1; }
TMP=$(mktemp -d)
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && stop_server "$SERVER_PID"; rm -rf "$TMP"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -keyout "$TMP/key.pem" -out "$TMP/cert.pem" \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null

# Request bodies: one MLP row of 0.5 as JSON (/predict) and as a KServe binary tensor.
ROW=$(/usr/bin/env python3 -c 'print(",".join(["0.5"] * 784))')
cat > "$TMP/predict.lua" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"data": [$ROW]}'
EOF
cat > "$TMP/binary.lua" <<'EOF'
local header = '{"inputs":[{"name":"INPUT__0","datatype":"FP32","shape":[1,784],' ..
               '"parameters":{"binary_data_size":3136}}]}'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/octet-stream"
wrk.headers["Inference-Header-Content-Length"] = tostring(#header)
wrk.body = header .. string.rep(string.char(0, 0, 0, 63), 784)
EOF

run() {  # scheme endpoint-label path script -> req/s
  local out
  out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" -s "$TMP/$4.lua" "$1://127.0.0.1:$SERVER_PORT$3" 2>&1)
  if echo "$out" | grep -q "Non-2xx"; then
    echo "tls.sh: $1 $2 answered errors:" >&2
    echo "$out" >&2
    exit 1
  fi
  echo "$out" | awk '/Requests\/sec/ {print $2}'
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER_PID/stat"; }

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs;" \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-6s %-9s %11s %11s %7s %15s %15s\n" round endpoint "http req/s" "https req/s" \
  "ratio" "http server µs" "https server µs"
for round in 1 2; do
  declare -A rps=() cpu=()
  for scheme in http https; do
    args=()
    [ "$scheme" = https ] && args=(--tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem")
    port_args PORTS
    start_server "$TMP/ptserve.log" "$BUILD/src/server/ptserve" --model-repository examples/models \
      --grpc-port -1 "${PORTS[@]}" "${args[@]}"
    wait_ready "$SERVER_PID" "$TMP/ptserve.log" || exit 1
    # Warm the model and the connections before measuring.
    wrk -t1 -c"$CONNS" -d2s -s "$TMP/predict.lua" "$scheme://127.0.0.1:$SERVER_PORT/predict" \
      >/dev/null 2>&1 || true
    for e in predict binary; do
      path=/predict
      [ "$e" = binary ] && path=/v2/models/mlp/infer
      t0=$(cpu_ticks)
      rps[$scheme,$e]=$(run "$scheme" "$e" "$path" "$e")
      # the server's CPU per request, in µs (clock ticks are 10 ms)
      cpu[$scheme,$e]=$(echo "($(cpu_ticks) - $t0) * 10000 / (${rps[$scheme,$e]} * $SECS)" | bc -l)
    done
    stop_server "$SERVER_PID"
    SERVER_PID=""
  done
  for e in predict binary; do
    printf "%-6s %-9s %11.0f %11.0f %7.3f %15.1f %15.1f\n" "$round" "$e" "${rps[http,$e]}" \
      "${rps[https,$e]}" "$(echo "${rps[https,$e]} / ${rps[http,$e]}" | bc -l)" \
      "${cpu[http,$e]}" "${cpu[https,$e]}"
  done
done
