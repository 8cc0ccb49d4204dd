"""Starts the real ptserve binary on a free port and talks HTTP to it.

Used by the integration tests; stdlib only (plus numpy where a test needs it).
"""
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# Absolute: tests pass paths under it to the server and compare them with its messages.
BUILD = os.path.abspath(os.environ.get("PTSERVE_BUILD_DIR", os.path.join(ROOT, "build")))
BINARY = os.path.join(BUILD, "src", "server", "ptserve")
EXAMPLES = os.path.join(ROOT, "examples", "models")
REFERENCE = os.path.join(ROOT, "examples", "reference")


class Server:
    """A running ptserve process. Use as a context manager."""

    def __init__(self, repository=EXAMPLES, args=(), ready_timeout=180, wait_ready=True):
        self.repository = repository
        self.args = list(args)
        self.ready_timeout = ready_timeout
        self.wait_ready = wait_ready
        self.proc = None
        self.port = None
        self.management_port = None
        self.grpc_port = None
        self.log_path = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        fd, self.log_path = tempfile.mkstemp(prefix="ptserve-", suffix=".log")
        os.close(fd)
        self._log = open(self.log_path, "w")
        cmd = [BINARY, "--model-repository", self.repository, "--http-port", "0"] + self.args
        # Never the default ports (8003, 8001): tests run servers side by side.
        for flag in ("--management-port", "--grpc-port"):
            if not any(a.startswith(flag) for a in self.args):
                cmd += [flag, "0"]
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError("ptserve exited early:\n" + self.log())
            m = re.search(r"HTTP server listening on [^\s]+:(\d+)", self.log())
            if m:
                self.port = int(m.group(1))
                break
            if time.time() > deadline:
                raise RuntimeError("ptserve did not start listening:\n" + self.log())
            time.sleep(0.05)
        if self.wait_ready:
            self.wait_until_ready()
        m = re.search(r"management API listening on [^\s]+:(\d+)", self.log())
        if m:
            self.management_port = int(m.group(1))
        m = re.search(r"gRPC server listening on [^\s]+:(\d+)", self.log())
        if m:
            self.grpc_port = int(m.group(1))

    def wait_until_ready(self):
        deadline = time.time() + self.ready_timeout
        while time.time() < deadline:
            if "all models ready" in self.log() or "some models failed" in self.log():
                return
            if self.proc.poll() is not None:
                raise RuntimeError("ptserve exited:\n" + self.log())
            time.sleep(0.1)
        raise RuntimeError("models did not load in time:\n" + self.log())

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self._log.close()
        return self.proc.returncode if self.proc else None

    def connection(self, timeout=60):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        """Returns (status, headers dict lower-cased, body bytes)."""
        own = conn is None
        conn = conn or self.connection()
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        if own:
            conn.close()
        return resp.status, hdrs, data

    def manage_raw(self, path, body=None, token=None):
        """POST to the management API; returns (status, raw body bytes). A str body is sent
        as it is, anything else as JSON."""
        conn = http.client.HTTPConnection("127.0.0.1", self.management_port, timeout=300)
        headers = {"Authorization": "Bearer " + token} if token else {}
        payload = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
        if payload:  # the management API refuses bodies of other types (cross-site requests)
            headers["Content-Type"] = "application/json"
        conn.request("POST", path, body=payload, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def manage(self, path, body=None, token=None):
        """POST to the management API; returns (status, parsed body)."""
        status, data = self.manage_raw(path, body, token)
        return status, (json.loads(data) if data else None)

    def json(self, method, path, body=None, headers=None, conn=None):
        status, hdrs, data = self.request(method, path, body, headers, conn)
        return status, (json.loads(data) if data else None)


class LoadGenerator:
    """Background clients sending requests in a loop on keep-alive connections, counting every
    request: sent (the request went out), answered (a response came back, by status), and lost
    (sent but the connection died without an answer)."""

    def __init__(self, server, path, body, threads=4, headers=None):
        self.server, self.path, self.body = server, path, json.dumps(body)
        self.headers = headers or {}
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.lock = threading.Lock()
        self.stop_flag = threading.Event()
        # Cleared to act like a load balancer that has taken the server out of rotation:
        # requests go on over open connections, but no new connection is made.
        self.new_connections = threading.Event()
        self.new_connections.set()
        self.sent = 0
        self.statuses = {}
        self.versions = {}
        self.lost = []

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join()

    def answered(self):
        return sum(self.statuses.values())

    def _run(self):
        conn = None
        while not self.stop_flag.is_set():
            if conn is None:
                if not self.new_connections.is_set():
                    time.sleep(0.01)
                    continue
                conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=60)
                try:
                    conn.connect()
                except OSError:  # refused: the server stopped accepting; nothing was sent
                    conn = None
                    time.sleep(0.01)
                    continue
            try:
                conn.request("POST", self.path, body=self.body, headers=self.headers)
            except OSError:
                conn.close()
                conn = None
                continue
            with self.lock:
                self.sent += 1
            try:
                resp = conn.getresponse()
                resp.read()
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.lost.append(repr(e))
                conn.close()
                conn = None
                continue
            with self.lock:
                self.statuses[resp.status] = self.statuses.get(resp.status, 0) + 1
                v = resp.getheader("X-Model-Version")
                if v:
                    self.versions[v] = self.versions.get(v, 0) + 1
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = None


def reference(model):
    with open(os.path.join(REFERENCE, model + ".json")) as f:
        return json.load(f)


def case_inputs(ref, case):
    """KServe v2 JSON inputs for a reference case (reads .bin data files)."""
    import numpy as np
    inputs = []
    for name, t in case["inputs"].items():
        if "data" in t:
            data = t["data"]
        else:
            data = np.fromfile(os.path.join(REFERENCE, t["data_file"]), dtype="<f4").tolist()
        inputs.append({"name": name, "datatype": t["datatype"], "shape": t["shape"], "data": data})
    return inputs


def wait_for(predicate, timeout=60, interval=0.1):
    """True once predicate() is, False if it never was within `timeout` seconds."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def add_version(repo, model, version, content=None, source=EXAMPLES, filename="model.pt"):
    """A new version folder of `model` in `repo` holding `source`/`model`/1/`filename`, or
    `content` (bytes) under that name."""
    path = os.path.join(repo, model, str(version))
    os.makedirs(path)
    target = os.path.join(path, filename)
    if content is None:
        shutil.copy(os.path.join(source, model, "1", filename), target)
    else:
        with open(target, "wb") as f:
            f.write(content)


def make_repository(models, extra=None):
    """A temporary repository holding copies of example models (by symlinked
    version dirs) plus `extra` {relative path: bytes or str} files."""
    root = tempfile.mkdtemp(prefix="ptserve-repo-")
    for name in models:
        os.makedirs(os.path.join(root, name))
        shutil.copy(os.path.join(EXAMPLES, name, "config.pbtxt"), os.path.join(root, name))
        os.symlink(os.path.join(EXAMPLES, name, "1"), os.path.join(root, name, "1"))
    for rel, content in (extra or {}).items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        mode = "wb" if isinstance(content, bytes) else "w"
        with open(path, mode) as f:
            f.write(content)
    return root


def thread_count(pid):
    """Threads, less jemalloc's background purgers (started as memory is freed)."""
    count = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                count += f.read().strip() != "jemalloc_bg_thd"
        except FileNotFoundError:
            pass
    return count
