"""GET /metrics against the real server, checked three ways: exact counters after a known set of
requests, `promtool check metrics` on a live scrape, and a real Prometheus scraping the server
under load whose rate() and histogram_quantile() must agree with what this test's own client
measured.

WHAT THIS EXPECTS OF THE SERVER (src/metrics/inference_metrics.h has the names):
  - GET /metrics on the HTTP port (the one --http-port sets), Content-Type
    "text/plain; version=0.0.4; charset=utf-8"; on by default (--metrics=false turns it off).
  - ptserve_inference_requests_total{model,version,variant,outcome}: every request to a known
    model through POST /predict and POST /v2/models/{m}/infer, counted once when answered;
    a request that fails to decode or does not fit the model counts as outcome="client_error".
    Warm-up runs are not requests.
  - ptserve_inference_request_duration_seconds (histogram): every successful request, from its
    arrival to its response.
  - ptserve_inference_rows_total / _executions_total: every executed batch (rows = 1 per
    single-example request here).
  - ptserve_inference_queue_depth / _in_flight / _queue_capacity per model version;
    ptserve_model_state{state="READY"} == 1; process_cpu_seconds_total.
The Prometheus tests skip when Debian's `prometheus` package (promtool, prometheus) is absent.
"""
import json
import math
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import pytest

from ptserve_harness import ROOT, Server, make_repository

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# DurationBuckets() in src/metrics/metrics.cc.
DURATION_BUCKETS = [50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3,
                    100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10, 30]
RULES = os.path.join(ROOT, "deploy", "monitoring", "rules", "ptserve.rules.yml")
EXAMPLE = [0.1] * 784


# --- Prometheus text format -------------------------------------------------------------------

def _parse_labels(text, i):
    """Parses `{a="x",b="y"}` starting at text[i] == '{'; returns (dict, index after '}')."""
    labels = {}
    i += 1
    while text[i] != "}":
        eq = text.index("=", i)
        name = text[i:eq].strip().lstrip(",").strip()
        assert text[eq + 1] == '"', text
        j, value = eq + 2, []
        while text[j] != '"':
            if text[j] == "\\":
                value.append({"n": "\n", "\\": "\\", '"': '"'}[text[j + 1]])
                j += 2
            else:
                value.append(text[j])
                j += 1
        labels[name] = "".join(value)
        i = j + 1
        if text[i] == ",":
            i += 1
    return labels, i + 1


def parse_metrics(text):
    """{(name, frozenset(labels.items())): value} for every sample; also checks that every
    sample's family has HELP and TYPE lines before it."""
    samples, typed = {}, set()
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            typed.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        brace, space = line.find("{"), line.find(" ")
        if brace != -1 and brace < space:
            name = line[:brace]
            labels, end = _parse_labels(line, brace)
            rest = line[end:].split()
        else:
            name, rest, labels = line[:space], line[space + 1:].split(), {}
        family = name
        for suffix in ("_bucket", "_sum", "_count"):
            if name.endswith(suffix) and name[: -len(suffix)] in typed:
                family = name[: -len(suffix)]
        assert family in typed, f"sample before its TYPE line: {line}"
        samples[(name, frozenset(labels.items()))] = float(rest[0])
    return samples


def value(samples, name, **labels):
    """The one sample of `name` whose labels include `labels` (0 when absent)."""
    want = set(labels.items())
    found = [v for (n, ls), v in samples.items() if n == name and want <= set(ls)]
    assert len(found) <= 1, f"{name}{labels} matches {len(found)} series"
    return found[0] if found else 0.0


def scrape(server):
    status, headers, body = server.request("GET", "/metrics")
    assert status == 200, body
    return headers, body.decode()


# --- The server under test --------------------------------------------------------------------

@pytest.fixture(scope="module")
def mlp_server():
    """A server of its own (counters start at zero, no other test's traffic)."""
    repo = make_repository(["mlp"])
    try:
        with Server(repo) as s:
            yield s
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def predict(server, conn, data=EXAMPLE):
    return server.request("POST", "/predict", {"data": data}, conn=conn)[0]


def kserve(server, conn, name="INPUT__0"):
    body = {"inputs": [{"name": name, "datatype": "FP32", "shape": [1, 784], "data": EXAMPLE}]}
    return server.request("POST", "/v2/models/mlp/infer", body, conn=conn)[0]


def test_metrics_endpoint_and_exact_counters(mlp_server):
    s = mlp_server
    headers, text = scrape(s)
    assert headers["content-type"] == CONTENT_TYPE
    before = parse_metrics(text)

    # 4 threads: 30 good /predict, 20 good KServe, 7 KServe with a wrong input name and
    # 3 /predict with the wrong length (400s, client_error).
    jobs = ([("predict", 200)] * 30 + [("kserve", 200)] * 20 + [("kserve_bad", 400)] * 7 +
            [("predict_bad", 400)] * 3)
    errors, lock = [], threading.Lock()

    def worker(part):
        conn = s.connection()
        for kind, want in part:
            if kind == "predict":
                got = predict(s, conn)
            elif kind == "predict_bad":
                got = predict(s, conn, data=[0.1] * 5)
            elif kind == "kserve":
                got = kserve(s, conn)
            else:
                got = kserve(s, conn, name="nope")
            if got != want:
                with lock:
                    errors.append((kind, got))
        conn.close()

    threads = [threading.Thread(target=worker, args=(jobs[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors

    after = parse_metrics(scrape(s)[1])
    delta = lambda name, **l: value(after, name, **l) - value(before, name, **l)  # noqa: E731
    m = {"model": "mlp", "version": "1", "variant": ""}
    assert delta("ptserve_inference_requests_total", outcome="success", **m) == 50
    assert delta("ptserve_inference_requests_total", outcome="client_error", **m) == 10
    for outcome in ("server_error", "rejected", "timed_out", "cancelled"):
        assert delta("ptserve_inference_requests_total", outcome=outcome, **m) == 0, outcome
    assert delta("ptserve_inference_request_duration_seconds_count", **m) == 50
    assert delta("ptserve_inference_request_duration_seconds_bucket", le="+Inf", **m) == 50
    assert delta("ptserve_inference_queue_duration_seconds_count", **m) == 50
    assert delta("ptserve_inference_compute_duration_seconds_count", **m) == 50
    assert 0 < delta("ptserve_inference_request_duration_seconds_sum", **m) < 50 * 10
    v = {"model": "mlp", "version": "1"}
    assert delta("ptserve_inference_rows_total", **v) == 50
    executions = delta("ptserve_inference_executions_total", **v)
    assert 1 <= executions <= 50
    assert delta("ptserve_inference_batch_size_count", **v) == executions
    assert delta("ptserve_inference_batch_size_sum", **v) == 50
    # Quiet now: nothing queued or running.
    assert value(after, "ptserve_inference_queue_depth", **v) == 0
    assert value(after, "ptserve_inference_in_flight", **v) == 0
    assert value(after, "ptserve_inference_queue_capacity", **v) > 0
    assert value(after, "ptserve_model_state", state="READY", **v) == 1
    assert value(after, "ptserve_model_state", state="UNAVAILABLE", **v) == 0
    assert value(after, "ptserve_model_load_duration_seconds", **v) > 0
    assert value(after, "process_cpu_seconds_total") > 0
    assert value(after, "process_resident_memory_bytes") > 1e6


def test_reloaded_version_stays_ready_in_the_metrics(mlp_server):
    # A reload of the version that serves replaces it with itself: its state series must say
    # READY afterwards (it once said UNLOADED: the retired copy's state was written last).
    status, out = mlp_server.manage("/v2/repository/models/mlp/load")
    assert status == 200, out
    after = parse_metrics(scrape(mlp_server)[1])
    v = {"model": "mlp", "version": "1"}
    assert value(after, "ptserve_model_state", state="READY", **v) == 1
    assert value(after, "ptserve_model_state", state="UNLOADED", **v) == 0


def test_histogram_buckets_are_cumulative(mlp_server):
    samples = parse_metrics(scrape(mlp_server)[1])
    buckets = sorted(
        ((math.inf if dict(ls)["le"] == "+Inf" else float(dict(ls)["le"])), v)
        for (n, ls), v in samples.items()
        if n == "ptserve_inference_request_duration_seconds_bucket" and dict(ls)["model"] == "mlp")
    assert [b for b, _ in buckets] == DURATION_BUCKETS + [math.inf]
    counts = [v for _, v in buckets]
    assert counts == sorted(counts)
    assert counts[-1] == value(samples, "ptserve_inference_request_duration_seconds_count",
                               model="mlp")


def test_promtool_accepts_live_scrape(mlp_server):
    promtool = shutil.which("promtool")
    if not promtool:
        pytest.skip("promtool not installed (apt-get install prometheus)")
    predict(mlp_server, None)
    text = scrape(mlp_server)[1]
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0 and not (r.stdout + r.stderr).strip(), r.stdout + r.stderr + text


# --- A real Prometheus ------------------------------------------------------------------------

def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Prometheus:
    """Debian's prometheus binary scraping `target` every second, in a temporary directory."""

    def __init__(self, target, rules=RULES):
        self.dir = tempfile.mkdtemp(prefix="ptserve-prometheus-")
        self.port = free_port()
        config = os.path.join(self.dir, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [{json.dumps(rules)}]
scrape_configs:
  - job_name: ptserve
    metrics_path: /metrics
    static_configs:
      - targets: ["{target}"]
""")
        self.log = open(os.path.join(self.dir, "prometheus.log"), "w")
        self.proc = subprocess.Popen(
            [shutil.which("prometheus"), f"--config.file={config}",
             f"--storage.tsdb.path={os.path.join(self.dir, 'data')}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"],
            stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, "prometheus exited:\n" + self.read_log()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError("prometheus not ready:\n" + self.read_log())

    def query(self, expr, at=None):
        """Instant query; returns [(labels, float)]."""
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode(params)
        with urllib.request.urlopen(url, timeout=10) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return [(s["metric"], float(s["value"][1])) for s in body["data"]["result"]]

    def wait_for(self, expr, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            result = self.query(expr)
            if result:
                return result
            time.sleep(0.25)
        raise AssertionError(f"no result for {expr}:\n" + self.read_log())

    def read_log(self):
        self.log.flush()
        with open(os.path.join(self.dir, "prometheus.log")) as f:
            return f.read()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def paced_load(server, rate_per_thread, threads, seconds):
    """Each thread sends /predict at `rate_per_thread`/s (open-loop schedule, keep-alive);
    returns [(completion wall time, latency s)] of the successful requests."""
    results, lock = [], threading.Lock()
    start = time.time() + 0.2

    def worker(offset):
        conn = server.connection()
        k = 0
        while True:
            due = start + offset + k / rate_per_thread
            if due > start + seconds:
                break
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            t0 = time.perf_counter()
            status = predict(server, conn)
            latency = time.perf_counter() - t0
            if status == 200:
                with lock:
                    results.append((time.time(), latency))
            k += 1
        conn.close()

    ts = [threading.Thread(target=worker, args=(i / (threads * rate_per_thread),))
          for i in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return results


def bucket_index(seconds):
    """Index of the histogram bucket (upper bound) that holds `seconds`."""
    for i, b in enumerate(DURATION_BUCKETS):
        if seconds <= b:
            return i
    return len(DURATION_BUCKETS)


def test_prometheus_agrees_with_client(mlp_server):
    if not shutil.which("prometheus"):
        pytest.skip("prometheus not installed (apt-get install prometheus)")
    prom = Prometheus(f"127.0.0.1:{mlp_server.port}")
    try:
        prom.wait_ready()
        prom.wait_for('up{job="ptserve"} == 1')
        time.sleep(1.5)  # a scrape or two before the load: rate() has a baseline

        # 4 threads x 10/s = 40 requests/s for 12 s.
        rate, threads, seconds = 10, 4, 12
        results = paced_load(mlp_server, rate, threads, seconds)
        time.sleep(2.5)  # the last scrapes

        # Compare over a 10 s window inside the load (1 s margin each side).
        first = min(t for t, _ in results)
        window_end = first + 11
        window = 10
        in_window = sorted(lat for t, lat in results if window_end - window < t <= window_end)
        client_qps = len(in_window) / window
        client_p99 = in_window[min(len(in_window) - 1, math.ceil(0.99 * len(in_window)) - 1)]
        assert client_qps > 0.75 * rate * threads, f"the client fell behind: {client_qps}/s"

        sel = 'model="mlp",outcome="success"'
        [(_, prom_qps)] = prom.query(
            f"sum(rate(ptserve_inference_requests_total{{{sel}}}[{window}s]))", at=window_end)
        [(_, prom_p99)] = prom.query(
            "histogram_quantile(0.99, sum by (le) (rate("
            f'ptserve_inference_request_duration_seconds_bucket{{model="mlp"}}[{window}s])))',
            at=window_end)
        report = (f"client {client_qps:.1f}/s p99 {client_p99 * 1e3:.2f} ms; "
                  f"prometheus {prom_qps:.1f}/s p99 {prom_p99 * 1e3:.2f} ms")
        print(report)
        assert abs(prom_qps - client_qps) <= 0.25 * client_qps, report
        # The server's latency excludes the client's own overhead, so its p99 is at most the
        # client's, to the resolution of a bucket: not above the upper bound of the client p99's
        # bucket, and no more than one bucket below it.
        i = bucket_index(client_p99)
        upper = DURATION_BUCKETS[i] if i < len(DURATION_BUCKETS) else math.inf
        lower = DURATION_BUCKETS[i - 2] if i >= 2 else 0
        assert lower <= prom_p99 <= upper, report

        # The repository's recording rules evaluate on live data too.
        rule = prom.wait_for('model:ptserve_inference_requests:rate1m{model="mlp"}')
        assert rule[0][1] > 0
        prom.wait_for('model:ptserve_inference_request_duration_seconds:p99_5m{model="mlp"}')
    finally:
        prom.stop()
