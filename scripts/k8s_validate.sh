#!/usr/bin/env bash
# Offline checks of everything under deploy/ (no cluster, no registry, no Docker engine):
#   1. renders every kustomization (deploy/k8s/overlays/*, deploy/k8s/prometheus-adapter) with
#      `kubectl kustomize` and validates the objects against the Kubernetes schemas of npm's
#      kubernetes-models (+ @kubernetes-models/prometheus-operator for the ServiceMonitor), with
#      unknown-field detection and cross-object checks (deploy/k8s/validate/validate.mjs);
#   2. checks the prometheus-adapter rule and the HPA agree on the metric names;
#   3. lints the Dockerfiles (deploy/docker/lint.py) and checks the shell scripts' syntax;
#   4. checks the compose file's references and the Prometheus config (promtool, if installed).
# The first run installs the npm packages into deploy/k8s/validate/node_modules (git-ignored;
# `npm ci` from the committed package-lock.json); later runs are offline and take about 5 s.
# Rendered manifests are left in ${PTSERVE_K8S_OUT:-build-k8s}/ for inspection.
set -euo pipefail
cd "$(dirname "$0")/.."
V=deploy/k8s/validate
OUT=${PTSERVE_K8S_OUT:-build-k8s}
t0=$(date +%s)
fail=0

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
need=()
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  echo "k8s_validate: installing ${need[*]}"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v kubectl >/dev/null; then
  # Debian 12 has no kubectl package; a kubectl >= 1.27 (kustomize v5) from Kubernetes' apt
  # repository (pkgs.k8s.io) or a release binary is needed.
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubectl >/dev/null 2>&1 || {
    echo "k8s_validate: FAIL: kubectl not found (install kubectl >= 1.27 from pkgs.k8s.io)" >&2; exit 1; }
fi

# npm packages, once (and again when package-lock.json changes).
stamp=$V/node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ "$V/package-lock.json" -nt "$stamp" ]; then
  echo "k8s_validate: npm ci in $V"
  (cd "$V" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

echo "== kubernetes manifests (kubectl $(kubectl version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": "\([^"]*\)".*/\1/p' | head -1))"
rm -rf "$OUT"; mkdir -p "$OUT"
targets=(deploy/k8s/overlays/* deploy/k8s/prometheus-adapter)
for dir in "${targets[@]}"; do
  [ -f "$dir/kustomization.yaml" ] || continue
  name=$(basename "$dir")
  if ! kubectl kustomize "$dir" > "$OUT/$name.yaml" 2> "$OUT/$name.err"; then
    echo "FAIL $dir: kubectl kustomize: $(cat "$OUT/$name.err")"; fail=1; continue
  fi
  echo "-- $dir ($(grep -c '^kind:' "$OUT/$name.yaml") objects) -> $OUT/$name.yaml"
  node "$V/validate.mjs" "$OUT/$name.yaml" | sed 's/^/   /' || fail=1
done

echo "== prometheus-adapter rule vs HPA"
node "$V/check-adapter.mjs" "$OUT" || fail=1

echo "== Dockerfiles"
python3 deploy/docker/lint.py deploy/docker/Dockerfile deploy/docker/Dockerfile.cuda | sed 's/^/   /' || fail=1

echo "== shell scripts"
for f in scripts/image scripts/k8s_validate.sh; do
  bash -n "$f" && echo "   ok   bash -n $f" || { echo "   FAIL bash -n $f"; fail=1; }
done
for f in deploy/docker/collect-libs.sh deploy/docker/prune-needed.sh deploy/docker/make-rootfs.sh deploy/podman/mkbase-hook.sh; do
  sh -n "$f" && echo "   ok   sh -n $f" || { echo "   FAIL sh -n $f"; fail=1; }
done
if command -v shellcheck >/dev/null; then
  shellcheck -S warning scripts/image scripts/k8s_validate.sh deploy/docker/*.sh deploy/podman/*.sh | sed 's/^/   /' || fail=1
fi

echo "== compose"
node "$V/check-compose.mjs" deploy/compose/compose.yaml || fail=1
if command -v promtool >/dev/null; then
  # The rules path is the container's; point it at deploy/monitoring/rules to check them too.
  sed "s#/etc/prometheus/rules/#$PWD/deploy/monitoring/rules/#" deploy/compose/prometheus.yml > "$OUT/compose-prometheus.yml"
  if [ -d deploy/monitoring/rules ]; then
    promtool check config "$OUT/compose-prometheus.yml" 2>&1 | sed "/^ *$/d; s/^/   /" || fail=1
  else
    promtool check config --syntax-only "$OUT/compose-prometheus.yml" 2>&1 | sed "/^ *$/d; s/^/   /" || fail=1
  fi
else
  echo "   note promtool not installed: deploy/compose/prometheus.yml not checked"
fi

echo "k8s_validate: $([ $fail -eq 0 ] && echo OK || echo FAILED) in $(( $(date +%s) - t0 )) s"
exit $fail
