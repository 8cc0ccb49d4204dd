"""Every class of bad input gets a 4xx/5xx with {"error": ...} naming the problem, and the
keep-alive connection stays usable afterwards."""
import json

import pytest

from ptserve_harness import Server, make_repository

MLP = "/v2/models/mlp/infer"


def good_mlp_body():
    return {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 784], "data": [0.5] * 784}]}


CASES = [
    # (name, path, body, headers, status, words in the error)
    ("malformed json", MLP, "{\"inputs\": [", {}, 400, ["json"]),
    ("not an object", MLP, "[1,2]", {}, 400, []),
    ("no inputs", MLP, "{}", {}, 400, ["inputs"]),
    ("wrong input name", MLP, {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 784], "data": [0] * 784}]},
     {}, 400, ["x", "INPUT__0"]),
    ("wrong datatype", MLP, {"inputs": [{"name": "INPUT__0", "datatype": "INT64", "shape": [1, 784], "data": [0] * 784}]},
     {}, 400, ["INT64", "FP32"]),
    ("unknown datatype", MLP, {"inputs": [{"name": "INPUT__0", "datatype": "FP23", "shape": [1, 784], "data": [0] * 784}]},
     {}, 400, ["FP23"]),
    ("wrong shape", MLP, {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 783], "data": [0] * 783}]},
     {}, 400, ["783"]),
    ("element count", MLP, {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 784], "data": [0] * 700}]},
     {}, 400, ["700"]),
    ("batch too large", MLP, {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [65, 784], "data": [0] * 65 * 784}]},
     {}, 400, ["max_batch_size"]),
    ("shape overflow", MLP, {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [4294967296, 4294967296], "data": [0]}]},
     {}, 400, ["shape"]),
    ("negative dim", MLP, {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [-1, 784], "data": [0]}]},
     {}, 400, ["negative"]),
    ("string in data", MLP, {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 2], "data": ["a", "b"]}]},
     {}, 400, []),
    ("binary size lies", MLP, None, "binary-lie", 400, ["binary"]),
    ("header length lies", MLP, "{}", {"Inference-Header-Content-Length": "999"}, 400, []),
    ("header length not a number", MLP, "{}", {"Inference-Header-Content-Length": "abc"}, 400, ["Inference-Header-Content-Length"]),
    ("unknown model", "/v2/models/nope/infer", good_mlp_body(), {}, 404, ["nope"]),
    ("unknown version", "/v2/models/mlp/versions/7/infer", good_mlp_body(), {}, 404, ["7"]),
    ("bad version", "/v2/models/mlp/versions/abc/infer", good_mlp_body(), {}, 400, ["abc"]),
    ("unknown metadata", "/v2/models/nope", None, {}, 404, ["nope"]),
    ("forward() throws", "/v2/models/text/infer",
     {"inputs": [{"name": "input_ids", "datatype": "INT64", "shape": [1, 2], "data": [5, 99999]},
                 {"name": "attention_mask", "datatype": "INT64", "shape": [1, 2], "data": [1, 1]}]},
     {}, 400, ["index out of range"]),
    ("missing input", "/v2/models/text/infer",
     {"inputs": [{"name": "input_ids", "datatype": "INT64", "shape": [1, 2], "data": [5, 6]}]},
     {}, 400, ["attention_mask", "missing"]),
    ("batch sizes disagree", "/v2/models/text/infer",
     {"inputs": [{"name": "input_ids", "datatype": "INT64", "shape": [1, 2], "data": [5, 6]},
                 {"name": "attention_mask", "datatype": "INT64", "shape": [2, 1], "data": [1, 1]}]},
     {}, 400, ["batch"]),
    ("predict without data", "/predict", {"x": 1}, {}, 400, ["data"]),
    ("predict wrong length", "/predict", {"data": [0.1] * 10}, {}, 400, ["784"]),
    ("no route", "/v3/nothing", "", {}, 404, ["route"]),
    ("bad timeout header", MLP, good_mlp_body(), {"X-Timeout-Us": "soon"}, 400, ["X-Timeout-Us"]),
]


@pytest.mark.parametrize("name,path,body,headers,status,words", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error_and_the_connection_survives(server, name, path, body, headers, status, words):
    conn = server.connection()
    if headers == "binary-lie":
        head = json.dumps({"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 784],
                                       "parameters": {"binary_data_size": 3136}}]}).encode()
        body = head + b"\0" * 100
        headers = {"Inference-Header-Content-Length": str(len(head))}
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    method = "GET" if body is None else "POST"
    got, hdrs, data = server.request(method, path, body, headers, conn=conn)
    assert got == status, data
    error = json.loads(data)["error"]
    for w in words:
        assert w.lower() in error.lower(), error
    # The same connection still serves a good request.
    ok, _, _ = server.request("POST", MLP, json.dumps(good_mlp_body()), conn=conn)
    assert ok == 200


def test_body_over_limit_is_413():
    with Server(repository=make_repository(["mlp"]), args=["--max-request-bytes", "1000"]) as s:
        status, _, data = s.request("POST", MLP, json.dumps(good_mlp_body()))
        assert status == 413
        assert "error" in json.loads(data)


def test_broken_models_do_not_stop_the_others():
    repo = make_repository(["mlp"], {
        "badsyntax/config.pbtxt": "name: \"badsyntax\"\nmax_batch_size: [\n",
        "badsyntax/1/model.pt": b"not a model",
        "corrupt/config.pbtxt": "name: \"corrupt\"\nplatform: \"pytorch_libtorch\"\n",
        "corrupt/1/model.pt": b"PK\x03\x04 definitely not torchscript",
        "badvalue/config.pbtxt": "name: \"badvalue\"\nmax_batch_size: -4\n",
        "badvalue/1/model.pt": b"",
        "noversion/config.pbtxt": "name: \"noversion\"\n",
    })
    with Server(repository=repo) as s:
        assert s.request("GET", "/v2/health/ready")[0] == 503
        assert s.request("POST", MLP, json.dumps(good_mlp_body()))[0] == 200
        status, out = s.json("GET", "/v2/models/badsyntax/ready")
        assert status in (404, 503)
        log = s.log()
        assert "config.pbtxt:2" in log  # file and line of the syntax error
        assert "max_batch_size" in log
        assert "corrupt" in log and "noversion" in log


def test_model_without_config_is_derived():
    import os
    repo = make_repository([])
    os.makedirs(os.path.join(repo, "bare"))
    from ptserve_harness import EXAMPLES
    os.symlink(os.path.join(EXAMPLES, "mlp", "1"), os.path.join(repo, "bare", "1"))
    with Server(repository=repo) as s:
        assert "no config.pbtxt" in s.log()
        status, meta = s.json("GET", "/v2/models/bare")
        assert status == 200, meta
        name = meta["inputs"][0]["name"]
        body = {"inputs": [{"name": name, "datatype": "FP32", "shape": [2, 784], "data": [0.1] * 1568}]}
        status, out = s.json("POST", "/v2/models/bare/infer", body)
        assert status == 200, out
        assert out["outputs"][0]["shape"] == [2, 10]
        status, out = s.json("POST", "/predict", {"data": [0.1] * 784})
        assert status == 200, out


def test_model_failures_are_500_counted_each_and_logged_throttled():
    """A model that raises at run time: every request is a 500 naming the failure and counted as a
    server error, the instance keeps serving, and the warning log gets at most about one line a
    second for them (not one per request: under a flood of failures or rejections that logging
    would cost the CPU the server is short of)."""
    torch = pytest.importorskip("torch")
    import os
    import tempfile
    import time

    class Failing(torch.nn.Module):
        def forward(self, x):
            if bool(x[0, 0] == 12345.0):  # never in the warm-up inputs
                raise RuntimeError("the input asked for a failure")
            return x * 2

    root = tempfile.mkdtemp(prefix="ptserve-failing-")
    os.makedirs(os.path.join(root, "failing", "1"))
    torch.jit.script(Failing()).save(os.path.join(root, "failing", "1", "model.pt"))
    with open(os.path.join(root, "failing", "config.pbtxt"), "w") as f:
        f.write('name: "failing"\nplatform: "pytorch_libtorch"\nmax_batch_size: 4\n'
                'input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 3 ] } ]\n'
                'output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 3 ] } ]\n'
                'parameters { key: "OPTIMIZE" value: { string_value: "false" } }\n')

    def body(first):
        return {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 3],
                            "data": [first, 0.5, 0.25]}]}

    with Server(repository=root) as s:
        conn = s.connection()
        start = time.time()
        n = 300
        for _ in range(n):
            status, out = s.json("POST", "/v2/models/failing/infer", body(12345.0), conn=conn)
            assert status == 500 and "asked for a failure" in out["error"], (status, out)
        elapsed = time.time() - start
        status, out = s.json("POST", "/v2/models/failing/infer", body(-1.0), conn=conn)
        assert status == 200 and out["outputs"][0]["data"] == [-2.0, 1.0, 0.5], out
        lines = [l for l in s.log().splitlines() if "model 'failing'" in l and "failed (500)" in l]
        assert 1 <= len(lines) <= elapsed + 2, (len(lines), elapsed, lines[:3])
        status, _, text = s.request("GET", "/metrics")
        counted = [l for l in text.decode().splitlines()
                   if l.startswith("ptserve_inference_requests_total{") and 'model="failing"' in l
                   and 'outcome="server_error"' in l]
        assert counted and float(counted[0].rsplit(" ", 1)[1]) == n, counted
        assert s.proc.poll() is None
