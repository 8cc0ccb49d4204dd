"""PyTorch 2 models: AOTInductor packages (.pt2) and TorchScript that uses PyTorch 2 operators.

On a libtorch 2.6 build (Debian 13, scripts/test-debian13.sh) the packages of examples/pytorch2
are served, batched and compared with Python; on the libtorch 1.13 build (Debian 12) both kinds
fail to load with an error that says what would serve them, while the other models serve.
"""
import concurrent.futures
import glob
import io
import json
import os
import re
import shutil
import signal
import tempfile
import time
import zipfile

import numpy as np
import pytest

from ptserve_harness import (EXAMPLES, REFERENCE, ROOT, LoadGenerator, Server, add_version,
                             case_inputs, reference, wait_for)

PYTORCH2 = os.path.join(ROOT, "examples", "pytorch2")
FIXTURES = os.path.join(ROOT, "tests", "fixtures", "pytorch2")


def libtorch_has_aoti():
    """Whether the binary under test serves AOTInductor packages (its start-up line says)."""
    with Server(repository=tempfile.mkdtemp(prefix="ptserve-empty-"), wait_ready=False) as s:
        for _ in range(100):
            if "AOTInductor" in s.log():
                break
            import time
            time.sleep(0.05)
        return "no AOTInductor" not in s.log()


AOTI = libtorch_has_aoti()
needs_aoti = pytest.mark.skipif(not AOTI, reason="this build's libtorch (< 2.6) has no AOTInductor")
needs_113 = pytest.mark.skipif(AOTI, reason="checks the libtorch 1.13 build's errors")


def repository(models, extra_dirs=()):
    """A temporary repository of example models (TorchScript or PyTorch 2) and fixture dirs."""
    root = tempfile.mkdtemp(prefix="ptserve-pt2-")
    for name in models:
        src = os.path.join(PYTORCH2 if os.path.isdir(os.path.join(PYTORCH2, name)) else EXAMPLES, name)
        os.makedirs(os.path.join(root, name))
        shutil.copy(os.path.join(src, "config.pbtxt"), os.path.join(root, name))
        os.symlink(os.path.join(src, "1"), os.path.join(root, name, "1"))
    for d in extra_dirs:
        shutil.copytree(d, os.path.join(root, os.path.basename(d)))
    return root


def index(server):
    status, entries = server.manage("/v2/repository/index", {})
    assert status == 200
    return {(e["name"], e.get("version", "")): e for e in entries}


def close(actual, expected, ref):
    tol = ref.get("tolerance", {"atol": 1e-4, "rtol": 1e-4})
    np.testing.assert_allclose(np.asarray(actual, np.float64), np.asarray(expected, np.float64),
                               atol=tol["atol"], rtol=tol["rtol"])


def infer(server, model, inputs, conn=None):
    status, out = server.json("POST", f"/v2/models/{model}/infer", {"inputs": inputs}, conn=conn)
    assert status == 200, out
    return {o["name"]: o for o in out["outputs"]}


# --------------------------------------------------------------------------------------------
# libtorch 2.6: AOTInductor packages


@pytest.fixture(scope="module")
def pt2_server():
    with Server(repository=repository(["mlp", "mlp_aoti", "text_aoti"],
                                      [os.path.join(FIXTURES, "attention")])) as s:
        yield s


@needs_aoti
@pytest.mark.parametrize("model", ["mlp_aoti", "text_aoti"])
def test_aoti_package_answers_like_python(pt2_server, model):
    status, meta = pt2_server.json("GET", f"/v2/models/{model}")
    assert status == 200 and meta["platform"] == "torch_aoti"
    assert all(i["shape"][0] == -1 for i in meta["inputs"])
    ref = reference(model)
    for case in ref["cases"]:
        got = infer(pt2_server, model, case_inputs(ref, case))
        for name, want in case["outputs"].items():
            assert got[name]["shape"] == want["shape"], case["name"]
            close(got[name]["data"], want["data"], ref)


@needs_aoti
def test_aoti_package_matches_the_torchscript_model(pt2_server):
    """mlp_aoti holds the weights of mlp: the two formats answer alike."""
    ref = reference("mlp")
    for case in ref["cases"]:
        a = infer(pt2_server, "mlp", case_inputs(ref, case))["OUTPUT__0"]["data"]
        b = infer(pt2_server, "mlp_aoti", case_inputs(ref, case))["OUTPUT__0"]["data"]
        np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-4)


@needs_aoti
@pytest.mark.parametrize("model", ["mlp_aoti", "text_aoti"])
def test_aoti_package_batches_dynamically(pt2_server, model):
    """Concurrent single-row requests are batched (X-Batch-Size > 1) and each gets the answer
    it gets alone."""
    ref = reference(model)
    case = [c for c in ref["cases"] if c["inputs"][next(iter(c["inputs"]))]["shape"][0] > 1][0]
    full = case_inputs(ref, case)
    rows = full[0]["shape"][0]
    singles = []
    for r in range(rows):
        inputs = []
        for t in full:
            per_row = int(np.prod(t["shape"][1:]))
            inputs.append({"name": t["name"], "datatype": t["datatype"], "shape": [1] + t["shape"][1:],
                           "data": t["data"][r * per_row:(r + 1) * per_row]})
        singles.append(inputs)
    alone = [infer(pt2_server, model, s) for s in singles]
    out_name = next(iter(case["outputs"]))

    def send(i):
        conn = pt2_server.connection()
        status, hdrs, body = pt2_server.request(
            "POST", f"/v2/models/{model}/infer", {"inputs": singles[i % rows]}, conn=conn)
        conn.close()
        assert status == 200, body
        return i % rows, int(hdrs["x-batch-size"]), json.loads(body)

    sizes = []
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for r, size, out in pool.map(send, range(rows * 40)):
            sizes.append(size)
            got = {o["name"]: o for o in out["outputs"]}[out_name]["data"]
            np.testing.assert_allclose(got, alone[r][out_name]["data"], atol=1e-4, rtol=1e-4)
    assert max(sizes) > 1, f"no request was batched: {sorted(set(sizes))}"


@needs_aoti
def test_aoti_package_checks_shapes_before_running(pt2_server):
    """AOTInductor code checks no shapes itself: a wrong shape or type is a 400 from ptserve,
    and the model still serves afterwards."""
    bad = [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 100], "data": [0.0] * 100},
           {"name": "INPUT__0", "datatype": "INT64", "shape": [1, 784], "data": [0] * 784}]
    for inputs in bad:
        status, out = pt2_server.json("POST", "/v2/models/mlp_aoti/infer", {"inputs": [inputs]})
        assert status == 400 and "INPUT__0" in out["error"], out
    ref = reference("mlp_aoti")
    got = infer(pt2_server, "mlp_aoti", case_inputs(ref, ref["cases"][0]))
    close(got["OUTPUT__0"]["data"], ref["cases"][0]["outputs"]["OUTPUT__0"]["data"], ref)


@needs_aoti
def test_torchscript_with_pytorch2_operators_answers_exactly(pt2_server):
    with open(os.path.join(FIXTURES, "attention_reference.json")) as f:
        ref = json.load(f)
    x = ref["input"]
    got = infer(pt2_server, "attention",
                [{"name": "INPUT__0", "datatype": "FP32", "shape": x["shape"], "data": x["data"]}])
    assert got["OUTPUT__0"]["shape"] == ref["output"]["shape"]
    np.testing.assert_allclose(got["OUTPUT__0"]["data"], ref["output"]["data"], atol=1e-5, rtol=1e-5)


def rewrite_package(src, dst, change):
    """Copies a .pt2 zip, passing each (name, bytes) through change() (None drops it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = change(item.filename, zin.read(item.filename))
            if data is not None:
                zout.writestr(item, data)


@needs_aoti
def test_broken_packages_fail_alone_with_clear_errors():
    package = os.path.join(PYTORCH2, "mlp_aoti", "1", "model.pt2")
    root = repository(["mlp_aoti"])
    with open(package, "rb") as f:
        whole = f.read()
    cases = {
        "truncated": lambda d: open(d, "wb").write(whole[:len(whole) // 2]),
        "corrupt": lambda d: open(d, "wb").write(b"PK\x03\x04" + os.urandom(4096)),
        "cuda": lambda d: rewrite_package(package, d, lambda n, b: json.dumps(
            {**json.loads(b), "AOTI_DEVICE_KEY": "cuda"}).encode() if n.endswith("_metadata.json") else b),
        "nolib": lambda d: rewrite_package(package, d, lambda n, b: None if n.endswith(".so") else b),
        "pre_cxx11_abi": lambda d: rewrite_package(package, d, lambda n, b: b.replace(
            b"_GLIBCXX_USE_CXX11_ABI=1", b"_GLIBCXX_USE_CXX11_ABI=0") if n.endswith(".cpp") else b),
    }
    for name, make in cases.items():
        os.makedirs(os.path.join(root, name, "1"))
        shutil.copy(os.path.join(PYTORCH2, "mlp_aoti", "config.pbtxt"), os.path.join(root, name))
        with open(os.path.join(root, name, "config.pbtxt")) as f:
            text = f.read().replace('name: "mlp_aoti"', f'name: "{name}"')
        with open(os.path.join(root, name, "config.pbtxt"), "w") as f:
            f.write(text)
        make(os.path.join(root, name, "1", "model.pt2"))
    expected = {"truncated": "not an AOTInductor package", "corrupt": "not an AOTInductor package",
                "cuda": "compiled for device 'cuda'", "nolib": "packaged as C++ only",
                "pre_cxx11_abi": "_GLIBCXX_USE_CXX11_ABI=0"}
    with Server(repository=root, args=["--strict-readiness", "false"]) as s:
        entries = index(s)
        for name, words in expected.items():
            e = entries.get((name, "1")) or entries.get((name, ""))
            assert e and e["state"] == "UNAVAILABLE", (name, e)
            assert words in e["reason"], (name, e["reason"])
        ref = reference("mlp_aoti")
        got = infer(s, "mlp_aoti", case_inputs(ref, ref["cases"][0]))
        close(got["OUTPUT__0"]["data"], ref["cases"][0]["outputs"]["OUTPUT__0"]["data"], ref)
        assert s.proc.poll() is None


@needs_aoti
def test_extraction_directory_is_configurable_and_cleaned():
    extract = tempfile.mkdtemp(prefix="ptserve-extract-")
    with Server(repository=repository(["mlp_aoti"]),
                args=["--aoti-extract-dir", extract, "--model-control-mode", "explicit",
                      "--load-model", "mlp_aoti"]) as s:
        assert glob.glob(os.path.join(extract, "ptserve-aoti-*", "model.so")), os.listdir(extract)
        status, out = s.manage("/v2/repository/models/mlp_aoti/unload")
        assert status == 200, out
        for _ in range(100):
            if not os.listdir(extract):
                break
            import time
            time.sleep(0.1)
        assert os.listdir(extract) == []
        status, out = s.manage("/v2/repository/models/mlp_aoti/load")
        assert status == 200, out
        ref = reference("mlp_aoti")
        infer(s, "mlp_aoti", case_inputs(ref, ref["cases"][0]))
    # A folder that cannot be written is a load error naming the flag.
    with Server(repository=repository(["mlp_aoti"]),
                args=["--aoti-extract-dir", "/proc/ptserve-no-such-dir", "--strict-readiness", "false"]) as s:
        e = index(s)[("mlp_aoti", "1")]
        assert e["state"] == "UNAVAILABLE" and "--aoti-extract-dir" in e["reason"], e


@needs_aoti
def test_static_batch_package_is_served_one_request_at_a_time():
    torch = pytest.importorskip("torch")
    root = repository([])
    os.makedirs(os.path.join(root, "static", "1"))
    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    ep = torch.export.export(model, (torch.randn(1, 4),))
    torch._inductor.aoti_compile_and_package(
        ep, package_path=os.path.join(root, "static", "1", "model.pt2"))
    with open(os.path.join(root, "static", "config.pbtxt"), "w") as f:
        f.write('name: "static"\nplatform: "torch_aoti"\nmax_batch_size: 8\n'
                'input [ { name: "INPUT__0" data_type: TYPE_FP32 dims: [ 4 ] } ]\n'
                'output [ { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [ 3 ] } ]\n'
                'dynamic_batching { max_queue_delay_microseconds: 2000 }\n')
    with Server(repository=root) as s:
        assert "static batch dimension of 1" in s.log()
        x = [[0.5, -1.0, 2.0, 0.25]]
        with torch.inference_mode():
            want = model(torch.tensor(x)).reshape(-1).tolist()
        got = infer(s, "static", [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 4],
                                   "data": x[0]}])
        np.testing.assert_allclose(got["OUTPUT__0"]["data"], want, atol=1e-5)
        status, out = s.json("POST", "/v2/models/static/infer", {"inputs": [
            {"name": "INPUT__0", "datatype": "FP32", "shape": [2, 4], "data": x[0] * 2}]})
        assert status == 400, out


# --------------------------------------------------------------------------------------------
# libtorch 2.6: the lifecycle of packages is the lifecycle of TorchScript models (the repository
# and the scheduler do not know which backend runs)

PREDICT = {"data": [0.1] * 784}


def add_package_version(root, model, version, content=None):
    return add_version(root, model, version, content, source=PYTORCH2, filename="model.pt2")


@needs_aoti
def test_aoti_hot_update_and_broken_version_without_failures():
    """Poll mode under load: a new package version takes over with no failed or lost request;
    a truncated version 3 never takes traffic and version 2 keeps serving."""
    root = repository(["mlp_aoti"])
    with Server(repository=root, args=["--model-control-mode", "poll", "--repository-poll-secs", "1"]) as s:
        with LoadGenerator(s, "/predict/mlp_aoti", PREDICT, threads=4) as load:
            time.sleep(0.5)
            add_package_version(root, "mlp_aoti", 2)
            assert wait_for(lambda: load.versions.get("2", 0) > 20), load.versions
            with open(os.path.join(PYTORCH2, "mlp_aoti", "1", "model.pt2"), "rb") as f:
                whole = f.read()
            add_package_version(root, "mlp_aoti", 3, whole[:len(whole) // 3])
            assert wait_for(lambda: "version 3 failed to load" in s.log(), timeout=60), s.log()[-2000:]
            before = load.versions.get("2", 0)
            assert wait_for(lambda: load.versions.get("2", 0) > before + 20)
        assert load.lost == [], load.lost[:3]
        assert load.statuses == {200: load.sent}, load.statuses
        assert "3" not in load.versions and load.versions.get("1", 0) > 0, load.versions
        e = index(s)[("mlp_aoti", "3")]
        assert e["state"] == "UNAVAILABLE" and "not an AOTInductor package" in e["reason"], e


@needs_aoti
def test_ab_split_between_torchscript_and_its_aoti_package():
    """The migration a user makes: control = the TorchScript MLP, candidate = the same weights as
    an AOTInductor package, and a shadow of the package whose answers are compared with
    control's. Both variants answer, the split follows the weights, the shadow agrees."""
    root = repository(["mlp", "mlp_aoti"])
    os.makedirs(os.path.join(root, "ab"))
    with open(os.path.join(root, "ab", "config.pbtxt"), "w") as f:
        f.write('name: "ab"\n'
                'routing {\n'
                '  variant { name: "torchscript" model: "mlp" version: "1" weight: 1 }\n'
                '  variant { name: "aoti" model: "mlp_aoti" version: "1" weight: 1 }\n'
                '  variant { name: "aoti_shadow" model: "mlp_aoti" version: "1" shadow: true }\n'
                '}\n')
    with Server(repository=root) as s:
        conn = s.connection()
        counts, answers = {}, {}
        for _ in range(400):
            status, hdrs, data = s.request("POST", "/predict/ab", json.dumps(PREDICT), conn=conn)
            assert status == 200, data
            v = hdrs["x-variant"]
            counts[v] = counts.get(v, 0) + 1
            answers.setdefault(v, json.loads(data))
        # Binomial(400, 0.5): sd 10; allow 5 sd.
        assert abs(counts.get("aoti", 0) - 200) < 50, counts
        a, b = answers["torchscript"], answers["aoti"]
        assert a["model_name"] == "mlp" and b["model_name"] == "mlp_aoti", (a, b)
        np.testing.assert_allclose(np.asarray(a["prediction"], np.float64),
                                   np.asarray(b["prediction"], np.float64), atol=1e-4, rtol=1e-4)
        status, out = s.manage("/v2/repository/models/ab/routing", {})
        assert status == 200, out
        shadow = {v["name"]: v for v in out["variants"]}["aoti_shadow"]
        assert shadow["compared"] > 0 and shadow["max_abs_diff"] < 1e-4, shadow


@needs_aoti
def test_sigterm_answers_every_accepted_aoti_request():
    root = repository(["mlp_aoti"])
    s = Server(repository=root, args=["--drain-secs", "2", "--exit-timeout-secs", "20"])
    s.start()
    with LoadGenerator(s, "/predict/mlp_aoti", PREDICT, threads=6) as load:
        time.sleep(1.0)
        s.proc.send_signal(signal.SIGTERM)
        assert wait_for(lambda: s.request("GET", "/v2/health/ready")[0] == 503, timeout=2)
        load.new_connections.clear()
        code = s.proc.wait(30)
    assert code == 0, s.log()
    assert load.sent > 50
    assert load.lost == [], (len(load.lost), load.lost[:3])
    assert load.statuses == {200: load.sent}, load.statuses
    s.stop()


@needs_aoti
def test_aoti_requests_are_counted_in_the_metrics(pt2_server):
    ref = reference("mlp_aoti")
    for _ in range(3):
        infer(pt2_server, "mlp_aoti", case_inputs(ref, ref["cases"][0]))
    status, _, body = pt2_server.request("GET", "/metrics")
    assert status == 200
    text = body.decode()
    lines = [l for l in text.splitlines()
             if l.startswith("ptserve_inference_rows_total{") and 'model="mlp_aoti"' in l]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) >= 3, lines


@needs_aoti
def test_aoti_package_can_be_profiled(pt2_server):
    """POST .../profile works on a package as on TorchScript: the executions are captured, and the
    operators the compiled code calls through libtorch's dispatcher are named (few: on this
    package the bias broadcast's copies and views; its GEMMs and fused kernels bypass it)."""
    with LoadGenerator(pt2_server, "/predict/mlp_aoti", PREDICT, threads=2) as load:
        status, out = pt2_server.manage("/v2/repository/models/mlp_aoti/profile",
                                        {"requests": 3, "timeout_ms": 60000})
    assert status == 200, out
    assert out["executions"] == 3 and not out["timed_out"], out
    names = {op["name"] for op in out["operators"]}
    assert names, out
    assert load.lost == [] and load.statuses == {200: load.sent}, load.statuses


# --------------------------------------------------------------------------------------------
# libtorch 1.13: clear errors, the other models unaffected


@needs_113
def test_113_build_explains_what_serves_pytorch2_models():
    root = repository(["mlp"], [os.path.join(FIXTURES, "attention")])
    os.makedirs(os.path.join(root, "packaged", "1"))
    with open(os.path.join(root, "packaged", "1", "model.pt2"), "wb") as f:
        f.write(b"PK\x05\x06" + b"\0" * 18)  # any file: the build cannot open packages at all
    with Server(repository=root, args=["--strict-readiness", "false"]) as s:
        entries = index(s)
        e = entries.get(("packaged", "1")) or entries.get(("packaged", ""))
        assert e and e["state"] == "UNAVAILABLE", e
        assert "no AOTInductor; build against libtorch >= 2.6" in e["reason"], e
        e = entries.get(("attention", "1")) or entries.get(("attention", ""))
        assert e and e["state"] == "UNAVAILABLE", e
        assert "aten::scaled_dot_product_attention" in e["reason"], e
        assert "libtorch 2.6" in e["reason"], e
        ref = reference("mlp")
        got = infer(s, "mlp", case_inputs(ref, ref["cases"][0]))
        close(got["OUTPUT__0"]["data"], ref["cases"][0]["outputs"]["OUTPUT__0"]["data"], ref)
