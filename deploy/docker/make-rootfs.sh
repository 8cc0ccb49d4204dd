#!/bin/sh
# make-rootfs.sh PREFIX ROOTFS
# Assembles the runtime image's whole file system in ROOTFS: the installed ptserve (PREFIX, with
# the libraries collect-libs.sh gathered), the rest of the libraries its binaries load (glibc,
# libstdc++, libgcc_s, zlib, ... which the Debian base image had), the dynamic loader at the path
# the binaries name, an ld.so.cache, /etc/passwd and /etc/group with the ptserve user (uid 10001),
# and /tmp. No shell, no package manager: the runtime stage is `FROM scratch`. Checks that
# both programs start inside it (chroot).
set -eu
prefix="$1"; rootfs="$2"
here=$(dirname "$0")
mkdir -p "$rootfs/etc" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
mkdir -p "$rootfs$(dirname "$prefix")"
cp -a "$prefix" "$rootfs$prefix"

for bin in "$rootfs$prefix"/bin/*; do
  # An empty base list: every library is collected, the base image's too.
  sh "$here/collect-libs.sh" "$bin" "$rootfs$prefix/lib" /dev/null
  interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]$/\1/p')
  if [ -n "$interp" ] && [ ! -e "$rootfs$interp" ]; then
    mkdir -p "$rootfs$(dirname "$interp")"
    cp -L "$interp" "$rootfs$interp"
  fi
done

echo "$prefix/lib" > "$rootfs/etc/ld.so.conf"
ldconfig -r "$rootfs"
cat > "$rootfs/etc/passwd" <<EOF
root:x:0:0:root:/root:/usr/sbin/nologin
ptserve:x:10001:10001:ptserve:/nonexistent:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat > "$rootfs/etc/group" <<EOF
root:x:0:
ptserve:x:10001:
nogroup:x:65534:
EOF
# Proof that the file system is complete: both programs start inside it, with every library
# loaded (libtorch_cpu is linked BIND_NOW, so a pruned DT_NEEDED it does need fails here).
chroot "$rootfs" "$prefix/bin/ptserve" --help > /dev/null
chroot "$rootfs" "$prefix/bin/healthcheck" --help > /dev/null
echo "make-rootfs: $(du -sh "$rootfs" | cut -f1) in $rootfs; ptserve and healthcheck start in it"
