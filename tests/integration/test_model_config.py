"""Config features a Triton user brings along, against the real server: input and output
`reshape`, dict outputs named by their keys when the config names none, and acceleration levers
that are honoured (with the measured difference exported) unless ACCURACY_TOLERANCE refuses them."""
import json
import os
import re
import shutil
import subprocess
import threading

import numpy as np
import pytest

from ptserve_harness import EXAMPLES, Server, make_repository

MODELS = r'''
import sys, torch
from typing import Dict
from torch import nn, Tensor

class RowSums(nn.Module):
    """[B, 2, 3] -> [B, 2]: sums the last dimension; fails on any other rank."""
    def forward(self, x: Tensor) -> Tensor:
        assert x.dim() == 3 and x.size(1) == 2 and x.size(2) == 3, "expects [B, 2, 3]"
        return x.sum(-1)

class Scalar(nn.Module):
    """A 0-d tensor in, a 0-d tensor out."""
    def forward(self, x: Tensor) -> Tensor:
        assert x.dim() == 0, "expects a scalar"
        return x * 2

class Heads(nn.Module):
    """Two named heads, returned as Dict[str, Tensor]."""
    def forward(self, x: Tensor) -> Dict[str, Tensor]:
        return {"scores": x * 2, "best": x.argmax(-1)}

out = sys.argv[1]
torch.jit.save(torch.jit.script(RowSums().eval()), out + "/rowsums.pt")
torch.jit.save(torch.jit.script(Scalar().eval()), out + "/scalar.pt")
torch.jit.save(torch.jit.script(Heads().eval()), out + "/heads.pt")
'''


def _config(name, body):
    return f'name: "{name}"\nplatform: "pytorch_libtorch"\n{body}'


@pytest.fixture(scope="module")
def repo():
    root = make_repository([], {
        "rowsums/config.pbtxt": _config("rowsums", (
            "max_batch_size: 8\n"
            'input [ { name: "x" data_type: TYPE_FP32 dims: [ 6 ] reshape { shape: [ 2, 3 ] } } ]\n'
            'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1, 2 ] reshape { shape: [ 2 ] } } ]\n'
            "dynamic_batching { max_queue_delay_microseconds: 20000 }\n")),
        "scalar/config.pbtxt": _config("scalar", (
            "max_batch_size: 0\n"
            'input [ { name: "x" data_type: TYPE_FP32 dims: [ 1 ] reshape { shape: [ ] } } ]\n'
            'output [ { name: "y" data_type: TYPE_FP32 dims: [ 1 ] reshape { shape: [ ] } } ]\n')),
        # Inputs with shapes but no outputs: the outputs are named by a run at load.
        "heads_inputs/config.pbtxt": _config("heads_inputs", (
            "max_batch_size: 4\n"
            'input [ { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } ]\n')),
    })
    scratch = os.path.join(root, "_make")
    os.makedirs(scratch)
    script = os.path.join(scratch, "make.py")  # torch.jit.script reads the source
    with open(script, "w") as f:
        f.write(MODELS)
    subprocess.run(["/usr/bin/python3", script, scratch], check=True)
    for name, file in [("rowsums", "rowsums"), ("scalar", "scalar"), ("heads", "heads"),
                       ("heads_inputs", "heads")]:
        os.makedirs(os.path.join(root, name, "1"), exist_ok=True)
        shutil.copy(os.path.join(scratch, file + ".pt"), os.path.join(root, name, "1", "model.pt"))
    shutil.rmtree(scratch)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def server(repo):
    with Server(repository=repo) as s:
        yield s


def infer(server, model, inputs, outputs=None):
    body = {"inputs": inputs}
    if outputs:
        body["outputs"] = [{"name": n} for n in outputs]
    return server.json("POST", f"/v2/models/{model}/infer", body)


def test_input_and_output_reshape(server):
    x = np.arange(18, dtype=np.float32).reshape(3, 6)
    status, out = infer(server, "rowsums", [{"name": "x", "datatype": "FP32", "shape": [3, 6],
                                             "data": x.reshape(-1).tolist()}])
    assert status == 200, out
    y = out["outputs"][0]
    assert y["name"] == "y" and y["shape"] == [3, 1, 2]
    np.testing.assert_allclose(y["data"], x.reshape(3, 2, 3).sum(-1).reshape(-1))
    status, meta = server.json("GET", "/v2/models/rowsums")
    assert meta["inputs"][0]["shape"] == [-1, 6] and meta["outputs"][0]["shape"] == [-1, 1, 2]


def test_reshaped_requests_batch_together(server):
    results, errors = {}, []

    def client(k):
        x = np.full((1, 6), k, dtype=np.float32)
        status, out = infer(server, "rowsums", [{"name": "x", "datatype": "FP32", "shape": [1, 6],
                                                 "data": x.reshape(-1).tolist()}])
        if status != 200:
            errors.append(out)
        else:
            results[k] = out["outputs"][0]

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k, y in results.items():
        assert y["shape"] == [1, 1, 2] and y["data"] == [3.0 * k, 3.0 * k]
    _, _, text = server.request("GET", "/metrics")
    batches = re.search(r'^ptserve_inference_executions_total\{model="rowsums",version="1"\} (\S+)$',
                        text.decode(), re.M)
    rows = re.search(r'^ptserve_inference_rows_total\{model="rowsums",version="1"\} (\S+)$',
                     text.decode(), re.M)
    assert batches and rows and float(rows.group(1)) > float(batches.group(1)), "never batched"


def test_reshape_checks_the_client_shape(server):
    for shape, data in [([1, 5], [0.0] * 5), ([1, 2, 3], [0.0] * 6)]:
        status, out = infer(server, "rowsums", [{"name": "x", "datatype": "FP32", "shape": shape,
                                                 "data": data}])
        assert status == 400 and "x" in out["error"], out
    assert server.proc.poll() is None


def test_scalar_through_reshape(server):
    status, out = infer(server, "scalar", [{"name": "x", "datatype": "FP32", "shape": [1],
                                            "data": [21.0]}])
    assert status == 200, out
    assert out["outputs"][0]["shape"] == [1] and out["outputs"][0]["data"] == [42.0]


def test_dict_outputs_without_a_config_are_named_by_their_keys(server):
    x = [[0.5, 3.0, 1.0], [4.0, 0.0, 1.0]]
    for _ in range(2):  # the first answer names them; later ones keep the names
        status, out = infer(server, "heads", [{"name": "x", "datatype": "FP32", "shape": [2, 3],
                                               "data": sum(x, [])}])
        assert status == 200, out
        by_name = {o["name"]: o for o in out["outputs"]}
        assert set(by_name) == {"scores", "best"}, out
        assert by_name["scores"]["data"] == [1.0, 6.0, 2.0, 8.0, 0.0, 2.0]
        assert by_name["best"]["data"] == [1, 0] and by_name["best"]["datatype"] == "INT64"


def test_dict_outputs_named_at_load_when_the_inputs_have_shapes(server):
    status, meta = server.json("GET", "/v2/models/heads_inputs")
    assert status == 200
    assert [o["name"] for o in meta["outputs"]] == ["scores", "best"], meta
    status, out = infer(server, "heads_inputs",
                        [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1, 5, 2]}],
                        outputs=["best"])
    assert status == 200, out
    assert out["outputs"] == [{"name": "best", "datatype": "INT64", "shape": [1], "data": [1]}]
    assert "outputs named from a run on the sample inputs: scores, best" in server.log()


def _levered(name, params):
    with open(os.path.join(EXAMPLES, "mlp", "config.pbtxt")) as f:
        text = f.read().replace('name: "mlp"', f'name: "{name}"')
    for key, value in params.items():
        text += f'parameters {{ key: "{key}" value {{ string_value: "{value}" }} }}\n'
    return text


def test_levers_are_honoured_measured_and_gated():
    levers = {
        "mlp_int8": {"QUANTIZATION": "DYNAMIC_INT8"},
        "mlp_int8_gated": {"QUANTIZATION": "DYNAMIC_INT8", "ACCURACY_TOLERANCE": "1e-9"},
        "mlp_int8_loose": {"QUANTIZATION": "DYNAMIC_INT8", "ACCURACY_TOLERANCE": "0.5"},
        "mlp_bad_tolerance": {"ACCURACY_TOLERANCE": "-1"},
        "mlp_default": {},
    }
    repo = make_repository([], {f"{n}/config.pbtxt": _levered(n, p) for n, p in levers.items()})
    for name in levers:
        os.symlink(os.path.join(EXAMPLES, "mlp", "1"), os.path.join(repo, name, "1"))
    with Server(repository=repo) as s:
        log = s.log()
        _, index = s.manage("/v2/repository/index")
        state = {m["name"]: m for m in index}
        for served in ["mlp_int8", "mlp_int8_loose", "mlp_default"]:
            assert state[served]["state"] == "READY", state[served]
        gated = state["mlp_int8_gated"]
        assert gated["state"] == "UNAVAILABLE", gated
        assert "ACCURACY_TOLERANCE" in gated["reason"] and "relative" in gated["reason"], gated
        bad = state["mlp_bad_tolerance"]
        assert bad["state"] == "UNAVAILABLE" and "ACCURACY_TOLERANCE" in bad["reason"], bad
        assert re.search(r"model 'mlp_int8' version 1: frozen \+ dynamic int8 .*outputs differ "
                         r"from the original's by [0-9.e-]+ relative", log), log[-3000:]
        _, _, text = s.request("GET", "/metrics")
        text = text.decode()

        def difference(model):
            m = re.search(r'^ptserve_model_acceleration_difference\{model="%s",version="1"\} (\S+)$'
                          % model, text, re.M)
            return float(m.group(1)) if m else None

        assert 0 < difference("mlp_int8") < 0.5
        assert difference("mlp_int8_loose") == difference("mlp_int8")
        assert difference("mlp_default") is not None and difference("mlp_default") < 1e-5
        assert difference("mlp_int8_gated") is None
        status, out = s.json("POST", "/v2/models/mlp_int8/infer", {"inputs": [
            {"name": "INPUT__0", "datatype": "FP32", "shape": [1, 784], "data": [0.1] * 784}]})
        assert status == 200, out
    shutil.rmtree(repo, ignore_errors=True)
