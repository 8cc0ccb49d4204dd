#!/usr/bin/env bash
# Self-tuning benchmark (issue "self-tuned throughput >= 95% of the best configuration an
# exhaustive sweep finds, for every example model, with the tuning time reported"), in one run on
# one machine. Per model (examples/models: mlp, digits, resnet18, text):
#  (a) sweep: every (instances n, intra-op threads t) with n*t <= nproc, t in {1, 2, 4, ...} and
#      nproc/n, and for a batched model (max_batch_size > 0) every batch size B in {1, 2, 4, ...}
#      up to min(max_batch_size, 64) (AUTOTUNE_MAX_BATCH; the tuner tries up to 64 too) as dynamic_batching { preferred_batch_size: [B] }: each
#      served by a fresh ptserve and measured at concurrency 64 (KServe v2 binary);
#  (b) ptserve-tune --write (offline) on a copy: its choice, its tuning time, what it wrote;
#  (c) side by side, in alternating order for ROUNDS rounds: the shipped config, the sweep's top
#      TOP configurations, and the model with parameter AUTOTUNE "true" (the server tunes at load;
#      its choice is read back from GET /v2/models/{m}/config).
# tuned/best = median tuned rows/s over the rounds / the best median among the top configurations
# (re-measured in (c), so neither the sweep's lucky noise nor machine drift decides it); PASS when
# >= 0.95. Every configuration gets its own server (a restart, not the management API).
#
# Usage: bench/autotune.sh [seconds-per-configuration] [model...]
#   AUTOTUNE_SECS (3)            measured seconds per sweep configuration (3 windows, after a
#                                window of the same length that is not counted), when not given
#   AUTOTUNE_MODELS              models when none are given (default: mlp digits resnet18 text)
#   AUTOTUNE_ROUNDS (2)          rounds of (c);  AUTOTUNE_TOP (2): sweep configurations in (c)
#   AUTOTUNE_FINAL_SCALE (2)     (c)'s windows are this many times longer than the sweep's
#   AUTOTUNE_RESNET18_SCALE (2)  and ResNet-18's (a batch of 32 takes about a second on 2 CPUs)
#   AUTOTUNE_CONCURRENCY (64)    closed-loop connections
#   AUTOTUNE_BUDGET_MS (3000)    --budget-ms of ptserve-tune and --autotune-budget-ms of ptserve
#   AUTOTUNE_P99_US              --p99-us / parameter AUTOTUNE_P99_US (default: none)
#   AUTOTUNE_SWEEP_ONLY=1        skip (b) and the tuned server (for binaries without the feature)
# About 20 minutes on 2 CPUs with the defaults (the sweep grows with nproc: 21 configurations
# per batched model on 2 CPUs, 90 on 8).
# Output: the CPU, then per model the sweep and the side-by-side table, then a summary
# (raw results in out/bench-autotune/: results.jsonl, every ptserve-bench JSON and its text
# output, each server's log and served config, ptserve-tune's output, the tables).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/server.sh
BUILD=${PTSERVE_BUILD_DIR:-build}
SECS=${AUTOTUNE_SECS:-3}
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then SECS=$1; shift; fi
if [ $# -gt 0 ]; then MODELS=("$@"); else read -ra MODELS <<< "${AUTOTUNE_MODELS:-mlp digits resnet18 text}"; fi
ROUNDS=${AUTOTUNE_ROUNDS:-2}
TOP=${AUTOTUNE_TOP:-2}
CONCURRENCY=${AUTOTUNE_CONCURRENCY:-64}
BUDGET_MS=${AUTOTUNE_BUDGET_MS:-3000}
P99_US=${AUTOTUNE_P99_US:-}
SWEEP_ONLY=${AUTOTUNE_SWEEP_ONLY:-0}
RESNET18_SCALE=${AUTOTUNE_RESNET18_SCALE:-2}
FINAL_SCALE=${AUTOTUNE_FINAL_SCALE:-2}
GOAL=0.95
MAX_SWEEP_BATCH=${AUTOTUNE_MAX_BATCH:-64}  # the tuner tries up to 64 too
CPUS=$(nproc)
OUT=out/bench-autotune
SERVER_BIN="$BUILD/src/server/ptserve"
BENCH="$BUILD/bench/ptserve-bench"
TUNE="$BUILD/src/server/ptserve-tune"

die() { echo "error: $*" >&2; exit 1; }

check_prerequisites() {
  if [ ! -x "$SERVER_BIN" ] || [ ! -x "$BENCH" ]; then
    die "build first: $SERVER_BIN or $BENCH is missing (scripts/build.sh)"
  fi
  local m
  for m in "${MODELS[@]}"; do
    [ -f "examples/models/$m/config.pbtxt" ] || die "no example model '$m' in examples/models"
    [ -f "examples/models/$m/1/model.pt" ] ||
      die "build first: examples/models/$m/1/model.pt is missing (scripts/examples.sh)"
  done
  if [ "$SWEEP_ONLY" != 1 ]; then
    [ -x "$TUNE" ] || die "build first: $TUNE is missing (scripts/build.sh; AUTOTUNE_SWEEP_ONLY=1 measures the fixed configurations only)"
    local help
    help=$("$SERVER_BIN" --help 2>&1 || true)
    [[ $help == *--autotune-budget-ms* ]] ||
      die "build first: $SERVER_BIN has no --autotune-budget-ms (AUTOTUNE_SWEEP_ONLY=1 measures the fixed configurations only)"
  fi
  py check || die "tools/ptserve_config.py cannot load (python3-protobuf and protoc needed: scripts/setup.sh)"
}

# ---------------------------------------------------------------- helpers in Python
TMP=$(mktemp -d)
SERVER="" READY_S=0 PORT=""
cleanup() {
  [ -n "$SERVER" ] && stop_server "$SERVER" 10
  # shellcheck disable=SC2046  # pids are words
  kill $(jobs -p) 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT
HELPER="$TMP/autotune_helper.py"
cat > "$HELPER" <<'PY'
"""bench/autotune.sh's config writing, parsing and tables (stdlib + tools/ptserve_config.py)."""
import json, os, re, statistics, sys
sys.path.insert(0, "tools")

def pc():
    import ptserve_config
    return ptserve_config

def label(n, t, b):
    """'2x1 b8': 2 instances x 1 intra-op thread, batches of at most 8 ('-' = not batched)."""
    return f"{n}x{t} b{b}"

def space(cpus, max_batch):
    """The sweep: every n x t <= cpus (t a power of two or cpus // n), and B = 1, 2, 4, ..."""
    batches = []
    b = 1
    while max_batch > 0 and b <= min(max_batch, MAX_SWEEP_BATCH):
        batches.append(b)
        b *= 2
    for n in range(1, cpus + 1):
        threads = {cpus // n}
        t = 1
        while n * t <= cpus:
            threads.add(t)
            t *= 2
        for t in sorted(threads):
            for b in batches or ["-"]:
                print(n, t, b)

def write_config(src, dst, spec, p99_us=""):
    """The shipped config with instance_group, INTRA_OP_THREAD_COUNT and preferred_batch_size
    replaced ("n t b"), or with parameter AUTOTUNE "true" ("autotune")."""
    m = pc()
    cfg = m.load(src)
    if spec == "autotune":
        m.set_parameters(cfg, {"AUTOTUNE": "true", "AUTOTUNE_P99_US": p99_us or None})
        m.save(cfg, dst, header="bench/autotune.sh: shipped config + AUTOTUNE")
        return
    n, t, b = spec.split()
    del cfg.instance_group[:]
    group = cfg.instance_group.add()
    group.count = int(n)
    group.kind = m.pb2().ModelInstanceGroup.KIND_CPU
    m.set_parameters(cfg, {"INTRA_OP_THREAD_COUNT": t, "AUTOTUNE": None, "AUTOTUNE_P99_US": None})
    if b != "-":
        # The model's own dynamic_batching (queue delay etc.) is kept; only the batch changes.
        del cfg.dynamic_batching.preferred_batch_size[:]
        cfg.dynamic_batching.preferred_batch_size.append(int(b))
    m.save(cfg, dst, header=f"bench/autotune.sh: {label(n, t, b)}")

def describe(path):
    """'n t b' of a served config (GET /v2/models/{m}/config, JSON) or a config.pbtxt: t 'auto'
    when the config sets no INTRA_OP_THREAD_COUNT; b the largest preferred batch size, '<=max'
    without one, '-' when the model does not batch (or dynamic batching is off)."""
    if path.endswith(".pbtxt"):
        c = pc().to_dict(pc().load(path))
    else:
        c = json.load(open(path))
    n = sum(int(g.get("count", 1)) or 1 for g in c.get("instance_group", [])) or 1
    t = c.get("parameters", {}).get("INTRA_OP_THREAD_COUNT", {}).get("string_value") or "auto"
    db = c.get("dynamic_batching")
    if not int(c.get("max_batch_size", 0)) or db is None:
        b = "-"
    elif db.get("preferred_batch_size"):
        b = str(max(int(x) for x in db["preferred_batch_size"]))
    else:
        b = f"<={c['max_batch_size']}"
    print(n, t, b)

def record(jsonl, bench_json, *fields):
    """Appends one measurement to results.jsonl and prints it."""
    model, phase, rnd, role, n, t, b, ready_s, extra = fields
    row = {"model": model, "phase": phase, "round": int(rnd), "role": role, "instances": n,
           "threads": t,
           "batch": b, "config": label(n, t, b), "ready_s": float(ready_s), "bench": bench_json}
    if extra:
        row.update(json.loads(extra))
    try:
        s = json.load(open(bench_json))["steps"][0]
        row.update(rows_per_s=s["throughput"], p99_us=s["latency_us"]["p99"],
                   mean_batch=s.get("server", {}).get("batch_size", 0),
                   errors=s["errors"]["total"])
    except (OSError, ValueError, KeyError, IndexError):
        row.update(rows_per_s=0.0, failed=True)
    with open(jsonl, "a") as f:
        f.write(json.dumps(row) + "\n")
    if row.get("failed"):
        print(f"   {phase:<8} {row['config']:<16} FAILED (see {bench_json} and the server log)")
    else:
        print(f"   {phase:<8} {row['config']:<16} {row['rows_per_s']:>9.1f} rows/s  p99 "
              f"{row['p99_us'] / 1000:>7.1f} ms  batch {row['mean_batch']:>5.1f}  ready "
              f"{row['ready_s']:>5.1f} s  other CPUs {row.get('other_cpus', 0):.1f}"
              + (f"  errors {row['errors']}" if row["errors"] else ""))

def cpu_snapshot(pid):
    """'time busy_ticks server_ticks': the machine's busy CPU time and the server's, now."""
    import time
    busy = sum(int(x) for i, x in enumerate(open("/proc/stat").readline().split()[1:9])
               if i not in (3, 4))  # all but idle and iowait
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    print(time.time(), busy, int(fields[11]) + int(fields[12]))

def cpu_other(snapshot, pid, bench_json, extra):
    """extra (JSON) with other_cpus: the CPUs that processes other than the server and
    ptserve-bench used since the snapshot (another build on the machine, for instance)."""
    import io, contextlib, time
    t0, busy0, srv0 = (float(x) for x in snapshot.split())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        cpu_snapshot(pid)
    t1, busy1, srv1 = (float(x) for x in out.getvalue().split())
    hz = os.sysconf("SC_CLK_TCK")
    wall = max(t1 - t0, 1e-3)
    try:
        client = json.load(open(bench_json))["steps"][0]["client_cpu"] * wall
    except (OSError, ValueError, KeyError, IndexError):
        client = 0.0
    row = json.loads(extra)
    row["other_cpus"] = round(max(0.0, ((busy1 - busy0) - (srv1 - srv0)) / hz - client) / wall, 2)
    print(json.dumps(row))

def chosen(tune_output):
    """'n t b rows_per_s tuning_s' from ptserve-tune's last 'chosen:' line."""
    lines = [l for l in open(tune_output).read().splitlines() if l.startswith("chosen:")]
    if not lines:
        sys.exit(f"no 'chosen:' line in {tune_output}")
    kv = dict(re.findall(r"(\w+)=(\S+)", lines[-1]))
    print(kv["instances"], kv["intra_op_threads"], kv["batch"], kv["rows_per_s"], kv["tuning_s"])

def top(jsonl, model, k):
    """The k best sweep configurations of a model, 'n t b' per line."""
    rows = [r for r in load(jsonl) if r["model"] == model and r["phase"] == "sweep"
            and not r.get("failed")]
    for r in sorted(rows, key=lambda r: -r["rows_per_s"])[:int(k)]:
        print(r["instances"], r["threads"], r["batch"])

def load(jsonl):
    return [json.loads(l) for l in open(jsonl)] if os.path.exists(jsonl) else []

def med(rows):
    return statistics.median(r["rows_per_s"] for r in rows) if rows else 0.0

def sweep_table(jsonl, model):
    rows = [r for r in load(jsonl) if r["model"] == model and r["phase"] == "sweep"]
    print(f"\n{model}: sweep, best first")
    print(f"  {'config':<14}{'rows/s':>10}{'p99 ms':>9}{'batch':>7}{'ready s':>9}{'other':>7}")
    for r in sorted(rows, key=lambda r: -r["rows_per_s"]):
        if r.get("failed"):
            print(f"  {r['config']:<14}{'FAILED':>10}")
            continue
        print(f"  {r['config']:<14}{r['rows_per_s']:>10.1f}{r['p99_us'] / 1000:>9.1f}"
              f"{r['mean_batch']:>7.1f}{r['ready_s']:>9.1f}{r.get('other_cpus', 0):>7.1f}"
              + ("  errors" if r["errors"] else ""))
    over = [r for r in rows if not r.get("failed") and r["batch"].isdigit()
            and r["mean_batch"] > int(r["batch"]) + 0.5]
    if over:
        print(f"  note: in {len(over)} of {len(rows)} configurations the server's batches were larger"
              " than B on average: preferred_batch_size did not bound them")

def verdict(jsonl, model):
    """The model's numbers: default, sweep best, the best re-measured, tuned, ratios."""
    rows = [r for r in load(jsonl) if r["model"] == model]
    final = [r for r in rows if r["phase"] == "final"]
    sweep = [r for r in rows if r["phase"] == "sweep" and not r.get("failed")]
    by_config = {}
    for r in final:
        if r["role"] == "top":
            by_config.setdefault(r["config"], []).append(r)
    best_config, best_rows = max(by_config.items(), key=lambda kv: med(kv[1]),
                                 default=(None, []))
    sweep_best = max(sweep, key=lambda r: r["rows_per_s"], default=None)
    default = [r for r in final if r["role"] == "default"]
    tuned = [r for r in final if r["role"] == "tuned"]
    tool = [r for r in rows if r["phase"] == "tool"]
    v = {"model": model, "configs": len(sweep),
         "default_config": default[0]["config"] if default else "-", "default": med(default),
         "default_ready_s": statistics.median(r["ready_s"] for r in default) if default else 0,
         "sweep_best_config": sweep_best["config"] if sweep_best else "-",
         "sweep_best": sweep_best["rows_per_s"] if sweep_best else 0.0,
         "best_config": best_config or "-", "best": med(best_rows),
         "best_rounds": best_rows, "default_rounds": default, "tuned_rounds": tuned,
         "other_max": max((r.get("other_cpus", 0) for r in final), default=0),
         "tuned_configs": sorted({r["config"] for r in tuned}), "tuned": med(tuned),
         "tuned_ready_s": statistics.median(r["ready_s"] for r in tuned) if tuned else 0,
         "server_tuning_s": [r["server_tuning_s"] for r in tuned if r.get("server_tuning_s")],
         "tool_config": tool[0]["config"] if tool else "-",
         "tool_rows_per_s": tool[0]["tool_rows_per_s"] if tool else 0,
         "tool_tuning_s": tool[0]["tuning_s"] if tool else 0,
         "tool_wall_s": tool[0]["wall_s"] if tool else 0,
         "tool_write": tool[0].get("write", "-") if tool else "-"}
    # The tuning at load, as the server's time until ready beyond the shipped config's.
    v["load_extra_s"] = v["tuned_ready_s"] - v["default_ready_s"] if tuned and default else None
    v["ratio"] = v["tuned"] / v["best"] if v["best"] and tuned else None
    v["vs_default"] = v["tuned"] / v["default"] if v["default"] and tuned else None
    v["status"] = "-" if v["ratio"] is None else ("PASS" if v["ratio"] >= GOAL else "MISS")
    return v

def rounds(rows):
    """Each round's rows/s, with the CPUs other processes used meanwhile: '16785 (0.3)'."""
    return " ".join(f"{r['rows_per_s']:.0f} ({r.get('other_cpus', 0):.1f})" for r in rows)

def model_table(jsonl, model):
    v = verdict(jsonl, model)
    print(f"\n{model}: side by side, rows/s: the median, then each round's (CPUs other processes"
          " used meanwhile)")
    print(f"  {'default (shipped)':<22}{v['default_config']:<14}{v['default']:>10.1f}   "
          f"{rounds(v['default_rounds'])}   ready {v['default_ready_s']:.1f} s")
    print(f"  {'exhaustive best':<22}{v['best_config']:<14}{v['best']:>10.1f}   "
          f"{rounds(v['best_rounds'])}   (sweep: {v['sweep_best_config']} "
          f"{v['sweep_best']:.1f} of {v['configs']} configurations)")
    if v["tuned_rounds"]:
        srv = (f", its log: tuning_s={'/'.join(str(s) for s in v['server_tuning_s'])}"
               if v["server_tuning_s"] else "")
        print(f"  {'tuned (AUTOTUNE)':<22}{','.join(v['tuned_configs']):<14}{v['tuned']:>10.1f}   "
              f"{rounds(v['tuned_rounds'])}   ready {v['tuned_ready_s']:.1f} s "
              f"({v['load_extra_s']:+.1f} s against the shipped config{srv})")
        print(f"  {'ptserve-tune':<22}{v['tool_config']:<14}{float(v['tool_rows_per_s']):>10.1f}   "
              f"(in-process)  tuning_s {v['tool_tuning_s']}, wall {v['tool_wall_s']} s, "
              f"--write {v['tool_write']}")
        print(f"  tuned/best {v['ratio']:.3f} {v['status']} (goal {GOAL}); "
              f"tuned/default {v['vs_default']:.2f}x")

def summary(jsonl, *models):
    print(f"\n{'model':<10}{'default':>9} {'best config':<13}{'best':>9} {'tuned config':<17}"
          f"{'tuned':>9}{'tune s':>8}{'+load s':>8}{'tuned/best':>11}{'vs default':>11}{'other':>6}"
          f"  goal {GOAL}")
    for model in models:
        v = verdict(jsonl, model)
        ratio = f"{v['ratio']:.3f}" if v["ratio"] is not None else "-"
        vs = f"{v['vs_default']:.2f}x" if v["vs_default"] is not None else "-"
        load = f"{v['load_extra_s']:+.1f}" if v["load_extra_s"] is not None else "-"
        print(f"{model:<10}{v['default']:>9.1f} {v['best_config']:<13}{v['best']:>9.1f} "
              f"{','.join(v['tuned_configs']) or '-':<17}{v['tuned']:>9.1f}"
              f"{str(v['tool_tuning_s'] or '-'):>8}{load:>8}{ratio:>11}{vs:>11}{v['other_max']:>6.1f}"
              f"  {v['status']}")
    print("(rows/s: medians of the side-by-side rounds; tune s: ptserve-tune's tuning_s; +load s:"
          " the AUTOTUNE server's time until ready beyond the shipped config's; other: the most CPUs"
          " that other processes used during a side-by-side measurement)")

MAX_SWEEP_BATCH = int(os.environ.get("MAX_SWEEP_BATCH", "64"))
GOAL = float(os.environ.get("GOAL", "0.95"))

if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "check":
        pc().pb2()
    elif cmd == "max_batch":
        print(pc().load(args[0]).max_batch_size)
    elif cmd == "space":
        space(int(args[0]), int(args[1]))
    else:
        {"config": write_config, "describe": describe, "record": record, "chosen": chosen,
         "top": top, "cpu_snapshot": cpu_snapshot, "cpu_other": cpu_other, "sweep_table": sweep_table, "model_table": model_table,
         "summary": summary}[cmd](*args)
PY
py() { MAX_SWEEP_BATCH=$MAX_SWEEP_BATCH GOAL=$GOAL /usr/bin/python3 "$HELPER" "$@"; }

# ---------------------------------------------------------------- serving and measuring
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# make_repo MODEL SPEC: $TMP/repo with only MODEL, its config from SPEC ("n t b", "autotune",
# or "default": the shipped file). The version directory is a symlink, as in bench/latency.sh
# (the server resolves it; only model files themselves must not be symlinks out of it).
make_repo() {
  local model=$1 spec=$2 dir="$TMP/repo/$1"
  rm -rf "$TMP/repo"; mkdir -p "$dir"
  ln -s "$PWD/examples/models/$model/1" "$dir/1"
  if [ "$spec" = default ]; then
    cp "examples/models/$model/config.pbtxt" "$dir/config.pbtxt"
  else
    py config "examples/models/$model/config.pbtxt" "$dir/config.pbtxt" "$spec" "$P99_US"
  fi
}

# serve LOG [FLAG...]: a ptserve on $TMP/repo, ready; sets SERVER, PORT, READY_S (0 on failure).
serve() {
  local log=$1 t0 PORTS=(); shift
  port_args PORTS
  t0=$(now)
  start_server "$log" "$SERVER_BIN" --model-repository "$TMP/repo" --grpc-port -1 "${PORTS[@]}" "$@"
  SERVER=$SERVER_PID
  if ! wait_ready "$SERVER" "$log"; then SERVER=""; READY_S=0; return 1; fi
  READY_S=$(since "$t0")
  PORT=$SERVER_PORT
}

unserve() { [ -n "$SERVER" ] && stop_server "$SERVER"; SERVER=""; }

# The inputs the other benches send (bench/pytorch2.sh for text; generated ones otherwise).
model_inputs() {
  case $1 in
    text) echo "--shape input_ids:16 --shape attention_mask:16 --input-data zero" ;;
    *) echo "" ;;
  esac
}

# bench MODEL PHASE JSON: closed loop at $CONCURRENCY on the running server: 4 windows, the
# first not counted. ptserve-bench counts only requests sent after its warm-up, so for about one
# latency (seconds for ResNet-18 at concurrency 64) the first window sees few completions;
# --stability-percentage -1 runs every window and reports the last 3.
bench() {
  local model=$1 phase=$2 json=$3 ms=$((SECS * 1000 / 3))
  [ "$model" = resnet18 ] && ms=$((ms * RESNET18_SCALE))
  [ "$phase" = final ] && ms=$((ms * FINAL_SCALE))
  # shellcheck disable=SC2046  # model_inputs are words
  "$BENCH" -u "localhost:$PORT" -m "$model" --binary --concurrency-range "$CONCURRENCY" \
    -p "$ms" -r 4 --stability-percentage=-1 --warmup-ms 500 --timeout-ms 120000 --json "$json" \
    $(model_inputs "$model") > "$json.txt" 2>&1 || true
}

# measure MODEL PHASE ROUND ROLE SPEC: serve SPEC, measure, record (ROLE: default, top or tuned
# in the side-by-side rounds).
measure() {
  local model=$1 phase=$2 round=$3 role=$4 spec=$5 name n='?' t='?' b='?' extra='{}' flags=() snap
  name="$model-$phase-r$round-$role-${spec// /_}"
  [ "$spec" = autotune ] && flags=(--autotune-budget-ms "$BUDGET_MS")
  make_repo "$model" "$spec"
  rm -f "$OUT/$name.json"
  if serve "$OUT/$name.log" "${flags[@]}"; then
    curl -sf "localhost:$PORT/v2/models/$model/config" > "$OUT/$name.config.json"
    read -r n t b <<< "$(py describe "$OUT/$name.config.json")"
    extra=$(server_tuning_json "$OUT/$name.log")
    snap=$(py cpu_snapshot "$SERVER")
    bench "$model" "$phase" "$OUT/$name.json"
    extra=$(py cpu_other "$snap" "$SERVER" "$OUT/$name.json" "$extra")
    unserve
  elif [[ $spec =~ ^[0-9] ]]; then
    read -r n t b <<< "$spec"
  fi
  py record "$OUT/results.jsonl" "$OUT/$name.json" "$model" "$phase" "$round" "$role" \
    "$n" "$t" "$b" "$READY_S" "$extra"
}

# The server's own tuning time, if its log says 'tuning_s=S' (or 'tuning S s'): JSON.
server_tuning_json() {
  local s
  s=$(grep -o -E 'tuning_s=[0-9.]+' "$1" | tail -n 1 | cut -d= -f2 || true)
  if [ -n "$s" ]; then echo "{\"server_tuning_s\": $s}"; else echo "{}"; fi
}

# ---------------------------------------------------------------- the phases
sweep() {  # model
  local model=$1 max_batch specs spec
  max_batch=$(py max_batch "examples/models/$model/config.pbtxt")
  mapfile -t specs < <(py space "$CPUS" "$max_batch")
  echo "== $model: sweep of ${#specs[@]} configurations (max_batch_size $max_batch)"
  for spec in "${specs[@]}"; do
    measure "$model" sweep 0 sweep "$spec"
  done
}

# offline_tune MODEL: ptserve-tune --write on a copy of the shipped config; its choice, its
# tuning time, and whether --write kept the old file and wrote the choice.
offline_tune() {
  local model=$1 dir="$TMP/repo/$1" t0 wall chosen n t b rows tuning written write=ok problems=()
  echo "== $model: ptserve-tune --budget-ms $BUDGET_MS --cpus $CPUS${P99_US:+ --p99-us $P99_US} --write"
  make_repo "$model" default
  t0=$(now)
  if ! "$TUNE" --model-repository "$TMP/repo" --model "$model" --budget-ms "$BUDGET_MS" \
      --cpus "$CPUS" ${P99_US:+--p99-us "$P99_US"} --write > "$OUT/$model-tune.txt" 2>&1; then
    echo "   ptserve-tune failed:"; tail -n 20 "$OUT/$model-tune.txt"; return 0
  fi
  wall=$(since "$t0")
  if ! chosen=$(py chosen "$OUT/$model-tune.txt"); then
    echo "   ptserve-tune printed no 'chosen:' line:"; tail -n 20 "$OUT/$model-tune.txt"; return 0
  fi
  read -r n t b rows tuning <<< "$chosen"
  [ "$b" = 0 ] && b=-
  cp "$dir/config.pbtxt" "$OUT/$model-tune-written.pbtxt" 2>/dev/null || true
  cmp -s "$dir/config.pbtxt.bak" "examples/models/$model/config.pbtxt" ||
    problems+=("config.pbtxt.bak is not the shipped file")
  written=$(py describe "$dir/config.pbtxt" 2>/dev/null) || written="(unreadable)"
  [ "$written" = "$n $t $b" ] || problems+=("config.pbtxt has '$written'")
  [ ${#problems[@]} = 0 ] || write=$(IFS=';'; echo "${problems[*]}")
  echo "   chosen: ${n}x$t b$b, $rows rows/s in-process, tuning_s $tuning (wall $wall s); --write: $write"
  printf '{"model": "%s", "phase": "tool", "round": 0, "instances": "%s", "threads": "%s", "batch": "%s", "config": "%sx%s b%s", "tool_rows_per_s": "%s", "tuning_s": "%s", "wall_s": "%s", "write": "%s", "rows_per_s": 0}\n' \
    "$model" "$n" "$t" "$b" "$n" "$t" "$b" "$rows" "$tuning" "$wall" "$write" >> "$OUT/results.jsonl"
}

# side_by_side MODEL: ROUNDS rounds of default, the sweep's top TOP, tuned; order reversed in
# every other round.
side_by_side() {
  local model=$1 round specs=() spec i
  specs+=("default default")
  while read -r spec; do specs+=("top $spec"); done < <(py top "$OUT/results.jsonl" "$model" "$TOP")
  [ "$SWEEP_ONLY" = 1 ] || specs+=("tuned autotune")
  echo "== $model: side by side, $ROUNDS rounds of ${#specs[@]}"
  for round in $(seq 1 "$ROUNDS"); do
    for i in "${!specs[@]}"; do
      [ $((round % 2)) = 0 ] && i=$((${#specs[@]} - 1 - i))
      spec=${specs[$i]}
      measure "$model" final "$round" "${spec%% *}" "${spec#* }"
    done
  done
}

# Copies of the binaries, so that a rebuild during the run does not change what is measured.
snapshot_binaries() {
  mkdir -p "$TMP/bin"
  cp "$SERVER_BIN" "$BENCH" "$TMP/bin/"
  echo "ptserve: $SERVER_BIN of $(date -r "$SERVER_BIN" '+%F %T')"
  SERVER_BIN="$TMP/bin/ptserve" BENCH="$TMP/bin/ptserve-bench"
  if [ "$SWEEP_ONLY" != 1 ]; then cp "$TUNE" "$TMP/bin/"; TUNE="$TMP/bin/ptserve-tune"; fi
}

# ---------------------------------------------------------------- main
check_prerequisites
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt "$OUT"/*.log "$OUT"/*.pbtxt "$OUT/results.jsonl"
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')"
echo "nproc: $CPUS   models: ${MODELS[*]}   $SECS s per configuration (resnet18 x$RESNET18_SCALE)," \
  "concurrency $CONCURRENCY, side by side: $ROUNDS rounds, top $TOP$([ "$SWEEP_ONLY" = 1 ] && echo ', SWEEP ONLY (no tuning)')"
snapshot_binaries
START=$SECONDS
for model in "${MODELS[@]}"; do
  sweep "$model"
  [ "$SWEEP_ONLY" = 1 ] || offline_tune "$model"
  side_by_side "$model"
  py sweep_table "$OUT/results.jsonl" "$model" > "$OUT/$model-table.txt"
  py model_table "$OUT/results.jsonl" "$model" >> "$OUT/$model-table.txt"
done
for model in "${MODELS[@]}"; do cat "$OUT/$model-table.txt"; done
py summary "$OUT/results.jsonl" "${MODELS[@]}" | tee "$OUT/summary.txt"
echo "($((SECONDS - START)) s; raw results in $OUT/)"
