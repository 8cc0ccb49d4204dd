#!/usr/bin/env bash
# Times scripts/serve.sh on a fresh Debian 12 system: makes a minimal Debian 12 root (mmdebstrap
# --variant=apt: apt and nothing else, as a fresh machine or container has), copies `git archive
# HEAD` of this checkout into it, runs scripts/serve.sh there as root until it prints "serve:
# ready", stops it, prints the time of each step, and removes the root. Needs root and network.
#
#   bash scripts/time-fresh-serve.sh          # ~10-20 min: downloads ~1 GB of packages
#
# FRESH_ROOT (/var/tmp/ptserve-fresh12): where the root is made; FRESH_TIMEOUT (3600 s);
# FRESH_KEEP=1 keeps the root (and its build) afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${FRESH_ROOT:-/var/tmp/ptserve-fresh12}
[ "$(id -u)" -eq 0 ] || { echo "time-fresh-serve: run as root (chroot, mounts)" >&2; exit 2; }
command -v mmdebstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap
mirror=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 | awk '{print $2}' || true)
case "$mirror" in *security*|"") mirror=http://deb.debian.org/debian ;; esac
cleanup() { [ "${FRESH_KEEP:-0}" = 1 ] || rm -rf "$ROOT"; }
trap cleanup EXIT
rm -rf "$ROOT"
t=$SECONDS
mmdebstrap --quiet --variant=apt bookworm "$ROOT" \
  "deb $mirror bookworm main" "deb $mirror bookworm-updates main" \
  "deb ${mirror%/debian}/debian-security bookworm-security main"
echo "time-fresh-serve: fresh Debian 12 root in $((SECONDS - t)) s (not counted: a fresh machine has its OS)"
mkdir -p "$ROOT/ptserve"
git archive HEAD | tar -x -C "$ROOT/ptserve"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
LOG=$(mktemp)
echo "time-fresh-serve: scripts/serve.sh in the root (output: $LOG); load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
# A private mount namespace: /proc, /dev and /sys are unmounted when it ends.
unshare --mount --propagation private -- bash -c "
  set -e
  mount -t proc proc '$ROOT/proc'
  mount --rbind /dev '$ROOT/dev'
  mount --rbind /sys '$ROOT/sys'
  exec chroot '$ROOT' /usr/bin/env -i HOME=/root LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    bash -c 'cd /ptserve && exec bash scripts/serve.sh'" > "$LOG" 2>&1 &
PID=$!
start=$SECONDS
while ! grep -q "== serve: ready in" "$LOG"; do
  if ! kill -0 "$PID" 2>/dev/null; then
    echo "time-fresh-serve: serve.sh ended before the server was ready:" >&2
    tail -n 40 "$LOG" >&2
    exit 1
  fi
  if [ $((SECONDS - start)) -ge "${FRESH_TIMEOUT:-3600}" ]; then
    echo "time-fresh-serve: not ready in ${FRESH_TIMEOUT:-3600} s" >&2
    tail -n 40 "$LOG" >&2
    kill -TERM "$PID"; wait "$PID" || true
    exit 1
  fi
  sleep 1
done
total=$((SECONDS - start))
port=$(sed -n -E 's#.*serve: http://localhost:([0-9]+).*#\1#p' "$LOG" | head -n 1)
curl -sf "localhost:$port/v2/models/mlp" >/dev/null && echo "time-fresh-serve: GET /v2/models/mlp: 200"
kill -TERM "$PID"
wait "$PID" || true
grep -E "^== serve: .*(done in|ready in)" "$LOG"
echo "time-fresh-serve: from a fresh Debian 12 root to serving: $total s ($((total / 60)) min $((total % 60)) s)"
