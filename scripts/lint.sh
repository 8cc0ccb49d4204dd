#!/usr/bin/env bash
# Style and bug checks on the C++ a change touches (STYLE.md's tooling):
#  - clang-format (.clang-format) on the changed lines only (git clang-format), so old code is
#    reformatted when it is next edited, not in one sweep;
#  - clang-tidy (.clang-tidy: a short list of checks that catch real bugs) on the changed .cc files,
#    with the build's compile_commands.json. Files that include libtorch are left out: clang 14
#    cannot parse Debian 12's libtorch headers (errors inside ATen/core/ivalue_inl.h).
# PTSERVE_LINT_BASE: what the change is measured from (default HEAD~1: the last commit; CI runs
# on main after a landing, so its last commits are the change). Exits 1 on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${PTSERVE_BUILD_DIR:-build}
BASE=${PTSERVE_LINT_BASE:-HEAD~1}
if ! git rev-parse -q --verify "$BASE^{commit}" >/dev/null; then
  echo "lint: no base $BASE (a one-commit clone?): nothing to compare with"; exit 0
fi
status=0
mapfile -t changed < <(git diff --name-only --diff-filter=AM "$BASE" -- 'src/*.cc' 'src/*.h' \
                         'bench/*.cc' 'bench/*.h' 'fuzz/*.cc' 'tests/*.cc')
echo "lint: ${#changed[@]} C++ file(s) changed since $(git rev-parse --short "$BASE")"
[ ${#changed[@]} -eq 0 ] && exit 0

format_diff=$(git clang-format --binary clang-format --diff --extensions cc,h "$BASE" -- \
              "${changed[@]}" || true)
if [ -n "$format_diff" ] && ! grep -qE '^(no modified files to format|clang-format did not modify any files)' <<<"$format_diff"; then
  echo "lint: clang-format would change these lines (run: git clang-format $BASE):"
  echo "$format_diff"
  status=1
fi

[ -f "$BUILD/compile_commands.json" ] || { echo "lint: no $BUILD/compile_commands.json"; exit 1; }
mapfile -t tidy < <(/usr/bin/python3 - "$BUILD/compile_commands.json" "${changed[@]}" <<'PY'
import json, os, sys
db = {os.path.realpath(e["file"]): e["command"] for e in json.load(open(sys.argv[1]))}
for f in sys.argv[2:]:
    cmd = db.get(os.path.realpath(f))
    if f.endswith(".cc") and cmd and "torch/csrc/api/include" not in cmd:
        print(f)
PY
)
if [ ${#tidy[@]} -gt 0 ]; then
  echo "lint: clang-tidy on ${#tidy[@]} file(s)"
  if ! clang-tidy -p "$BUILD" --quiet "${tidy[@]}" 2> >(grep -v 'warnings generated' >&2); then
    status=1
  fi
fi
[ $status -eq 0 ] && echo "lint: OK"
exit $status
