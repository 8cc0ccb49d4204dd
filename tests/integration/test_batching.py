"""Dynamic batching, instances and backpressure through the real server."""
import json
import os
import socket
import sys
import threading
import time

import numpy as np
import pytest

from ptserve_harness import EXAMPLES, ROOT, Server, make_repository, reference, case_inputs

sys.path.insert(0, os.path.join(ROOT, "tools"))
import ptserve_config  # noqa: E402


def config_with(model, extra, max_batch=None):
    """The example's config (through protobuf) without its own dynamic_batching (tests set
    their own), with `extra` (config text) merged in."""
    cfg = ptserve_config.load(os.path.join(EXAMPLES, model, "config.pbtxt"))
    cfg.ClearField("dynamic_batching")
    if max_batch is not None:
        cfg.max_batch_size = max_batch
    cfg.MergeFrom(ptserve_config.loads(extra))
    return ptserve_config.dumps(cfg)


def repo_with_configs(configs):
    repo = make_repository(list(configs))
    for model, text in configs.items():
        with open(os.path.join(repo, model, "config.pbtxt"), "w") as f:
            f.write(text)
    return repo


def infer(server, model, inputs, conn=None, params=None, headers=None):
    body = {"inputs": inputs}
    if params:
        body["parameters"] = params
    status, hdrs, data = server.request("POST", f"/v2/models/{model}/infer", json.dumps(body),
                                        headers, conn=conn)
    return status, hdrs, (json.loads(data) if data else None)


def concurrently(fn, args_list):
    results = [None] * len(args_list)
    barrier = threading.Barrier(len(args_list))

    def run(i, args):
        barrier.wait()
        results[i] = fn(*args)

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(args_list)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.fixture(scope="module")
def batching_server():
    repo = repo_with_configs({
        "mlp": config_with("mlp", "dynamic_batching { max_queue_delay_microseconds: 50000 }"),
        "resnet18": config_with("resnet18", "dynamic_batching { max_queue_delay_microseconds: 100000 }"),
        "text": config_with("text", "dynamic_batching { max_queue_delay_microseconds: 50000 }\n"
                            'parameters { key: "PAD_INPUTS" value { string_value: "input_ids:0,attention_mask:0" } }'),
    })
    with Server(repository=repo) as s:
        yield s


def assert_batched_equals_alone(server, model, bodies, rtol):
    alone = []
    for inputs in bodies:
        status, hdrs, out = infer(server, model, inputs)
        assert status == 200, out
        alone.append(out["outputs"][0]["data"])
    results = concurrently(lambda inputs: infer(server, model, inputs), [(b,) for b in bodies])
    sizes = []
    exact = True
    for (status, hdrs, out), want in zip(results, alone):
        assert status == 200, out
        sizes.append(int(hdrs["x-batch-size"]))
        got = np.array(out["outputs"][0]["data"], dtype=np.float32)
        want = np.array(want, dtype=np.float32)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6)
        exact &= bool(np.array_equal(got, want))
    assert max(sizes) > 1, f"requests were never merged: batch sizes {sizes}"
    return exact, sizes


def test_mlp_batched_equals_alone(batching_server):
    rng = np.random.default_rng(0)
    bodies = [[{"name": "INPUT__0", "datatype": "FP32", "shape": [1 + i % 2, 784],
                "data": rng.random((1 + i % 2) * 784, dtype=np.float32).tolist()}] for i in range(12)]
    exact, sizes = assert_batched_equals_alone(batching_server, "mlp", bodies, rtol=1e-5)
    print(f"mlp: batch sizes {sizes}, bit-exact: {exact}")


def test_resnet18_batched_equals_alone(batching_server):
    ref = reference("resnet18")
    base = np.array(case_inputs(ref, ref["cases"][0])[0]["data"], dtype=np.float32)
    bodies = [[{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 3, 224, 224],
                "data": (base * (1 + 0.1 * i)).tolist()}] for i in range(4)]
    exact, sizes = assert_batched_equals_alone(batching_server, "resnet18", bodies, rtol=1e-4)
    print(f"resnet18: batch sizes {sizes}, bit-exact: {exact}")


def test_text_padded_batch_equals_alone(batching_server):
    bodies = []
    for length in (3, 7, 12, 5, 9, 2):
        ids = [(7 * length + j) % 999 + 1 for j in range(length)]
        bodies.append([{"name": "input_ids", "datatype": "INT64", "shape": [1, length], "data": ids},
                       {"name": "attention_mask", "datatype": "INT64", "shape": [1, length], "data": [1] * length}])
    exact, sizes = assert_batched_equals_alone(batching_server, "text", bodies, rtol=1e-5)
    print(f"text: batch sizes {sizes}, bit-exact: {exact}")


def test_no_request_lost_or_answered_twice(batching_server):
    payload = json.dumps({"data": [0.1] * 784})
    counts = {"sent": 0, "ok": 0, "other": 0}
    lock = threading.Lock()

    def client():
        conn = batching_server.connection()
        for _ in range(25):
            with lock:
                counts["sent"] += 1
            status, _, _ = batching_server.request("POST", "/predict/mlp", payload, conn=conn)
            with lock:
                counts["ok" if status == 200 else "other"] += 1
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(48)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts["sent"] == 48 * 25
    assert counts["ok"] == counts["sent"], counts


# A slow model with a tiny queue: resnet18 one image at a time.
SLOW = config_with("resnet18", "dynamic_batching { max_queue_delay_microseconds: 0\n"
                   "  default_queue_policy { max_queue_size: 2 allow_timeout_override: true } }",
                   max_batch=1)


@pytest.fixture(scope="module")
def slow_server():
    with Server(repository=repo_with_configs({"resnet18": SLOW}), args=["--log-verbose", "1"]) as s:
        yield s


def image(seed=0):
    return [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 3, 224, 224],
             "data": np.random.default_rng(seed).random(3 * 224 * 224, dtype=np.float32).round(3).tolist()}]


def test_full_queue_rejects_with_retry_after(slow_server):
    bodies = [(slow_server, "resnet18", image(i)) for i in range(12)]
    results = concurrently(infer, bodies)
    codes = [r[0] for r in results]
    assert set(codes) <= {200, 503}, codes
    assert codes.count(503) >= 1, codes
    assert codes.count(200) >= 3, codes
    for status, hdrs, out in results:
        if status == 503:
            assert hdrs.get("retry-after") == "1"
            assert "full" in out["error"]


def queue_depth(server, model):
    _, _, data = server.request("GET", "/metrics")
    for line in data.decode().splitlines():
        if line.startswith("ptserve_inference_queue_depth{") and f'model="{model}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_queue_timeout_fires(slow_server):
    # Two blockers: one runs, one waits; then a request with a 1 ms queue timeout must wait
    # behind the waiting one (a whole ResNet-18 run) and time out in the queue.
    bodies = [json.dumps({"inputs": image(i)}) for i in range(2)]
    # The timed request goes as binary tensors, so that it is decoded and queued within about
    # a millisecond of seeing the queue non-empty.
    raw = np.random.default_rng(9).random(3 * 224 * 224, dtype=np.float32).tobytes()
    head = json.dumps({"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 3, 224, 224],
                                   "parameters": {"binary_data_size": len(raw)}}],
                       "parameters": {"timeout": 1000}}).encode()
    conn = slow_server.connection()
    conn.connect()
    blockers = [threading.Thread(target=slow_server.request,
                                 args=("POST", "/v2/models/resnet18/infer", b)) for b in bodies]
    for b in blockers:
        b.start()
    deadline = time.time() + 10
    while queue_depth(slow_server, "resnet18") < 1 and time.time() < deadline:
        time.sleep(0.001)
    start = time.time()
    status, hdrs, data = slow_server.request(
        "POST", "/v2/models/resnet18/infer", head + raw,
        {"Inference-Header-Content-Length": str(len(head))}, conn=conn)
    elapsed = time.time() - start
    out = json.loads(data)
    for b in blockers:
        b.join()
    assert status == 504, out
    assert "timed out" in out["error"]
    assert elapsed < 5


def test_disconnect_frees_the_queue_slot(slow_server):
    body = json.dumps({"inputs": image(3)}).encode()
    # Fill: one running + two queued, then the queued clients hang up.
    runner = threading.Thread(target=infer, args=(slow_server, "resnet18", image(1)))
    runner.start()
    time.sleep(0.05)
    socks = []
    for _ in range(2):
        s = socket.create_connection(("127.0.0.1", slow_server.port))
        s.sendall(b"POST /v2/models/resnet18/infer HTTP/1.1\r\nHost: x\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body)
        socks.append(s)
    time.sleep(0.02)
    for s in socks:
        s.close()
    time.sleep(0.3)
    assert "dropped from the queue" in slow_server.log()
    # Both slots are free again: two new requests are accepted (not 503).
    results = concurrently(infer, [(slow_server, "resnet18", image(5)), (slow_server, "resnet18", image(6))])
    runner.join()
    assert [r[0] for r in results] == [200, 200], [r[0] for r in results]
