#!/usr/bin/env bash
# Runs a command inside the Debian 13 root (libtorch 2.6; made by scripts/debian13-root.sh) on a
# copy of this checkout at /ptserve in the root. The copy keeps its own build/ and example models
# (made there by torch 2.6) between runs; the sources are refreshed from this checkout each time.
#
#   scripts/debian13-run.sh bash scripts/test.sh        # the whole suite against libtorch 2.6
#   scripts/debian13-run.sh bash                         # a shell in the root
#
# PTSERVE_DEBIAN13_COPY names the copy's folder in the root (default ptserve), so that two
# checkouts can use one root side by side.
#
# Needs root (mount namespaces, chroot). /proc, /dev and /sys are mounted in a private mount
# namespace, so nothing stays mounted on the host when the command ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(bash scripts/debian13-root.sh)
copy=${PTSERVE_DEBIAN13_COPY:-ptserve}
case "$copy" in */*|.*|"") echo "PTSERVE_DEBIAN13_COPY: a plain folder name" >&2; exit 2 ;; esac
dest="$ROOT/$copy"
mkdir -p "$dest"
# Refresh the sources: everything but the build folders and examples/ (its generated models
# and reference data stay; its committed files are overwritten below).
find "$dest" -mindepth 1 -maxdepth 1 ! -name 'build*' ! -name examples -exec rm -rf {} +
git ls-files -z -co --exclude-standard | tar -cf - --null -T - | tar -xf - -C "$dest"
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
cmd=$(printf '%q ' "$@")
exec unshare --mount --propagation private -- bash -c "
  set -e
  mount -t proc proc '$ROOT/proc'
  mount --rbind /dev '$ROOT/dev'
  mount --rbind /sys '$ROOT/sys'
  mount -t tmpfs tmpfs '$ROOT/dev/shm' 2>/dev/null || true
  exec chroot '$ROOT' /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 CI=\${CI:-} PTSERVE_TEST_PARTS=\${PTSERVE_TEST_PARTS:-} \
    bash -c 'cd /$copy && exec $cmd'"
