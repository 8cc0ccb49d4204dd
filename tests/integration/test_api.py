"""Every endpoint of the public API against the real server and the example models."""
import json
import struct
import threading

import numpy as np
import pytest

from ptserve_harness import case_inputs, reference

MODELS = ["digits", "mlp", "resnet18", "text"]


def close(actual, expected, ref):
    tol = ref.get("tolerance", {"atol": 1e-4, "rtol": 1e-4})
    np.testing.assert_allclose(np.array(actual, dtype=np.float64), np.array(expected, dtype=np.float64),
                               atol=max(tol["atol"], 1e-4), rtol=max(tol["rtol"], 1e-4))


def test_health(server):
    assert server.request("GET", "/v2/health/live")[0] == 200
    assert server.request("GET", "/v2/health/ready")[0] == 200


def test_process_keeps_its_name_after_the_startup_reexec(server):
    # ptserve re-executes itself once to set OpenMP/OpenBLAS defaults; ps, top and pgrep must
    # still call it ptserve (an exec of /proc/self/exe would make it "exe").
    with open(f"/proc/{server.proc.pid}/comm") as f:
        assert f.read().strip() == "ptserve"
    with open(f"/proc/{server.proc.pid}/environ", "rb") as f:
        assert b"OMP_WAIT_POLICY=PASSIVE" in f.read().split(b"\0")  # it did re-exec


def test_server_metadata(server):
    status, body = server.json("GET", "/v2")
    assert status == 200
    assert body["name"] == "ptserve"
    assert "binary_tensor_data" in body["extensions"]
    assert "statistics" in body["extensions"]


def test_statistics_extension(server):
    def mlp_stats():
        status, body = server.json("GET", "/v2/models/mlp/stats")
        assert status == 200, body
        (entry,) = body["model_stats"]
        return entry

    before = mlp_stats()
    status, _ = server.json("POST", "/v2/models/mlp/infer", {"inputs": [
        {"name": "INPUT__0", "datatype": "FP32", "shape": [3, 784], "data": [0.1] * (3 * 784)}]})
    assert status == 200
    status, _ = server.json("POST", "/v2/models/mlp/infer", {"inputs": [
        {"name": "INPUT__0", "datatype": "FP32", "shape": [1, 5], "data": [0.1] * 5}]})
    assert status == 400
    after = mlp_stats()
    assert after["name"] == "mlp" and after["version"] == "1"
    success, fail = after["inference_stats"]["success"], after["inference_stats"]["fail"]
    assert success["count"] == before["inference_stats"]["success"]["count"] + 1
    assert fail["count"] == before["inference_stats"]["fail"]["count"] + 1
    assert after["inference_count"] == before["inference_count"] + 3
    assert success["ns"] > before["inference_stats"]["success"]["ns"]
    assert after["inference_stats"]["compute_infer"]["ns"] > 0
    assert after["last_inference"] > 0
    # Executions: one more batch, of 3 rows (the request ran alone: nothing else is sent here).
    assert after["execution_count"] == before["execution_count"] + 1
    sizes = {b["batch_size"]: b["compute_infer"] for b in after["batch_stats"]}
    old = {b["batch_size"]: b["compute_infer"] for b in before["batch_stats"]}
    assert sizes[3]["count"] == old.get(3, {"count": 0})["count"] + 1 and sizes[3]["ns"] > 0
    assert sum(b["count"] for b in sizes.values()) <= after["execution_count"]
    status, body = server.json("GET", "/v2/models/mlp/versions/1/stats")
    assert status == 200 and body["model_stats"][0]["version"] == "1"
    status, body = server.json("GET", "/v2/models/stats")
    assert status == 200 and {"mlp", "digits", "resnet18", "text"} <= {
        m["name"] for m in body["model_stats"]}
    for path in ["/v2/models/nope/stats", "/v2/models/mlp/versions/9/stats"]:
        status, body = server.json("GET", path)
        assert status == 404 and "error" in body, (path, body)


@pytest.mark.parametrize("model", MODELS)
def test_model_metadata_and_ready(server, model):
    status, body = server.json("GET", f"/v2/models/{model}")
    assert status == 200
    assert body["name"] == model and body["versions"] == ["1"]
    assert body["platform"] == "pytorch_libtorch"
    assert body["inputs"] and body["outputs"]
    assert body["inputs"][0]["shape"][0] == -1  # batch dimension
    assert server.json("GET", f"/v2/models/{model}/versions/1")[0] == 200
    assert server.request("GET", f"/v2/models/{model}/ready")[0] == 200
    assert server.request("GET", f"/v2/models/{model}/versions/1/ready")[0] == 200
    status, config = server.json("GET", f"/v2/models/{model}/config")
    assert status == 200 and config["name"] == model


@pytest.mark.parametrize("model", MODELS)
def test_outputs_equal_python_reference(server, model):
    ref = reference(model)
    conn = server.connection()
    for case in ref["cases"]:
        body = {"id": "case-" + case["name"], "inputs": case_inputs(ref, case)}
        status, out = server.json("POST", f"/v2/models/{model}/infer", body, conn=conn)
        assert status == 200, out
        assert out["model_name"] == model and out["model_version"] == "1"
        assert out["id"] == "case-" + case["name"]
        got = {o["name"]: o for o in out["outputs"]}
        for name, want in case["outputs"].items():
            assert got[name]["shape"] == want["shape"]
            assert got[name]["datatype"] == "FP32"
            close(got[name]["data"], want["data"], ref)
        assert out["parameters"]["batch_size"] >= 1


def binary_request(inputs, binary_outputs=True):
    """KServe binary tensor request: JSON header then raw tensors."""
    header = {"inputs": [], "parameters": {"binary_data_output": binary_outputs}}
    blobs = []
    for t in inputs:
        dtype = {"FP32": "<f4", "INT64": "<i8"}[t["datatype"]]
        raw = np.asarray(t["data"], dtype=dtype).tobytes()
        header["inputs"].append({"name": t["name"], "datatype": t["datatype"], "shape": t["shape"],
                                 "parameters": {"binary_data_size": len(raw)}})
        blobs.append(raw)
    head = json.dumps(header).encode()
    return head + b"".join(blobs), {"Inference-Header-Content-Length": str(len(head)),
                                    "Content-Type": "application/octet-stream"}


@pytest.mark.parametrize("model", ["mlp", "resnet18", "text"])
def test_binary_tensors_both_ways(server, model):
    ref = reference(model)
    case = ref["cases"][0]
    body, headers = binary_request(case_inputs(ref, case))
    status, hdrs, data = server.request("POST", f"/v2/models/{model}/infer", body, headers)
    assert status == 200, data[:300]
    n = int(hdrs["inference-header-content-length"])
    head = json.loads(data[:n])
    offset = n
    for o in head["outputs"]:
        size = o["parameters"]["binary_data_size"]
        values = np.frombuffer(data[offset:offset + size], dtype="<f4")
        offset += size
        close(values, case["outputs"][o["name"]]["data"], ref)
    assert offset == len(data)


def test_binary_output_for_one_requested_output_json_input(server):
    ref = reference("mlp")
    case = ref["cases"][0]
    body = {"inputs": case_inputs(ref, case),
            "outputs": [{"name": "OUTPUT__0", "parameters": {"binary_data": True}}]}
    status, hdrs, data = server.request("POST", "/v2/models/mlp/infer", json.dumps(body))
    assert status == 200
    n = int(hdrs["inference-header-content-length"])
    values = np.frombuffer(data[n:], dtype="<f4")
    close(values, case["outputs"]["OUTPUT__0"]["data"], ref)


def test_requested_output_unknown_is_an_error(server):
    ref = reference("mlp")
    body = {"inputs": case_inputs(ref, ref["cases"][0]), "outputs": [{"name": "nope"}]}
    status, out = server.json("POST", "/v2/models/mlp/infer", body)
    assert status == 400 and "nope" in out["error"]


def test_seed_predict_endpoint(server):
    ref = reference("mlp")
    want = next(c for c in ref["cases"] if c["name"] == "seed_locust_payload")
    status, hdrs, data = server.request("POST", "/predict", json.dumps({"data": [0.1] * 784}),
                                        {"Content-Type": "application/json"})
    assert status == 200
    out = json.loads(data)
    close(out["prediction"], want["outputs"]["OUTPUT__0"]["data"], ref)
    assert int(hdrs["x-batch-size"]) >= 1
    assert int(hdrs["x-queue-time-us"]) >= 0


def test_predict_named_model_and_batch(server):
    ref = reference("digits")
    case = next(c for c in ref["cases"] if c["name"] == "batch4")
    rows = np.array(case["inputs"]["pixels"]["data"], dtype=np.float32).reshape(4, 64).tolist()
    status, out = server.json("POST", "/predict/digits", {"data": rows})
    assert status == 200
    assert np.array(out["prediction"]).shape == (4, 10)
    close(np.array(out["prediction"]).ravel(), case["outputs"]["logits"]["data"], ref)


def test_predict_rejects_multi_input_model(server):
    status, out = server.json("POST", "/predict/text", {"data": [1, 2, 3]})
    assert status == 400 and "infer" in out["error"]


def test_text_model_variable_lengths(server):
    for length in (3, 17, 40):
        body = {"inputs": [
            {"name": "input_ids", "datatype": "INT64", "shape": [1, length], "data": list(range(1, length + 1))},
            {"name": "attention_mask", "datatype": "INT64", "shape": [1, length], "data": [1] * length}]}
        status, out = server.json("POST", "/v2/models/text/infer", body)
        assert status == 200, out
        assert out["outputs"][0]["shape"] == [1, 2]


def test_many_concurrent_keepalive_connections(server):
    payload = json.dumps({"data": [0.1] * 784})
    n_conn, per_conn = 128, 10
    ok = []
    errors = []

    def client():
        try:
            conn = server.connection()
            good = 0
            for _ in range(per_conn):
                status, _, _ = server.request("POST", "/predict", payload, conn=conn)
                good += status == 200
            conn.close()
            ok.append(good)
        except Exception as e:  # noqa: BLE001
            errors.append(repr(e))

    threads = [threading.Thread(target=client) for _ in range(n_conn)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert sum(ok) == n_conn * per_conn
