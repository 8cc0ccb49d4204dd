#!/bin/sh
# collect-libs.sh BINARY DEST BASE_LIST     (env: ALLOW_MISSING="libcuda.so.1 ...")
# Copies into DEST the shared libraries BINARY loads (ldd), under their sonames, except those the
# base image already has (BASE_LIST: resolved paths, one per line, recorded before any apt-get).
# Debian's libtorch_cpu.so is copied first and the DT_NEEDED entries it never uses are removed
# (prune-needed.sh), so the ~24 libraries only those entries pull in (OpenCV, FFmpeg, ZeroMQ,
# LevelDB, ...) and their own dependencies are not collected at all.
set -eu
bin="$1"; dest="$2"; base="$3"
here=$(dirname "$0")
mkdir -p "$dest"

torch_cpu=$(ldd "$bin" | awk '$1 ~ /^libtorch_cpu\.so/ {print $1 " " $3}')
if [ -n "$torch_cpu" ]; then
  set -- $torch_cpu
  cp -L "$2" "$dest/$1"
  sh "$here/prune-needed.sh" "$dest/$1"
fi

n=0; skipped=0
# With DEST first on the search path, ldd resolves the pruned copy and lists only what is needed.
for entry in $(LD_LIBRARY_PATH="$dest" ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $1 "=" $3}'); do
  name=${entry%%=*}; path=${entry#*=}
  case "$path" in "$dest"/*) n=$((n + 1)); continue ;; esac
  if grep -qxF "$(readlink -f "$path")" "$base"; then skipped=$((skipped + 1)); continue; fi
  cp -L "$path" "$dest/$name"
  n=$((n + 1))
done
# Nothing may be missing, except the libraries named in ALLOW_MISSING (for the CUDA image: the
# driver's libcuda.so.1, which the NVIDIA Container Toolkit mounts at run time).
missing=$(LD_LIBRARY_PATH="$dest" ldd "$bin" | awk '$2 == "=>" && $3 == "not" {print $1}')
for m in $missing; do
  case " ${ALLOW_MISSING:-} " in *" $m "*) echo "collect-libs: $m left to the host" ;; *) echo "collect-libs: $m not found" >&2; exit 1 ;; esac
done
echo "collect-libs: $n libraries in $dest ($(du -sh "$dest" | cut -f1)); $skipped already in the base image"
