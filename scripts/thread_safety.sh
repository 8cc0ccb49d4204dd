#!/usr/bin/env bash
# clang's thread-safety analysis (-Wthread-safety) over the files whose locking is annotated
# (core/mutex.h: ABSL_GUARDED_BY, ABSL_EXCLUSIVE_LOCKS_REQUIRED, ...): each is compiled with clang,
# -fsyntax-only, with the flags from the build's compile_commands.json; any warning fails.
#
#   scripts/thread_safety.sh [BUILD_DIR=build]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
command -v clang++ >/dev/null || { echo "thread_safety: needs clang (scripts/setup.sh)" >&2; exit 1; }
[ -f "$BUILD/compile_commands.json" ] || { echo "thread_safety: no $BUILD/compile_commands.json (build first)" >&2; exit 1; }
# The annotated translation units (add a file here when its locks are annotated).
FILES=(
  src/core/mutex_test.cc
  src/core/fake_clock.cc
  src/core/fake_clock_test.cc
  src/scheduler/scheduler.cc
  src/scheduler/scheduler_test.cc
  src/scheduler/scheduler_hardening_test.cc
  src/repository/model_repository.cc
  src/repository/traffic_router.cc
  src/repository/repository_poller.cc
  src/metrics/metrics.cc
  src/metrics/registry.cc
  src/metrics/process_metrics.cc
  src/metrics/inference_metrics.cc
  src/server/http/connection.cc
  src/server/http/http_server.cc
  src/server/http/tls_context.cc
)
/usr/bin/env python3 - "$BUILD/compile_commands.json" "${FILES[@]}" <<'PY'
import json, os, shlex, subprocess, sys
db = {os.path.realpath(e["file"]): e for e in json.load(open(sys.argv[1]))}
failed = 0
for f in sys.argv[2:]:
    entry = db.get(os.path.realpath(f))
    if entry is None:
        print(f"thread_safety: {f} is not in the build's compile_commands.json", file=sys.stderr)
        failed += 1
        continue
    args = shlex.split(entry["command"]) if "command" in entry else entry["arguments"]
    out = []
    skip = False
    for a in args[1:]:
        if skip:
            skip = False
            continue
        if a in ("-o", "-MF", "-MT", "-MQ"):
            skip = True
            continue
        if a in ("-c", "-MD", "-MMD") or a == entry["file"]:
            continue
        out.append(a)
    cmd = ["clang++", "-fsyntax-only", "-Wthread-safety", "-Wthread-safety-beta",
           "-Werror=thread-safety", "-Wno-unknown-warning-option", *out, entry["file"]]
    r = subprocess.run(cmd, cwd=entry["directory"], capture_output=True, text=True)
    errors = [l for l in r.stderr.splitlines() if "thread-safety" in l or "error:" in l]
    if r.returncode != 0:
        failed += 1
        print(f"thread_safety: {f}:\n" + "\n".join(errors[:40] or r.stderr.splitlines()[:40]), file=sys.stderr)
    else:
        print(f"   ok   {f}")
sys.exit(1 if failed else 0)
PY
