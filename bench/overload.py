#!/usr/bin/python3
"""How fast an overloaded ptserve says no: latency of the 503 answers when a model's queue is
full, and when the request-body memory budget is spent (issue: hardening, "overload is answered
in under 1 ms at p99").

  /usr/bin/python3 bench/overload.py [--build build] [--requests 2000]

Two cases, each against its own server on the example ResNet-18 (one instance, ~20-40 ms a
request here, so a few background clients keep it saturated):
  queue   --max-queue-size 1; 6 background clients keep the queue full; the probe sends small
          (1-image) requests and times those answered 503.
  memory  --max-inflight-bytes 2 MB (3 ResNet-18 bodies); 6 background clients keep their
          bodies in flight; the probe's requests are answered 503 before their body is read.
The probe is one keep-alive connection sending requests one after another (its time includes
this Python client: ~50-100 us). Prints p50/p90/p99/max of the 503 answers and how many
requests the background clients got through meanwhile. Stdlib only.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
EXAMPLES = os.path.join(ROOT, "examples", "models")
IMAGE_BYTES = 3 * 224 * 224 * 4


def start_server(binary, repo, args):
    log = tempfile.NamedTemporaryFile(prefix="ptserve-overload-", suffix=".log", delete=False)
    proc = subprocess.Popen([binary, "--model-repository", repo, "--http-port", "0",
                             "--management-port", "-1", *args], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    port = None
    while time.time() < deadline:
        text = open(log.name, errors="replace").read()
        m = re.search(r"HTTP server listening on [^\s]+:(\d+)", text)
        if m:
            port = int(m.group(1))
        if port and "all models ready" in text:
            return proc, port, log.name
        if proc.poll() is not None or "some models failed" in text:
            sys.exit("ptserve did not start:\n" + text[-3000:])
        time.sleep(0.1)
    proc.kill()
    sys.exit("ptserve was not ready in time")


def binary_body(images):
    header = json.dumps({"inputs": [{"name": "INPUT__0", "datatype": "FP32",
                                     "shape": [images, 3, 224, 224],
                                     "parameters": {"binary_data_size": images * IMAGE_BYTES}}]})
    return header.encode() + bytes(images * IMAGE_BYTES), len(header)


def post(conn, body, header_len):
    conn.request("POST", "/v2/models/resnet18/infer", body=body,
                 headers={"Content-Type": "application/octet-stream",
                          "Inference-Header-Content-Length": str(header_len)})
    r = conn.getresponse()
    r.read()
    return r.status


def background(port, stop, counts):
    body, hl = binary_body(1)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        try:
            status = post(conn, body, hl)
            counts[status] = counts.get(status, 0) + 1
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)


def run_case(name, binary, repo, args, requests):
    proc, port, log = start_server(binary, repo, args)
    stop = threading.Event()
    counts = {}
    threads = [threading.Thread(target=background, args=(port, stop, counts)) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(2)  # saturated
    body, hl = binary_body(1)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    rejected, other = [], {}
    start = time.time()
    for _ in range(requests):
        t0 = time.perf_counter()
        try:
            status = post(conn, body, hl)
        except (OSError, http.client.HTTPException):
            # The memory-budget 503 closes the connection (its body was not read).
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            other["reset"] = other.get("reset", 0) + 1
            continue
        dt = (time.perf_counter() - t0) * 1e6
        if status == 503:
            rejected.append(dt)
        else:
            other[status] = other.get(status, 0) + 1
    elapsed = time.time() - start
    stop.set()
    for t in threads:
        t.join()
    proc.terminate()
    proc.wait(60)
    os.unlink(log)
    if not rejected:
        print(f"{name:7s} no 503 answers (other: {other})")
        return
    q = statistics.quantiles(rejected, n=100)
    print(f"{name:7s} {len(rejected):6d} {q[49]:8.0f} {q[89]:8.0f} {q[98]:8.0f} {max(rejected):8.0f}"
          f"   {counts.get(200, 0) / elapsed:9.1f}   {other or '-'}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.environ.get("PTSERVE_BUILD_DIR", "build"))
    ap.add_argument("--requests", type=int, default=2000)
    a = ap.parse_args()
    binary = os.path.join(ROOT, a.build, "src", "server", "ptserve")
    if not os.path.exists(os.path.join(EXAMPLES, "resnet18", "1", "model.pt")):
        sys.exit("examples/models/resnet18 missing: run scripts/examples.sh")
    repo = tempfile.mkdtemp(prefix="ptserve-overload-repo-")
    try:
        os.makedirs(os.path.join(repo, "resnet18"))
        with open(os.path.join(EXAMPLES, "resnet18", "config.pbtxt")) as f:
            text = f.read()
        # One instance, no batching: the background clients saturate it.
        text = re.sub(r"dynamic_batching\s*\{[^}]*\}", "", text)
        text = re.sub(r"instance_group\s*\[[^\]]*\]", "instance_group [ { count: 1 kind: KIND_CPU } ]", text)
        with open(os.path.join(repo, "resnet18", "config.pbtxt"), "w") as f:
            f.write(text)
        os.symlink(os.path.join(EXAMPLES, "resnet18", "1"), os.path.join(repo, "resnet18", "1"))
        print(f"503 answers of an overloaded server, microseconds (probe: {a.requests} requests, "
              "one keep-alive connection, Python client)")
        print(f"{'case':7s} {'503s':>6s} {'p50':>8s} {'p90':>8s} {'p99':>8s} {'max':>8s}   "
              f"{'served/s':>9s}   other answers")
        run_case("queue", binary, repo, ["--max-queue-size", "1"], a.requests)
        run_case("memory", binary, repo, ["--max-inflight-bytes", str(2 << 20),
                                          "--max-request-bytes", str(1 << 20)], a.requests)
    finally:
        shutil.rmtree(repo)


if __name__ == "__main__":
    main()
