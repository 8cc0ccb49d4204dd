"""End-to-end tests of the benchmark tools against a real ptserve: the seed's Locust user,
ptserve-bench (closed and open loop, JSON/CSV/HTML output) and the performance-regression check
bench/regress/regress.py (its comparison logic, and that it fails on a deliberately slowed
server)."""
import csv
import html.parser
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from ptserve_harness import BUILD, EXAMPLES, ROOT, Server, make_repository  # noqa: E402

BENCH = os.path.join(BUILD, "bench", "ptserve-bench")
INPROC = os.path.join(BUILD, "src", "backend", "ptserve-inprocess-bench")
REGRESS = os.path.join(ROOT, "bench", "regress", "regress.py")
LOCUSTFILE = os.path.join(ROOT, "bench", "locust", "locustfile.py")
TORCH_PYTHON = "/usr/bin/python3"

needs_bench = pytest.mark.skipif(not os.access(BENCH, os.X_OK),
                                 reason=f"{BENCH} not built (PTSERVE_BUILD_BENCH)")


@pytest.fixture(scope="module")
def mlp_server():
    repo = make_repository(["mlp"])
    try:
        with Server(repository=repo) as s:
            yield s
    finally:
        shutil.rmtree(repo, ignore_errors=True)


# ---------------------------------------------------------------- Locust

def test_locust_seed_user_has_no_failures(mlp_server, tmp_path):
    locust = shutil.which("locust")
    if not locust:
        pytest.skip("locust not installed (Debian: apt-get install python3-locust)")
    prefix = str(tmp_path / "locust")
    p = subprocess.run(
        [locust, "-f", LOCUSTFILE, "--headless", "-u", "50", "-r", "25", "-t", "20s",
         "--host", f"http://127.0.0.1:{mlp_server.port}", "--only-summary", "--csv", prefix],
        capture_output=True, text=True, timeout=120, cwd=str(tmp_path))
    out = p.stdout + p.stderr
    with open(prefix + "_stats.csv", newline="") as f:
        rows = {r["Name"]: r for r in csv.DictReader(f)}
    agg = rows["Aggregated"]
    assert int(agg["Request Count"]) > 0, out[-3000:]
    assert int(agg["Failure Count"]) == 0, out[-3000:]
    assert "/predict" in rows, rows.keys()
    # ~50 users at 0.5-2 s waits for ~20 s (ramp-up 2 s): several hundred requests
    assert int(agg["Request Count"]) >= 200, out[-3000:]
    assert p.returncode == 0, out[-3000:]


# ---------------------------------------------------------------- ptserve-bench

def run_bench(server, tmp_path, name, *args):
    js = tmp_path / f"{name}.json"
    cmd = [BENCH, "-u", f"127.0.0.1:{server.port}", "--warmup-ms", "300", "-p", "700", "-r", "3",
           "--json", str(js)] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    with open(js) as f:
        return json.load(f), p.stdout


def check_step(step):
    assert step["errors"]["total"] == 0, step["errors"]
    assert step["throughput"] > 0
    assert step["requests_ok"] > 0
    lat = step["latency_us"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]


@needs_bench
def test_bench_closed_loop_predict(mlp_server, tmp_path):
    out, text = run_bench(mlp_server, tmp_path, "predict", "--endpoint", "predict",
                          "--concurrency-range", "4")
    assert out["endpoint"] == "predict" and out["mode"] == "concurrency"
    (step,) = out["steps"]
    assert step["concurrency"] == 4
    check_step(step)
    # ptserve reports its queue/compute time and batch size in headers; the bench averages them
    assert step["server"]["batch_size"] >= 1
    assert step["server"]["compute_us"] > 0


@needs_bench
def test_bench_closed_loop_binary_csv_and_report(mlp_server, tmp_path):
    csv_path, report = tmp_path / "binary.csv", tmp_path / "binary.html"
    out, _ = run_bench(mlp_server, tmp_path, "binary", "-m", "mlp", "--binary",
                       "--concurrency-range", "4", "-f", str(csv_path), "--report", str(report))
    assert out["model"] == "mlp" and out["binary"] is True
    (step,) = out["steps"]
    check_step(step)
    assert step["server"]["batch_size"] >= 1

    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    for col in ["Concurrency", "Inferences/Second", "Client Send", "Network+Server Send/Recv",
                "Server Queue", "Server Compute Infer", "Client Recv", "p50 latency",
                "p90 latency", "p95 latency", "p99 latency", "p99.9 latency", "Max latency",
                "Avg latency", "Batch Size", "Successes", "Errors", "Stable"]:
        assert col in rows[0], (col, list(rows[0]))
    assert int(rows[0]["Concurrency"]) == 4
    assert float(rows[0]["Inferences/Second"]) > 0
    assert int(rows[0]["Errors"]) == 0
    assert int(float(rows[0]["Successes"])) == step["requests_ok"]

    check_html_report(report)


class _Tags(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.count, self.text = {}, []

    def handle_starttag(self, tag, attrs):
        self.count[tag] = self.count.get(tag, 0) + 1

    def handle_data(self, data):
        self.text.append(data)


def check_html_report(path):
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    parser = _Tags()
    parser.feed(doc)
    parser.close()
    assert parser.count.get("html") == 1 and parser.count.get("body") == 1, parser.count
    assert parser.count.get("svg", 0) >= 2, parser.count   # sweep chart + per-step heat map
    assert parser.count.get("table", 0) >= 1, parser.count
    # self-contained: no scripts, no external resources
    assert "script" not in parser.count and "link" not in parser.count, parser.count
    assert not re.search(r"""(src|href)\s*=\s*["']?https?:""", doc)


@needs_bench
def test_bench_open_loop_poisson(mlp_server, tmp_path):
    csv_path = tmp_path / "open.csv"
    out, _ = run_bench(mlp_server, tmp_path, "open", "-m", "mlp", "--binary",
                       "--request-rate-range", "200", "--request-distribution", "poisson",
                       "-f", str(csv_path), "--report", str(tmp_path / "open.html"))
    assert out["mode"] != "concurrency"
    (step,) = out["steps"]
    check_step(step)
    # ~420 Poisson arrivals in 2.1 s: the achieved rate is the offered one, within noise
    assert 100 < step["throughput"] < 300, step["throughput"]
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert "Request Rate" in rows[0] and "p99 latency" in rows[0], list(rows[0])
    check_html_report(tmp_path / "open.html")


# ---------------------------------------------------------------- bench/regress

def run_regress(*args, timeout=300):
    p = subprocess.run([TORCH_PYTHON, REGRESS] + list(args), capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    return p.returncode, p.stdout, p.stderr


def test_regress_compare_logic(tmp_path):
    """--compare re-checks a saved result: pass, a regression (exit 1, named), a missing
    baseline (exit 2); metrics without a baseline are NEW and do not fail."""
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({
        "tolerance": 0.25, "tolerances": {"efficiency/mlp/on/c16": 0.5},
        "metrics": {"efficiency/mlp/off/c1": 0.40, "efficiency/mlp/on/c16": 0.20,
                    "batching_gain/mlp/c16": 1.5}}))

    def result(metrics):
        path = tmp_path / "result.json"
        path.write_text(json.dumps({"metrics": metrics, "steps": []}))
        return str(path)

    ok = result({"efficiency/mlp/off/c1": 0.31, "efficiency/mlp/on/c16": 0.11,
                 "batching_gain/mlp/c16": 1.9, "cpu_efficiency/mlp/off/c1": 0.5})
    rc, out, err = run_regress("--compare", ok, "--baseline", str(baseline))
    assert rc == 0, out + err
    assert "NEW" in out and "PASS" in out

    bad = result({"efficiency/mlp/off/c1": 0.29, "efficiency/mlp/on/c16": 0.11,
                  "batching_gain/mlp/c16": 1.5})
    rc, out, err = run_regress("--compare", bad, "--baseline", str(baseline))
    assert rc == 1, out + err
    (line,) = [l for l in out.splitlines() if l.startswith("efficiency/mlp/off/c1")]
    assert line.split()[-1] == "FAIL"
    assert "REGRESSION" in out and "efficiency/mlp/off/c1" in out.splitlines()[-1]

    # --tolerance overrides the file's
    rc, out, err = run_regress("--compare", bad, "--baseline", str(baseline), "--tolerance", "0.5")
    assert rc == 0, out + err

    # server errors always fail
    errs = result({"efficiency/mlp/off/c1": 0.40, "errors/mlp/off/c1": 3})
    rc, out, err = run_regress("--compare", errs, "--baseline", str(baseline))
    assert rc == 1 and "errors/mlp/off/c1" in out.splitlines()[-1], out + err

    rc, out, err = run_regress("--compare", ok, "--baseline", str(tmp_path / "missing.json"))
    assert rc == 2, out + err


def test_regress_baseline_is_committed_and_covers_short_suite():
    with open(os.path.join(ROOT, "bench", "regress", "baseline.json")) as f:
        base = json.load(f)
    for m in ["efficiency/mlp/off/c1", "efficiency/mlp/off/c16", "efficiency/mlp/on/c1",
              "efficiency/mlp/on/c16", "batching_gain/mlp/c16"]:
        assert base["metrics"][m] > 0, m
    short = base["produced_by"]["short"]
    assert short["machine"]["cpus"] >= 1 and short["date"] and "--short" in short["command"]


SLOW_MODEL = '''
import sys, torch
torch.manual_seed(0)

class Slowed(torch.nn.Module):
    """The MLP's interface (INPUT__0 [784] -> OUTPUT__0 [10]) with ~10x its work per row: a
    784x256 layer, ROUNDS 256x256 matmuls, a 256x10 layer."""
    def __init__(self, rounds: int):
        super().__init__()
        self.fc_in = torch.nn.Linear(784, 256)
        self.w = torch.nn.Parameter(torch.eye(256) * 0.5 + torch.randn(256, 256) * 0.01)
        self.fc_out = torch.nn.Linear(256, 10)
        self.rounds = rounds

    def forward(self, x):
        h = torch.relu(self.fc_in(x))
        for _ in range(self.rounds):
            h = torch.tanh(h @ self.w)
        return self.fc_out(h)

torch.jit.script(Slowed(int(sys.argv[2])).eval()).save(sys.argv[1])
'''


def make_slowed_mlp(root, rounds=80):
    """A model directory like examples/models/mlp whose model.pt is much slower per row."""
    d = os.path.join(root, "mlp")
    os.makedirs(os.path.join(d, "1"))
    shutil.copy(os.path.join(EXAMPLES, "mlp", "config.pbtxt"), d)
    script = os.path.join(root, "make_slowed.py")
    with open(script, "w") as f:
        f.write(SLOW_MODEL)
    p = subprocess.run([TORCH_PYTHON, script, os.path.join(d, "1", "model.pt"), str(rounds)],
                       capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        pytest.skip("cannot make the slowed model with torch: " + p.stderr[-500:])
    return d


@needs_bench
def test_regress_fails_on_slowed_server(tmp_path):
    if not os.access(INPROC, os.X_OK):
        pytest.skip(f"{INPROC} not built")
    slowed = make_slowed_mlp(str(tmp_path))
    result = tmp_path / "result.json"
    rc, out, err = run_regress("--short", "--model-override", f"mlp={slowed}",
                               "--out", str(result))
    assert rc == 1, out + err
    last = out.strip().splitlines()[-1]
    assert last.startswith("REGRESSION"), out + err
    # The served model does ~10x the reference MLP's work per row, so rows/s per in-process
    # rows/s collapses where the server is compute-bound: unbatched at concurrency 16.
    assert "efficiency/mlp/off/c16" in last, out + err
    res = json.loads(result.read_text())
    assert res["passed"] is False
    assert res["overrides"] == {"mlp": slowed}
    row = {r["metric"]: r for r in res["comparison"]}["efficiency/mlp/off/c16"]
    assert row["status"] == "FAIL" and row["ratio"] < 0.5, row
