"""Operator libraries: torchvision's operators and users' own TORCH_LIBRARY libraries.

- A detection-style model (torchvision.ops.batched_nms and roi_align) serves with no
  configuration where python3-torchvision is installed, and answers as Python does.
- Without torchvision's library (--torchvision-operators=false) it fails alone, with an error
  naming the operator and the package; a model calling a custom operator nobody registered
  names the operator and its namespace.
- A custom operator library built by scripts/build.sh (tests/operators) is loaded by
  --operator-library and by a model's OPERATOR_LIBRARIES parameter.
- A per-model library that is missing, not a library, crashes in its constructor, registers a
  namespace already registered, or lies outside the model directory fails that model alone;
  the server and its other models keep serving.
- A --operator-library that fails stops the server at start, saying why.

The models are made here with the Python torch (and torchvision) of this system.
"""
import glob
import os
import shutil
import subprocess
import tempfile

import numpy as np
import pytest

from ptserve_harness import BUILD, Server, make_repository

OPS = os.path.join(BUILD, "tests", "operators")
TEST_OPS = os.path.join(OPS, "libptserve_test_ops.so")
DUPLICATE_OPS = os.path.join(OPS, "libptserve_test_duplicate_ops.so")
CRASH_OPS = os.path.join(OPS, "libptserve_test_crash_ops.so")
TORCHVISION_OPS = sorted(glob.glob("/usr/lib/python3/dist-packages/torchvision/_C*.so"))

needs_torchvision = pytest.mark.skipif(
    not TORCHVISION_OPS, reason="python3-torchvision is not installed")

# Makes the two models with this system's torch; run in a child so that pytest's process never
# loads torch or the test operator library.
MAKE_MODELS = r"""
import sys
from typing import Tuple
import torch

out, test_ops = sys.argv[1], sys.argv[2]

torch.ops.load_library(test_ops)

class ScaleAdd(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.ptserve_test.scale_add(x, 2.5)

torch.jit.script(ScaleAdd()).save(out + "/scale_add.pt")

try:
    import torchvision
except ImportError:
    sys.exit(0)

class Detect(torch.nn.Module):
    def forward(self, boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor,
                features: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        keep = torchvision.ops.batched_nms(boxes, scores, labels, 0.5)
        rois = torch.cat([torch.zeros(keep.numel(), 1), boxes[keep]], 1)
        pooled = torchvision.ops.roi_align(features, rois, output_size=(2, 2), spatial_scale=0.25,
                                           sampling_ratio=2, aligned=True)
        return keep, pooled

detect = torch.jit.script(Detect())
detect.save(out + "/detect.pt")

# The reference answer, from Python.
# 8 boxes, each 3 times with a small jitter: NMS keeps about one of each same-label cluster.
g = torch.Generator().manual_seed(0)
xy = (torch.rand(8, 2, generator=g) * 40).repeat(3, 1) + torch.rand(24, 2, generator=g)
wh = (torch.rand(8, 2, generator=g) * 12 + 8).repeat(3, 1) + torch.rand(24, 2, generator=g)
boxes = torch.cat([xy, xy + wh], 1)
scores = torch.rand(24, generator=g)
labels = torch.randint(0, 3, (24,), generator=g)
features = torch.rand(1, 4, 16, 16, generator=g)
keep, pooled = detect(boxes, scores, labels, features)
for name, t in [("boxes", boxes), ("scores", scores), ("labels", labels),
                ("features", features), ("keep", keep), ("pooled", pooled)]:
    t.contiguous().numpy().tofile(out + "/" + name + ".bin")
with open(out + "/shapes.txt", "w") as f:
    f.write(" ".join(str(d) for d in keep.shape) + "\n")
"""

SCALE_ADD_CONFIG = """
max_batch_size: 8
input { name: "x" data_type: TYPE_FP32 dims: [ 4 ] }
output { name: "y" data_type: TYPE_FP32 dims: [ 4 ] }
"""

DETECT_CONFIG = """
max_batch_size: 0
input { name: "boxes" data_type: TYPE_FP32 dims: [ -1, 4 ] }
input { name: "scores" data_type: TYPE_FP32 dims: [ -1 ] }
input { name: "labels" data_type: TYPE_INT64 dims: [ -1 ] }
input { name: "features" data_type: TYPE_FP32 dims: [ 1, 4, 16, 16 ] }
output { name: "keep" data_type: TYPE_INT64 dims: [ -1 ] }
output { name: "pooled" data_type: TYPE_FP32 dims: [ -1, 4, 2, 2 ] }
"""


@pytest.fixture(scope="module")
def made():
    assert os.path.exists(TEST_OPS), "build tests/operators first (scripts/build.sh)"
    out = tempfile.mkdtemp(prefix="ptserve-ops-models-")
    script = os.path.join(out, "make_models.py")  # TorchScript compiles from source files
    with open(script, "w") as f:
        f.write(MAKE_MODELS)
    subprocess.run(["/usr/bin/python3", script, out, TEST_OPS], check=True)
    yield out
    shutil.rmtree(out, ignore_errors=True)


def add_model(root, name, model_file, config, parameters=None, files=None):
    """A model directory: config (plus OPERATOR_LIBRARIES etc.), 1/model.pt, other files."""
    d = os.path.join(root, name)
    os.makedirs(os.path.join(d, "1"))
    shutil.copy(model_file, os.path.join(d, "1", "model.pt"))
    text = config
    for key, value in (parameters or {}).items():
        text += f'parameters {{ key: "{key}" value {{ string_value: "{value}" }} }}\n'
    with open(os.path.join(d, "config.pbtxt"), "w") as f:
        f.write(text)
    for rel, source in (files or {}).items():
        path = os.path.join(d, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if isinstance(source, bytes):
            with open(path, "wb") as f:
                f.write(source)
        else:
            shutil.copy(source, path)


def reason(server, name):
    """Every reason the index gives for `name` (model and version entries), joined."""
    status, entries = server.manage("/v2/repository/index", {})
    assert status == 200
    return " | ".join(e.get("reason", "") for e in entries if e["name"] == name)


def state(server, name):
    status, _, _ = server.request("GET", f"/v2/models/{name}/ready")
    return status


def scale_add(server, name, x):
    status, body = server.json("POST", f"/v2/models/{name}/infer", {"inputs": [
        {"name": "x", "datatype": "FP32", "shape": [len(x), 4], "data": np.ravel(x).tolist()}]})
    assert status == 200, body
    return np.array(body["outputs"][0]["data"], dtype=np.float32).reshape(len(x), 4)


def mlp_serves(server):
    status, body = server.json("POST", "/v2/models/mlp/infer", {"inputs": [
        {"name": "INPUT__0", "datatype": "FP32", "shape": [1, 784], "data": [0.1] * 784}]})
    return status == 200


@needs_torchvision
def test_detection_model_with_torchvision_operators_serves_as_python_does(made):
    root = tempfile.mkdtemp(prefix="ptserve-ops-")
    add_model(root, "detect", os.path.join(made, "detect.pt"), DETECT_CONFIG)
    with Server(repository=root) as s:
        assert f"operator libraries: {os.path.realpath(TORCHVISION_OPS[0])} (torchvision)" in s.log()
        assert state(s, "detect") == 200, reason(s, "detect") + s.log()
        arrays = {}
        for name, dtype in [("boxes", "<f4"), ("scores", "<f4"), ("labels", "<i8"),
                            ("features", "<f4"), ("keep", "<i8"), ("pooled", "<f4")]:
            arrays[name] = np.fromfile(os.path.join(made, name + ".bin"), dtype=dtype)
        inputs = [
            {"name": "boxes", "datatype": "FP32", "shape": [24, 4], "data": arrays["boxes"].tolist()},
            {"name": "scores", "datatype": "FP32", "shape": [24], "data": arrays["scores"].tolist()},
            {"name": "labels", "datatype": "INT64", "shape": [24], "data": arrays["labels"].tolist()},
            {"name": "features", "datatype": "FP32", "shape": [1, 4, 16, 16],
             "data": arrays["features"].tolist()},
        ]
        status, body = s.json("POST", "/v2/models/detect/infer", {"inputs": inputs})
        assert status == 200, body
        out = {o["name"]: o for o in body["outputs"]}
        kept = len(arrays["keep"])
        assert 0 < kept < 24  # NMS dropped some boxes and kept some
        assert out["keep"]["shape"] == [kept]
        assert out["keep"]["data"] == arrays["keep"].tolist()
        assert out["pooled"]["shape"] == [kept, 4, 2, 2]
        np.testing.assert_allclose(out["pooled"]["data"], arrays["pooled"], rtol=1e-5, atol=1e-6)


def test_missing_operators_fail_their_model_alone_and_name_the_operator(made):
    root = make_repository(["mlp"])
    add_model(root, "custom", os.path.join(made, "scale_add.pt"), SCALE_ADD_CONFIG)
    if os.path.exists(os.path.join(made, "detect.pt")):
        add_model(root, "detect", os.path.join(made, "detect.pt"), DETECT_CONFIG)
    with Server(repository=root, args=["--torchvision-operators=false"]) as s:
        assert "operator libraries: none" in s.log()
        assert state(s, "custom") != 200
        why = reason(s, "custom")
        assert "ptserve_test::scale_add" in why, why
        assert "TORCH_LIBRARY(ptserve_test" in why and "--operator-library" in why, why
        assert "OPERATOR_LIBRARIES" in why, why
        if os.path.exists(os.path.join(made, "detect.pt")):
            assert state(s, "detect") != 200
            why = reason(s, "detect")
            assert "torchvision::nms" in why, why
            assert "install python3-torchvision or pass --operator-library" in why, why
        assert mlp_serves(s)


def test_custom_library_by_flag(made):
    root = tempfile.mkdtemp(prefix="ptserve-ops-")
    add_model(root, "custom", os.path.join(made, "scale_add.pt"), SCALE_ADD_CONFIG)
    with Server(repository=root, args=["--operator-library", TEST_OPS]) as s:
        assert f"{os.path.realpath(TEST_OPS)} (--operator-library)" in s.log()
        x = np.arange(12, dtype=np.float32).reshape(3, 4)
        np.testing.assert_allclose(scale_add(s, "custom", x), x * 2.5 + 1)


def test_custom_library_by_environment_variable(made):
    root = tempfile.mkdtemp(prefix="ptserve-ops-")
    add_model(root, "custom", os.path.join(made, "scale_add.pt"), SCALE_ADD_CONFIG)
    os.environ["PTSERVE_OPERATOR_LIBRARY"] = TEST_OPS
    try:
        with Server(repository=root) as s:
            x = np.ones((1, 4), dtype=np.float32)
            np.testing.assert_allclose(scale_add(s, "custom", x), x * 2.5 + 1)
    finally:
        del os.environ["PTSERVE_OPERATOR_LIBRARY"]


def test_per_model_libraries_and_their_failures_stay_with_their_model(made):
    root = make_repository(["mlp"])
    scale_add_pt = os.path.join(made, "scale_add.pt")
    lib = {"lib/libptserve_test_ops.so": TEST_OPS}
    add_model(root, "custom", scale_add_pt, SCALE_ADD_CONFIG,
              {"OPERATOR_LIBRARIES": "lib/libptserve_test_ops.so"}, lib)
    add_model(root, "crash", scale_add_pt, SCALE_ADD_CONFIG,
              {"OPERATOR_LIBRARIES": "libcrash.so"}, {"libcrash.so": CRASH_OPS})
    add_model(root, "notlib", scale_add_pt, SCALE_ADD_CONFIG,
              {"OPERATOR_LIBRARIES": "libops.so"}, {"libops.so": b"not an ELF file\n"})
    add_model(root, "missing", scale_add_pt, SCALE_ADD_CONFIG,
              {"OPERATOR_LIBRARIES": "libnothere.so"})
    add_model(root, "escape", scale_add_pt, SCALE_ADD_CONFIG,
              {"OPERATOR_LIBRARIES": "../custom/lib/libptserve_test_ops.so"})
    add_model(root, "absolute", scale_add_pt, SCALE_ADD_CONFIG,
              {"OPERATOR_LIBRARIES": TEST_OPS})
    add_model(root, "link", scale_add_pt, SCALE_ADD_CONFIG, {"OPERATOR_LIBRARIES": "libops.so"})
    os.symlink(TEST_OPS, os.path.join(root, "link", "libops.so"))
    # Registers the namespace ptserve_test again: throws from its constructor once "custom"'s
    # library is in the process.
    add_model(root, "duplicate", scale_add_pt, SCALE_ADD_CONFIG,
              {"OPERATOR_LIBRARIES": "libdup.so"}, {"libdup.so": DUPLICATE_OPS})
    with Server(repository=root, args=["--model-control-mode", "explicit",
                                       "--load-model", "mlp,custom"]) as s:
        assert state(s, "custom") == 200, reason(s, "custom")
        x = np.arange(8, dtype=np.float32).reshape(2, 4)
        np.testing.assert_allclose(scale_add(s, "custom", x), x * 2.5 + 1)
        assert "loaded for model 'custom'" in s.log()
        expected = {
            "crash": "crashed (signal 11",
            "notlib": "not a shared library",
            "missing": "OPERATOR_LIBRARIES: 'libnothere.so' does not exist",
            "escape": "OPERATOR_LIBRARIES: '../custom/lib/libptserve_test_ops.so' has a '..' component",
            "absolute": "is an absolute path",
            "link": "resolves outside",
            "duplicate": "operator library",
        }
        for name, message in expected.items():
            status, body = s.manage(f"/v2/repository/models/{name}/load", {})
            assert status != 200, (name, body)
            why = reason(s, name) + " " + str(body)
            assert message in why, (name, why)
            assert "not loaded into the server" in why or name not in ("crash", "duplicate")
        # libtorch's c10::Error from the constructor: std::terminate, or caught in the child.
        why = reason(s, "duplicate")
        assert "crashed (signal 6" in why or "threw an exception from its constructor" in why, why
        assert "Only a single TORCH_LIBRARY" in why, why
        # Still one server, serving the others.
        assert s.proc.poll() is None
        assert mlp_serves(s)
        np.testing.assert_allclose(scale_add(s, "custom", x), x * 2.5 + 1)


def test_a_failing_operator_library_flag_stops_the_start():
    root = tempfile.mkdtemp(prefix="ptserve-ops-")
    for path, message in [("/nonexistent/libops.so", "No such file or directory"),
                          (CRASH_OPS, "crashed (signal 11"), (DUPLICATE_OPS, "Only a single TORCH_LIBRARY")]:
        s = Server(repository=root, args=["--operator-library", TEST_OPS, "--operator-library", path])
        with pytest.raises(RuntimeError):
            s.start()
        assert s.proc.wait(30) == 1
        assert f"--operator-library: operator library {path}" in s.log(), s.log()
        assert message in s.log(), s.log()
        s.stop()
