#!/usr/bin/env bash
# Makes (once) a Debian 13 root with libtorch 2.6 and everything scripts/setup.sh lists for
# Debian 13, with mmdebstrap from Debian's packages. Debian 13's libtorch needs glibc 2.38, so a
# Debian 12 machine builds and tests the 2.6 build inside this root (scripts/test-debian13.sh).
#
#   scripts/debian13-root.sh            # prints the root's path; builds it when missing (~3 min)
#   PTSERVE_DEBIAN13_ROOT=/path ...     # where it lives (default /var/cache/ptserve/debian13)
#
# The root is a cache: packages added to scripts/setup.sh's list are installed into it with apt
# (setup.sh, run inside the root by the tests, does that), and `rm -rf` of it is safe.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${PTSERVE_DEBIAN13_ROOT:-/var/cache/ptserve/debian13}
packages=$(PTSERVE_SETUP_CODENAME=trixie bash scripts/setup.sh --print)
stamp="$ROOT/etc/ptserve-packages"
if [ -f "$stamp" ]; then
  echo "$ROOT"
  exit 0
fi
command -v mmdebstrap >/dev/null || {
  echo "debian13-root: installing mmdebstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >&2
}
# The host's Debian mirror (deb822 or one-line sources), else deb.debian.org.
mirror=$(grep -hoE '^URIs: *\S+' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1 | awk '{print $2}' || true)
[ -n "$mirror" ] || mirror=$(grep -hoE '^deb +\S+' /etc/apt/sources.list 2>/dev/null | head -1 | awk '{print $2}' || true)
case "$mirror" in *security*|"") mirror=http://deb.debian.org/debian ;; esac
echo "debian13-root: building $ROOT from $mirror (a few minutes)" >&2
rm -rf "$ROOT.new"
mkdir -p "$(dirname "$ROOT")"
start=$SECONDS
mmdebstrap --variant=apt --components=main,contrib --aptopt='APT::Install-Recommends "false"' \
  --include="$(echo "$packages" | tr ' ' ',')" trixie "$ROOT.new" "$mirror" >&2
echo "$packages" >"$ROOT.new/etc/ptserve-packages"
rm -rf "$ROOT"
mv "$ROOT.new" "$ROOT"
echo "debian13-root: done in $((SECONDS - start)) s, $(du -sh "$ROOT" | cut -f1)" >&2
echo "$ROOT"
