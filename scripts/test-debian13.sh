#!/usr/bin/env bash
# Builds ptserve against Debian 13's libtorch 2.6 and runs its unit and integration tests, on a
# Debian 12 machine: inside a Debian 13 root made with mmdebstrap from Debian's packages
# (scripts/debian13-root.sh, ~4 min and 2.5 GB the first time, then reused). On a Debian 13
# machine, scripts/test.sh already builds against 2.6 natively and this script is not needed.
#
#   bash scripts/test-debian13.sh                       # unit + integration tests against 2.6
#   PTSERVE_TEST_PARTS=unit bash scripts/test-debian13.sh
#
# The libtorch-independent checks (ThreadSanitizer, fuzzing, monitoring, deploy) run once, on the
# host's build; the performance-regression baseline is the host build's, so it is not run here.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E bash "$0" "$@"
fi
start=$SECONDS
PTSERVE_TEST_PARTS=${PTSERVE_TEST_PARTS:-unit,integration} bash scripts/debian13-run.sh bash scripts/test.sh
echo "== Debian 13 (libtorch 2.6): passed in $((SECONDS - start)) s"
