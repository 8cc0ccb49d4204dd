#!/usr/bin/python3
"""Automated performance-regression check for ptserve (see bench/regress/README.md).

Runs a fixed suite (models x batching off/on x concurrency) against a real ptserve, expresses
every result as a ratio that is stable across machines, compares the ratios with a committed
baseline, prints a table and exits 1 on a regression (0: all pass, 2: setup error).

  efficiency/M/MODE/cC  = server rows/s (ptserve-bench, KServe v2 binary, closed loop, C
                          connections) / in-process libtorch rows/s of the reference model file
                          (ptserve-inprocess-bench, same thread count) at the mean batch size the
                          server reported for that step (1 with batching off)
  batching_gain/M/cC    = server rows/s with dynamic batching on / off, C > 1

Stdlib only. Usage:
  bench/regress/regress.py [--short] [--build build] [--baseline FILE] [--tolerance T]
                           [--update-baseline] [--model-override NAME=DIR] [--out FILE]
                           [--retries N] [--repeat N] [--compare RESULT.json]
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLES = os.path.join(ROOT, "examples", "models")
DEFAULT_BASELINE = os.path.join(ROOT, "bench", "regress", "baseline.json")
DEFAULT_TOLERANCE = 0.25
MIN_DERIVED_TOLERANCE, MAX_DERIVED_TOLERANCE = 0.4, 0.6

# The suite's models (examples/models/NAME; inputs, dims and types come from its config.pbtxt).
MODELS = {
    "mlp": {"step_scale": 1.0},
    "digits": {"step_scale": 1.0},
    "resnet18": {"step_scale": 3.0},  # ~25 img/s on one thread: longer steps
}
SUITES = {
    # step_s: measured seconds per server step (3 windows); inproc_s: seconds per batch size.
    "short": {"models": ["mlp"], "concurrency": [1, 16], "step_s": 1.5, "inproc_s": 0.6},
    "full": {"models": ["mlp", "digits", "resnet18"], "concurrency": [1, 16, 64],
             "step_s": 2.0, "inproc_s": 1.0},
}
INTRA_OP_THREADS = 1      # server instance and in-process reference alike
QUEUE_DELAY_US = 500      # dynamic_batching in the "on" configuration
WARMUP_MS = 500           # unmeasured warm-up per server step


class SetupError(Exception):
    pass


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- config.pbtxt rewriting
# Through protobuf (tools/ptserve_config.py: the server's own schema).

sys.path.insert(0, os.path.join(ROOT, "tools"))
import ptserve_config  # noqa: E402


def _parse(config_text):
    try:
        return ptserve_config.loads(config_text)
    except ptserve_config.ConfigError as e:
        raise SetupError(f"cannot parse config.pbtxt: {e}") from None


def suite_config(source_text, name, batching):
    """The model's config with the suite's fixed serving settings: its own name, one instance
    with INTRA_OP_THREAD_COUNT threads, dynamic batching on (fixed queue delay) or off."""
    cfg = _parse(source_text)
    cfg.name = name
    for field in ("instance_group", "dynamic_batching", "sequence_batching"):
        cfg.ClearField(field)
    group = cfg.instance_group.add()
    group.count = 1
    group.kind = ptserve_config.pb2().ModelInstanceGroup.KIND_CPU
    ptserve_config.set_parameters(cfg, {"INTRA_OP_THREAD_COUNT": INTRA_OP_THREADS})
    if batching:
        cfg.dynamic_batching.max_queue_delay_microseconds = QUEUE_DELAY_US
    return ptserve_config.dumps(cfg)


def config_inputs(config_text):
    """(input names, dims of the first input, its datatype without TYPE_) from a config."""
    cfg = _parse(config_text)
    names = [i.name for i in cfg.input if i.name]
    dims = list(cfg.input[0].dims) if cfg.input else []
    if not names or not dims:
        raise SetupError("the model's config.pbtxt names no input with dims")
    dtype = "FP32"
    if cfg.input[0].data_type:
        dtype = ptserve_config.data_type_name(cfg.input[0].data_type).removeprefix("TYPE_")
    return names, dims, dtype


def config_parameters(config_text):
    """The config's `parameters` as KEY=VALUE, without the thread counts the suite fixes."""
    params = ptserve_config.parameters(_parse(config_text))
    return [f"{k}={v}" for k, v in sorted(params.items())
            if k not in ("INTRA_OP_THREAD_COUNT", "INTER_OP_THREAD_COUNT")]


def max_batch_size(config_text):
    return _parse(config_text).max_batch_size


def version_dirs(model_dir):
    return sorted((d for d in os.listdir(model_dir)
                   if d.isdigit() and os.path.isdir(os.path.join(model_dir, d))), key=int)


# ---------------------------------------------------------------- processes

class Server:
    def __init__(self, binary, repository, log_path):
        self.binary, self.repository, self.log_path = binary, repository, log_path
        self.proc, self.port = None, None

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def start(self, timeout=300):
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.binary, "--model-repository", self.repository, "--http-port", "0", "--grpc-port", "-1",
             "--management-port", "-1", "--max-queue-size", "4096"],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while True:
            text = self.log()
            if self.port is None:
                m = re.search(r"HTTP server listening on [^\s]+:(\d+)", text)
                if m:
                    self.port = int(m.group(1))
            if self.port is not None and "all models ready" in text:
                return
            if "some models failed" in text:
                raise SetupError("a model failed to load:\n" + text[-3000:])
            if self.proc.poll() is not None:
                raise SetupError("ptserve exited early:\n" + text[-3000:])
            if time.time() > deadline:
                raise SetupError("ptserve was not ready in time:\n" + text[-3000:])
            time.sleep(0.1)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._log.close()


def run_inprocess(binary, ref, batches, seconds):
    """ptserve-inprocess-bench on the reference model, declared with its config's inputs so
    ptserve's backend loads it as the server does (e.g. OPTIMIZE: frozen + optimised)."""
    names, dims, dtype = ref["inputs"]
    cmd = [binary, "--model", ref["path"], "--shape", ",".join(map(str, dims)),
           "--dtype", dtype, "--input-names", ",".join(names),
           *[a for kv in ref["params"] for a in ("--param", kv)],
           "--batch-sizes", ",".join(map(str, batches)), "--instances", "1",
           "--intra-op-threads", str(INTRA_OP_THREADS), "--seconds", str(seconds),
           "--warmup-seconds", str(max(0.2, seconds / 3))]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise SetupError(f"in-process bench failed ({' '.join(cmd)}):\n{p.stderr[-2000:]}")
    rows = {}
    for line in p.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            # Rows per second of one uncontended core: the batch over the median time per call.
            # (The mean rate, rows_per_s, drops with every preemption on a shared machine; the
            # median call of a short model is almost never preempted.)
            rows[int(r["batch"])] = int(r["batch"]) * 1e6 / float(r["p50_us"]) if r["p50_us"] else 0.0
    if sorted(rows) != sorted(batches) or min(rows.values()) <= 0:
        raise SetupError(f"in-process bench gave no result for every batch size:\n{p.stdout}")
    m = re.search(r"^serving: (.*)$", p.stderr, re.M)
    ref["serving"] = m.group(1) if m else ""
    return rows


def reference_rate(inproc, batch):
    """In-process rows/s at a (mean, fractional) batch size: time per call is interpolated
    linearly between the measured batch sizes; clamped to the measured range."""
    pts = sorted((b, b / r) for b, r in inproc.items())  # (batch, seconds per call)
    batch = min(max(batch, pts[0][0]), pts[-1][0])
    for (b0, t0), (b1, t1) in zip(pts, pts[1:]):
        if b0 <= batch <= b1:
            t = t0 + (t1 - t0) * (batch - b0) / (b1 - b0)
            return batch / t
    return batch / pts[0][1]


def cpu_seconds(pid):
    """User + system CPU time of a process (all its threads), from /proc/PID/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_step(binary, server, name, concurrency, step_s, tmpdir):
    """One closed-loop step; adds "server_cpus": the CPUs the server process used on average
    while the step ran (its CPU seconds / wall seconds)."""
    port = server.port
    out = os.path.join(tmpdir, f"{name}_c{concurrency}.json")
    window_ms = max(100, int(step_s * 1000 / 3))
    cmd = [binary, "-u", f"127.0.0.1:{port}", "-m", name, "--binary",
           "--concurrency-range", str(concurrency), "-p", str(window_ms), "-r", "3",
           "--warmup-ms", str(WARMUP_MS), "--timeout-ms", "60000", "--json", out]
    cpu0, t0 = cpu_seconds(server.proc.pid), time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    cpu1, t1 = cpu_seconds(server.proc.pid), time.monotonic()
    if not os.path.exists(out):
        raise SetupError(f"ptserve-bench failed (exit {p.returncode}): {' '.join(cmd)}\n"
                         f"{p.stderr[-2000:]}")
    with open(out) as f:
        step = json.load(f)["steps"][0]
    os.unlink(out)
    step["server_cpus"] = (cpu1 - cpu0) / (t1 - t0)
    return step


# ---------------------------------------------------------------- the suite

def measure_model(ctx, model):
    """One model: in-process reference before, server steps (off then on), reference after."""
    suite, spec = ctx["suite"], MODELS[model]
    step_s = suite["step_s"] * spec["step_scale"]
    concs = [c for c in suite["concurrency"]]
    top = max(1, min(ctx["max_batch"][model] or 1, max(concs)))
    batches = sorted({1} | {2 ** k for k in range(8) if 2 ** k <= top} | {top})
    ref = ctx["reference"][model]
    inproc_s = suite["inproc_s"] * spec["step_scale"]

    log(f"[{model}] in-process reference {os.path.relpath(ref['path'], ROOT)} batches {batches}")
    # Three in-process passes (before, between and after the server steps); the median per
    # batch size is the reference, so one pass disturbed by a neighbour does not move it.
    passes = [run_inprocess(ctx["inproc"], ref, batches, inproc_s)]
    steps = {}
    for mode in ("off", "on"):
        for c in concs:
            log(f"[{model}] server batching {mode}, concurrency {c}")
            steps[(mode, c)] = run_step(ctx["bench"], ctx["server"], f"{model}_{mode}", c,
                                        step_s, ctx["tmp"])
        passes.append(run_inprocess(ctx["inproc"], ref, batches, inproc_s))
    inproc = {b: statistics.median(p[b] for p in passes) for b in batches}

    metrics, raw = {}, []
    for (mode, c), s in steps.items():
        batch = float(s.get("server", {}).get("batch_size") or 1.0)
        ref_rate = reference_rate(inproc, batch)
        eff = s["throughput"] / ref_rate
        # Rows per CPU-second of the server process over rows per CPU-second in-process.
        cpus = s["server_cpus"]
        cpu_eff = s["throughput"] / cpus / ref_rate if cpus > 0 else 0.0
        metrics[f"efficiency/{model}/{mode}/c{c}"] = eff
        metrics[f"cpu_efficiency/{model}/{mode}/c{c}"] = cpu_eff
        errors = int(s.get("errors", {}).get("total", 0))
        if errors:
            metrics[f"errors/{model}/{mode}/c{c}"] = errors
        raw.append({"model": model, "batching": mode, "concurrency": c,
                    "throughput": s["throughput"], "p50_us": s["latency_us"]["p50"],
                    "p99_us": s["latency_us"]["p99"], "batch_size": batch,
                    "server_cpus": cpus, "inprocess_rows_per_s": ref_rate, "efficiency": eff,
                    "cpu_efficiency": cpu_eff, "errors": errors,
                    "requests_ok": s.get("requests_ok")})
    for c in concs:
        if c > 1:
            off, on = steps[("off", c)], steps[("on", c)]
            metrics[f"batching_gain/{model}/c{c}"] = (on["throughput"] / off["throughput"]
                                                     if off["throughput"] > 0 else 0.0)
    return {"metrics": metrics, "steps": raw,
            "inprocess": {str(b): [round(p[b], 1) for p in passes] for b in batches},
            "reference_serving": ref.get("serving", "")}


def setup(args, suite, tmp):
    bench = os.path.join(args.build, "bench", "ptserve-bench")
    inproc = os.path.join(args.build, "src", "backend", "ptserve-inprocess-bench")
    server_bin = os.path.join(args.build, "src", "server", "ptserve")
    for b in (bench, inproc, server_bin):
        if not os.access(b, os.X_OK):
            raise SetupError(f"missing {b}: build first (scripts/build.sh)")
    overrides = {}
    for o in args.model_override:
        name, sep, path = o.partition("=")
        if not sep or name not in MODELS:
            raise SetupError(f"--model-override wants NAME=DIR with NAME in {sorted(MODELS)}: {o}")
        overrides[name] = os.path.abspath(path)
    repo = os.path.join(tmp, "repo")
    os.makedirs(repo)
    reference, max_batch = {}, {}
    for model in suite["models"]:
        ref_dir = os.path.join(EXAMPLES, model)
        src_dir = overrides.get(model, ref_dir)
        for d in {ref_dir, src_dir}:
            if not os.path.isfile(os.path.join(d, "config.pbtxt")) or not version_dirs(d):
                raise SetupError(f"{d}: no config.pbtxt or version directory "
                                 "(run scripts/examples.sh)")
        ref_path = os.path.join(ref_dir, version_dirs(ref_dir)[-1], "model.pt")
        if not os.path.isfile(ref_path):
            raise SetupError(f"missing {ref_path}: run scripts/examples.sh")
        with open(os.path.join(ref_dir, "config.pbtxt")) as f:
            text = f.read()
        reference[model] = {"path": ref_path, "inputs": config_inputs(text),
                            "params": config_parameters(text)}
        with open(os.path.join(src_dir, "config.pbtxt")) as f:
            text = f.read()
        max_batch[model] = max_batch_size(text)
        for mode in ("off", "on"):
            d = os.path.join(repo, f"{model}_{mode}")
            os.makedirs(d)
            with open(os.path.join(d, "config.pbtxt"), "w") as f:
                f.write(suite_config(text, f"{model}_{mode}", mode == "on"))
            for v in version_dirs(src_dir):
                os.symlink(os.path.join(src_dir, v), os.path.join(d, v))
    server = Server(server_bin, repo, os.path.join(tmp, "ptserve.log"))
    return {"suite": suite, "bench": bench, "inproc": inproc, "server": server,
            "reference": reference, "max_batch": max_batch, "tmp": tmp, "overrides": overrides}


# ---------------------------------------------------------------- comparison and output

def load_baseline(path):
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise SetupError(f"cannot read baseline {path}: {e}")


def compare(metrics, baseline, cli_tolerance):
    base = (baseline or {}).get("metrics", {})
    per_metric = (baseline or {}).get("tolerances", {})
    default_tol = (baseline or {}).get("tolerance", DEFAULT_TOLERANCE)
    rows = []
    for name in sorted(metrics):
        measured = metrics[name]
        if name.startswith("errors/"):
            rows.append({"metric": name, "baseline": 0, "measured": measured, "ratio": None,
                         "tolerance": 0, "status": "FAIL"})
            continue
        tol = cli_tolerance if cli_tolerance is not None else per_metric.get(name, default_tol)
        b = base.get(name)
        if b is None:
            rows.append({"metric": name, "baseline": None, "measured": measured, "ratio": None,
                         "tolerance": tol, "status": "NEW"})
            continue
        ratio = measured / b if b else None
        status = "FAIL" if measured < b * (1 - tol) else "PASS"
        rows.append({"metric": name, "baseline": b, "measured": measured, "ratio": ratio,
                     "tolerance": tol, "status": status})
    return rows


def print_steps(steps):
    print(f"{'model':<9}{'batching':>9}{'conc':>5}{'rows/s':>9}{'p50 us':>8}{'p99 us':>8}"
          f"{'batch':>7}{'srv CPUs':>9}{'in-proc rows/s':>15}{'eff':>7}{'cpu eff':>8}{'errors':>7}")
    for s in steps:
        print(f"{s['model']:<9}{s['batching']:>9}{s['concurrency']:>5}{s['throughput']:>9.0f}"
              f"{s['p50_us']:>8.0f}{s['p99_us']:>8.0f}{s['batch_size']:>7.2f}"
              f"{s['server_cpus']:>9.2f}{s['inprocess_rows_per_s']:>15.0f}"
              f"{s['efficiency']:>7.3f}{s['cpu_efficiency']:>8.3f}{s['errors']:>7}")


def print_table(rows):
    print(f"{'metric':<32}{'baseline':>10}{'measured':>10}{'ratio':>8}{'floor':>8}  status")
    for r in rows:
        b = "-" if r["baseline"] is None else f"{r['baseline']:.3f}"
        m = f"{r['measured']:.3f}" if isinstance(r["measured"], float) else str(r["measured"])
        ratio = "-" if r["ratio"] is None else f"{r['ratio']:.2f}"
        floor = "-" if r["baseline"] is None else f"{1 - r['tolerance']:.2f}"
        print(f"{r['metric']:<32}{b:>10}{m:>10}{ratio:>8}{floor:>8}  {r['status']}")


def machine():
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            cpu = m.group(1) if m else ""
    except OSError:
        pass
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    return {"host": platform.node(), "cpu": cpu, "cpus": os.cpu_count(),
            "os": platform.platform(), "load_avg_1m": load}


def git_commit():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def derived_tolerance(values):
    """Tolerance for a metric from repeated measurements: twice the worst observed shortfall
    below the median, at least MIN_DERIVED_TOLERANCE and at most MAX_DERIVED_TOLERANCE, rounded
    up to 0.05."""
    med = statistics.median(values)
    shortfall = 1 - min(values) / med if med > 0 else 1
    tol = min(max(2 * shortfall, MIN_DERIVED_TOLERANCE), MAX_DERIVED_TOLERANCE)
    return round(-(-tol // 0.05) * 0.05, 2)


def write_baseline(path, metrics, samples, old, suite_name, argv):
    """Writes the measured metrics (the medians when repeated) into the baseline file, keeping
    metrics of other suites; with 3 or more repeats each metric also gets a tolerance derived
    from its spread."""
    data = dict(old or {})
    merged = dict(data.get("metrics", {}))
    tolerances = dict(data.get("tolerances", {}))
    for k, v in metrics.items():
        if k.startswith("errors/"):
            continue
        merged[k] = round(v, 4)
        if len(samples.get(k, [])) >= 3:
            tolerances[k] = derived_tolerance(samples[k])
        else:  # spread unknown: the loosest tolerance
            tolerances[k] = MAX_DERIVED_TOLERANCE
    data.setdefault("comment", "Baseline ratios for bench/regress/regress.py; see "
                    "bench/regress/README.md. Regenerate: bench/regress/regress.py "
                    "[--short] --update-baseline --repeat 5")
    data.setdefault("tolerance", DEFAULT_TOLERANCE)
    produced = dict(data.get("produced_by", {}))
    produced[suite_name] = {"date": datetime.datetime.now().isoformat(timespec="seconds"),
                            "command": " ".join(argv), "commit": git_commit(),
                            "machine": machine(),
                            "samples": {k: [round(x, 4) for x in v]
                                        for k, v in sorted(samples.items())}}
    if "date" in produced:   # the single-suite layout of an older file
        old_entry = {k: produced.pop(k) for k in list(produced) if k not in SUITES}
        produced.setdefault(old_entry.get("suite", "full"), old_entry)
    data["produced_by"] = dict(sorted(produced.items()))
    data["metrics"] = dict(sorted(merged.items()))
    data["tolerances"] = dict(sorted(tolerances.items()))
    order = ["comment", "tolerance", "tolerances", "metrics", "produced_by"]
    data = {k: data[k] for k in order + sorted(set(data) - set(order)) if k in data}
    with open(path, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


# ---------------------------------------------------------------- main

def measure(args, suite):
    tmp = tempfile.mkdtemp(prefix="ptserve-regress-")
    try:
        ctx = setup(args, suite, tmp)
        for name, d in ctx["overrides"].items():
            log(f"override: suite model '{name}' served from {d} "
                f"(in-process reference stays {os.path.relpath(ctx['reference'][name]['path'], ROOT)})")
        log("starting ptserve")
        ctx["server"].start()
        try:
            runs = {}   # model -> list of per-run results
            for model in suite["models"]:
                runs[model] = [measure_model(ctx, model) for _ in range(args.repeat)]
            return ctx, runs
        except BaseException:
            log("ptserve log tail:\n" + ctx["server"].log()[-2000:])
            raise
    finally:
        if "ctx" in locals():
            ctx["server"].stop()
        shutil.rmtree(tmp, ignore_errors=True)


def combine(results):
    """Median over repeats per metric; errors are summed."""
    names = {k for r in results for k in r["metrics"]}
    out = {}
    for k in names:
        vals = [r["metrics"][k] for r in results if k in r["metrics"]]
        out[k] = sum(vals) if k.startswith("errors/") else statistics.median(vals)
    return out


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--short", action="store_true", help="CI suite: mlp, c1 and c16, 1.5 s steps")
    ap.add_argument("--build", default=os.environ.get("PTSERVE_BUILD_DIR", os.path.join(ROOT, "build")))
    ap.add_argument("--baseline", default=DEFAULT_BASELINE)
    ap.add_argument("--tolerance", type=float, default=None,
                    help="fail when measured < baseline x (1 - T) (default: the baseline file's, "
                         f"else {DEFAULT_TOLERANCE})")
    ap.add_argument("--update-baseline", action="store_true",
                    help="write the measured ratios into the baseline file (no comparison)")
    ap.add_argument("--model-override", action="append", default=[], metavar="NAME=DIR",
                    help="serve the suite's NAME from model directory DIR (config.pbtxt + 1/); "
                         "the in-process reference stays examples/models/NAME")
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "regress", "result.json"))
    ap.add_argument("--retries", type=int, default=1,
                    help="re-measure a model whose metrics fail, keeping each metric's best "
                         "value (noise only slows a run down) (default 1)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="measure each model N times and use the median (for baselines)")
    ap.add_argument("--compare", metavar="RESULT.json",
                    help="compare a saved result with the baseline, measuring nothing")
    args = ap.parse_args(argv[1:])
    suite_name = "short" if args.short else "full"
    suite = SUITES[suite_name]
    args.build = os.path.abspath(args.build)
    started = time.time()
    try:
        baseline = load_baseline(args.baseline)
        if baseline is None and not args.update_baseline:
            raise SetupError(f"no baseline file {args.baseline} (make one with --update-baseline)")
        if args.compare:
            with open(args.compare) as f:
                saved = json.load(f)
            metrics, steps = saved["metrics"], saved.get("steps", [])
            result = saved
        else:
            ctx, runs = measure(args, suite)
            metrics = {}
            for model, results in runs.items():
                metrics.update(combine(results))
            rows = compare(metrics, baseline, args.tolerance)
            attempt = 0
            while (not args.update_baseline and attempt < args.retries
                   and any(r["status"] == "FAIL" for r in rows)):
                attempt += 1
                failing = sorted({r["metric"].split("/")[1] for r in rows if r["status"] == "FAIL"})
                log(f"retry {attempt}: re-measuring {', '.join(failing)} "
                    f"({', '.join(r['metric'] for r in rows if r['status'] == 'FAIL')} failed)")
                args2 = argparse.Namespace(**vars(args))
                args2.repeat = 1
                _, again = measure(args2, dict(suite, models=failing))
                for model, results in again.items():
                    runs[model] += results
                    for k, v in combine(results).items():
                        if k.startswith("errors/"):
                            continue
                        metrics[k] = max(metrics.get(k, v), v)
                    # errors only count if they happen again
                    for k in [k for k in metrics if k.startswith(f"errors/{model}/")]:
                        if k not in results[0]["metrics"]:
                            del metrics[k]
                rows = compare(metrics, baseline, args.tolerance)
            steps = [s for results in runs.values() for r in results for s in r["steps"]]
            result = {"suite": suite_name, "date": datetime.datetime.now().isoformat(timespec="seconds"),
                      "machine": machine(), "commit": git_commit(),
                      "overrides": ctx["overrides"], "metrics": metrics, "steps": steps,
                      "inprocess": {m: [r["inprocess"] for r in rs] for m, rs in runs.items()},
                      "reference_serving": {m: rs[0]["reference_serving"]
                                            for m, rs in runs.items()},
                      "settings": {"intra_op_threads": INTRA_OP_THREADS,
                                   "queue_delay_us": QUEUE_DELAY_US, **suite}}
    except SetupError as e:
        log(f"regress: setup error: {e}")
        return 2
    except Exception:  # a crash is not a regression: exit 2, not Python's 1
        import traceback
        traceback.print_exc()
        log("regress: internal error")
        return 2

    if steps:
        print_steps(steps)
        print()
    if args.update_baseline:
        samples = {}
        if not args.compare:
            for results in runs.values():
                for r in results:
                    for k, v in r["metrics"].items():
                        samples.setdefault(k, []).append(v)
        write_baseline(args.baseline, metrics, samples, baseline, suite_name, argv)
        print(f"baseline written: {args.baseline}")
        rows = compare(metrics, None, args.tolerance)
        print_table(rows)
        return 0
    rows = compare(metrics, baseline, args.tolerance)
    print_table(rows)
    failed = [r["metric"] for r in rows if r["status"] == "FAIL"]
    result["comparison"] = rows
    result["passed"] = not failed
    result["seconds"] = round(time.time() - started, 1)
    if not args.compare:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(result, f, indent=2)
        print(f"\nresult: {args.out}")
    secs = time.time() - started
    if failed:
        print(f"REGRESSION: {len(failed)} metric(s) below baseline x (1 - tolerance): "
              f"{', '.join(failed)}  ({secs:.0f} s)")
        return 1
    print(f"PASS: {len(rows)} metric(s) within tolerance of {args.baseline}  ({secs:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
