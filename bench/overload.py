#!/usr/bin/python3
"""How fast an overloaded ptserve says no: latency of the 503 answers when a model's queue is
full, and when the request-body memory budget is spent (issue: hardening, "overload is answered
in under 1 ms at p99").

  /usr/bin/python3 bench/overload.py [--build build] [--requests 2000]

Two cases, each against its own server on the example ResNet-18 (one instance, ~20-40 ms a
request here, so a few background clients keep it saturated; its config is copied with variable
image sizes, dims [3, -1, -1], so that the probe can send small images):
  queue   --max-queue-size 1; 6 background clients keep the queue full with 224x224 images; the
          probe sends 32x32 images (12 KB bodies) and times those answered 503.
  memory  --max-inflight-bytes 2 MB (3 ResNet-18 bodies); 6 background clients keep their
          224x224 bodies in flight; the probe's 224x224 requests (602 KB) are answered 503 as
          soon as their headers are read, before the body. "memory" sends head and body in one
          go (the time includes writing 602 KB into a connection the server closes); "memory+"
          sends `Expect: 100-continue` first, as curl and most clients do for large bodies, and
          times the 503 that comes instead of "100 Continue".
The probe is one keep-alive connection on a raw socket with the request bytes prepared in
advance; a request's time runs from its first byte sent to the last byte of the answer read (it
includes this Python client and the kernel's loopback: ~30-60 us). For the queue case the server's
own time for each 503 (access log total_us: from the request's routing, after its body was read, to
the response handed to the connection) is printed too. Prints p50/p90/p99/max of the 503 answers
and how many requests the background clients got through meanwhile. Stdlib only.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
EXAMPLES = os.path.join(ROOT, "examples", "models")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import ptserve_config  # noqa: E402  (config.pbtxt through protobuf)
IMAGE_BYTES = 3 * 224 * 224 * 4


def start_server(binary, repo, args):
    log = tempfile.NamedTemporaryFile(prefix="ptserve-overload-", suffix=".log", delete=False)
    proc = subprocess.Popen([binary, "--model-repository", repo, "--http-port", "0", "--grpc-port", "-1",
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


def binary_body(images, side=224):
    size = images * 3 * side * side * 4
    header = json.dumps({"inputs": [{"name": "INPUT__0", "datatype": "FP32",
                                     "shape": [images, 3, side, side],
                                     "parameters": {"binary_data_size": size}}]})
    return header.encode() + bytes(size), len(header)


def post(conn, body, header_len):
    conn.request("POST", "/v2/models/resnet18/infer", body=body,
                 headers={"Content-Type": "application/octet-stream",
                          "Inference-Header-Content-Length": str(header_len)})
    r = conn.getresponse()
    r.read()
    return r.status


class RawProbe:
    """One keep-alive connection on a plain socket: the request bytes are built once, so a timed
    request is one sendall and the reads of one answer."""

    def __init__(self, port, body, header_len, expect_continue=False):
        self.port = port
        head = (f"POST /v2/models/resnet18/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/octet-stream\r\n"
                f"Inference-Header-Content-Length: {header_len}\r\n"
                + ("Expect: 100-continue\r\n" if expect_continue else "")
                + f"Content-Length: {len(body)}\r\n\r\n").encode()
        # With Expect: 100-continue (what curl and most HTTP clients send before a large body)
        # the head goes first and the body only after "100 Continue".
        self.request = head if expect_continue else head + body
        self.body = body if expect_continue else None
        self.sock = None

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self):
        """Returns (status, microseconds); status None when the connection broke."""
        if self.sock is None:
            self._connect()
        t0 = time.perf_counter()
        try:
            self.sock.sendall(self.request)
            head, rest = self._read_head()
            if self.body is not None and head.startswith(b"HTTP/1.1 100"):
                self.buf = rest
                self.sock.sendall(self.body)
                head, rest = self._read_head()
            m = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            length = int(m.group(1)) if m else 0
            while len(rest) < length:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                rest += chunk
            dt = (time.perf_counter() - t0) * 1e6
            self.buf = rest[length:]
            status = int(head.split(b" ", 2)[1])
            if re.search(rb"(?i)\r\nconnection: *close", head):
                self.close()
            return status, dt
        except (OSError, ConnectionError):
            self.close()
            return None, (time.perf_counter() - t0) * 1e6

    def _read_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        return head, rest

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None


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


def quantiles(values):
    q = statistics.quantiles(values, n=100)
    return f"{q[49]:8.0f} {q[89]:8.0f} {q[98]:8.0f} {max(values):8.0f}"


def run_case(name, binary, repo, args, requests, probe_side, expect_continue=False):
    proc, port, log = start_server(binary, repo, args + ["--log-requests"])
    stop = threading.Event()
    counts = {}
    threads = [threading.Thread(target=background, args=(port, stop, counts)) for _ in range(6)]
    for t in threads:
        t.start()
    time.sleep(2)  # saturated
    probe = RawProbe(port, *binary_body(1, probe_side), expect_continue=expect_continue)
    rejected, other = [], {}
    served_before = counts.get(200, 0)
    start = time.time()
    for _ in range(requests):
        status, dt = probe.send()
        if status == 503:
            rejected.append(dt)
        else:
            key = "reset" if status is None else status
            other[key] = other.get(key, 0) + 1
    elapsed = time.time() - start
    stop.set()
    for t in threads:
        t.join()
    proc.terminate()
    proc.wait(60)
    server_side = [int(m) for m in re.findall(r"status=503 total_us=(\d+)",
                                               open(log, errors="replace").read())]
    os.unlink(log)
    served = (counts.get(200, 0) - served_before) / elapsed
    if not rejected:
        print(f"{name:7s} no 503 answers (other: {other})")
        return
    print(f"{name:7s} {'client':7s} {len(rejected):6d} {quantiles(rejected)}   {served:9.1f}   "
          f"{other or '-'}")
    if len(server_side) >= 2:
        print(f"{'':7s} {'server':7s} {len(server_side):6d} {quantiles(server_side)}   "
              "(access log total_us of every 503, the background clients' too)")


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
        cfg = ptserve_config.load(os.path.join(EXAMPLES, "resnet18", "config.pbtxt"))
        # One instance, no batching: the background clients saturate it.
        cfg.ClearField("dynamic_batching")
        # Any image size (the traced ResNet-18 pools adaptively): the probe sends small ones.
        for spec in cfg.input:
            if list(spec.dims) == [3, 224, 224]:
                spec.dims[:] = [3, -1, -1]
        del cfg.instance_group[:]
        group = cfg.instance_group.add()
        group.count, group.kind = 1, ptserve_config.pb2().ModelInstanceGroup.KIND_CPU
        ptserve_config.save(cfg, os.path.join(repo, "resnet18", "config.pbtxt"))
        os.symlink(os.path.join(EXAMPLES, "resnet18", "1"), os.path.join(repo, "resnet18", "1"))
        print(f"503 answers of an overloaded server, microseconds (probe: {a.requests} requests, "
              "one keep-alive connection, raw socket)")
        print(f"{'case':7s} {'seen by':7s} {'503s':>6s} {'p50':>8s} {'p90':>8s} {'p99':>8s} "
              f"{'max':>8s}   {'served/s':>9s}   other answers")
        run_case("queue", binary, repo, ["--max-queue-size", "1"], a.requests, 32)
        memory = ["--max-inflight-bytes", str(2 << 20), "--max-request-bytes", str(1 << 20)]
        run_case("memory", binary, repo, memory, a.requests, 224)
        run_case("memory+", binary, repo, memory, a.requests, 224, expect_continue=True)
    finally:
        shutil.rmtree(repo)


if __name__ == "__main__":
    main()
