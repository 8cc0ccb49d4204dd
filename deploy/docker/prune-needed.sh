#!/bin/sh
# prune-needed.sh LIB: removes from LIB's DT_NEEDED every library from which LIB uses no symbol.
# A symbol counts as used when LIB's dynamic symbol table lists it undefined (U, or w: weak
# references are kept too) and the needed library defines it. Debian's libtorch_cpu.so 1.13 lists
# 24 such libraries (OpenCV, FFmpeg, ZeroMQ, LevelDB, LMDB, Snappy, OpenCL, numa, zstd), linked
# in for Caffe2 operators this build never registers. libtorch_cpu.so is linked with BIND_NOW, so
# a wrong removal fails when the program starts, not later (the runtime stage runs ptserve --help).
# Only use this on a library whose NEEDED entries are not there for their constructors' side
# effects (libtorch.so, for instance, needs libtorch_cpu.so only for that: never prune it).
set -eu
lib="$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nm -D --undefined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u > "$tmp/undef"
remove=""
for needed in $(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  path=$(ldd "$lib" | awk -v n="$needed" '$1 == n && $2 == "=>" {print $3}')
  case "$path" in /*) ;; *) continue ;; esac   # the dynamic loader, or not found: keep
  nm -D --defined-only "$path" | awk '{print $NF}' | sed 's/@.*//' | sort -u > "$tmp/def"
  if [ -z "$(comm -12 "$tmp/undef" "$tmp/def" | head -1)" ]; then
    remove="$remove $needed"
  fi
done
if [ -n "$remove" ]; then
  args=""
  for r in $remove; do args="$args --remove-needed $r"; done
  # shellcheck disable=SC2086
  patchelf $args "$lib"
fi
echo "prune-needed: $(basename "$lib"): removed $(echo $remove | wc -w) unused DT_NEEDED entries:$remove"
