"""Hardening, model/config side (issue 13): no config, override or management call crashes the
server, exhausts its memory or reaches outside the model repository.

Each test builds a temporary repository from the example models with hostile configs, warm-up
files, overrides, padded or long requests, checks the exact error, and checks that the process is
alive and still serves the other models afterwards.
"""
import json
import os
import shutil
import tempfile
import time

import pytest

from ptserve_harness import EXAMPLES, Server, make_repository

MLP = "/v2/models/mlp/infer"
TEXT = "/v2/models/text/infer"
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

MLP_IO = ('input { name: "INPUT__0" data_type: TYPE_FP32 dims: [784] }\n'
          'output { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [10] }\n')


def mlp_body(rows=1):
    return {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [rows, 784],
                        "data": [0.5] * (784 * rows)}]}


def text_body(length, rows=1):
    return {"inputs": [
        {"name": "input_ids", "datatype": "INT64", "shape": [rows, length],
         "data": [5] * (rows * length)},
        {"name": "attention_mask", "datatype": "INT64", "shape": [rows, length],
         "data": [1] * (rows * length)}]}


def add_model(repo, name, config, source="mlp", files=None):
    """A model directory `name` with `config` and the `source` example's version 1 (linked)."""
    os.makedirs(os.path.join(repo, name), exist_ok=True)
    with open(os.path.join(repo, name, "config.pbtxt"), "w") as f:
        f.write(f'name: "{name}"\n' + config)
    os.symlink(os.path.join(EXAMPLES, source, "1"), os.path.join(repo, name, "1"))
    for rel, content in (files or {}).items():
        path = os.path.join(repo, name, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(content, bytes) else "w") as f:
            f.write(content)


def rss_mb(server):
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0


def index(server):
    status, entries = server.manage("/v2/repository/index", {})
    assert status == 200, entries
    return entries


def entry(server, name, version=None):
    found = [e for e in index(server) if e["name"] == name
             and (version is None or e.get("version", "") == version)]
    assert found, (name, index(server))
    return found


def assert_serving(server):
    """The process is alive and the good models answer."""
    assert server.proc.poll() is None, server.log()[-3000:]
    status, out = server.json("POST", MLP, mlp_body())
    assert status == 200, out
    assert server.request("GET", "/v2/health/live")[0] == 200


def override(server, name, config, expect=400):
    status, out = server.manage(f"/v2/repository/models/{name}/load",
                                {"parameters": {"config": json.dumps(config)}})
    assert status == expect, (status, out)
    return out


def mlp_config(name, **fields):
    config = {"name": name, "platform": "pytorch_libtorch", "max_batch_size": 8,
              "input": [{"name": "INPUT__0", "data_type": "TYPE_FP32", "dims": [784]}],
              "output": [{"name": "OUTPUT__0", "data_type": "TYPE_FP32", "dims": [10]}]}
    config.update(fields)
    return config


# --------------------------------------------------------------------------------------------
# Hostile config.pbtxt files at start: each model fails alone, with its reason in the log, the
# index and the metrics; the rest serve.

HOSTILE_CONFIGS = {
    # name: (config after name, words the reason must hold)
    "huge_dims": ('max_batch_size: 64\n'
                  'input { name: "INPUT__0" data_type: TYPE_FP32 dims: [1000000000, 1000000000] }\n'
                  'output { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [10] }\n',
                  ["input[0].dims", "268435456"]),
    "huge_dim": ('max_batch_size: 64\n'
                 'input { name: "INPUT__0" data_type: TYPE_FP32 dims: [9223372036854775807] }\n'
                 'output { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [10] }\n',
                 ["input[0].dims[0]", "2147483647"]),
    "huge_batch": (f"max_batch_size: {INT32_MAX}\n" + MLP_IO, ["max_batch_size", "[0, 65536]"]),
    "many_instances": ("max_batch_size: 8\n" + MLP_IO + "instance_group { count: 1000000 }\n",
                       ["instance_group[0].count", "[0, 256]"]),
    "many_levels": ("max_batch_size: 8\n" + MLP_IO +
                    "dynamic_batching { priority_levels: 2000000000 default_priority_level: 1 }\n",
                    ["priority_levels", "[0, 1024]"]),
    "huge_queue": ("max_batch_size: 8\n" + MLP_IO +
                   "dynamic_batching { default_queue_policy { max_queue_size: 4294967295 } }\n",
                   ["max_queue_size", "[0, 1048576]"]),
    "huge_timeout": ("max_batch_size: 8\n" + MLP_IO + "dynamic_batching { default_queue_policy "
                     "{ default_timeout_microseconds: 18446744073709551615 } }\n",
                     ["default_timeout_microseconds"]),
    "huge_warmup": ("max_batch_size: 8\n" + MLP_IO +
                    'model_warmup { name: "w" batch_size: 8 count: 4294967295 inputs { key: '
                    '"INPUT__0" value { data_type: TYPE_FP32 dims: [784] zero_data: true } } }\n',
                    ["model_warmup[0].count", "[0, 100]"]),
    "model_outside": ("max_batch_size: 8\n" + MLP_IO + 'default_model_filename: "/etc/passwd"\n',
                      ["default_model_filename", "absolute"]),
    "model_dotdot": ("max_batch_size: 8\n" + MLP_IO +
                     'default_model_filename: "../../mlp/1/model.pt"\n',
                     ["default_model_filename", ".."]),
    "warmup_dotdot": ("max_batch_size: 8\n" + MLP_IO +
                      'model_warmup { name: "w" batch_size: 1 inputs { key: "INPUT__0" value { '
                      'data_type: TYPE_FP32 dims: [784] input_data_file: "../../../etc/passwd" '
                      '} } }\n', ["input_data_file", ".."]),
}


@pytest.fixture(scope="module")
def hostile():
    repo = make_repository(["mlp", "text"])
    for name, (config, _) in HOSTILE_CONFIGS.items():
        add_model(repo, name, config)
    warm = ('max_batch_size: 8\n' + MLP_IO + 'model_warmup { name: "w" batch_size: 1 inputs { '
            'key: "INPUT__0" value { data_type: TYPE_FP32 dims: [784] input_data_file: "%s" } } }\n')
    # Warm-up files: a device, a symlink out of the model directory, a wrong size.
    add_model(repo, "warmup_zero", warm % "zero.bin")
    os.makedirs(os.path.join(repo, "warmup_zero", "warmup"))
    os.symlink("/dev/zero", os.path.join(repo, "warmup_zero", "warmup", "zero.bin"))
    add_model(repo, "warmup_link", warm % "passwd.bin")
    os.makedirs(os.path.join(repo, "warmup_link", "warmup"))
    os.symlink("/etc/passwd", os.path.join(repo, "warmup_link", "warmup", "passwd.bin"))
    add_model(repo, "warmup_size", warm % "short.bin", files={"warmup/short.bin": b"\0" * 100})
    add_model(repo, "warmup_ok", warm % "ok.bin", files={"warmup/ok.bin": b"\0" * 3136})
    # A model file symlinked out of its version directory.
    os.makedirs(os.path.join(repo, "model_link", "1"))
    with open(os.path.join(repo, "model_link", "config.pbtxt"), "w") as f:
        f.write('name: "model_link"\nmax_batch_size: 8\n' + MLP_IO)
    os.symlink(os.path.join(EXAMPLES, "mlp", "1", "model.pt"),
               os.path.join(repo, "model_link", "1", "model.pt"))
    with Server(repository=repo, ready_timeout=300) as s:
        yield s
    shutil.rmtree(repo, ignore_errors=True)


def test_hostile_configs_fail_alone_and_the_rest_serve(hostile):
    assert_serving(hostile)
    assert hostile.json("POST", TEXT, text_body(8))[0] == 200
    assert hostile.json("POST", "/v2/models/warmup_ok/infer", mlp_body())[0] == 200
    log = hostile.log()
    for name, (_, words) in HOSTILE_CONFIGS.items():
        entries = entry(hostile, name)
        assert all(e["state"] == "UNAVAILABLE" for e in entries), entries
        reason = " ".join(e["reason"] for e in entries)
        for w in words:
            assert w in reason, (name, w, reason)
            assert w in log, (name, w)
        status, out = hostile.json("GET", f"/v2/models/{name}/ready")
        assert status in (404, 503), (name, status)
    # Strict readiness: models that should serve do not.
    assert hostile.request("GET", "/v2/health/ready")[0] == 503


def test_warmup_files_are_confined_and_size_checked(hostile):
    zero = " ".join(e["reason"] for e in entry(hostile, "warmup_zero"))
    assert "input_data_file" in zero and "resolves outside" in zero, zero
    link = " ".join(e["reason"] for e in entry(hostile, "warmup_link"))
    assert "resolves outside" in link, link
    # Nothing about the outside file (its size) is revealed.
    size = str(os.path.getsize("/etc/passwd"))
    assert f"has {size} bytes" not in link, link
    short = " ".join(e["reason"] for e in entry(hostile, "warmup_size"))
    assert "has 100 bytes, expected 3136" in short, short
    assert_serving(hostile)


def test_a_model_file_linked_outside_its_version_directory_is_refused(hostile):
    reason = " ".join(e["reason"] for e in entry(hostile, "model_link"))
    assert "model file" in reason and "resolves outside" in reason, reason


def test_failures_are_in_the_metrics(hostile):
    status, _, body = hostile.request("GET", "/metrics")
    assert status == 200
    text = body.decode()
    for name in ["huge_dims", "many_instances", "warmup_zero"]:
        lines = [l for l in text.splitlines() if l.startswith("ptserve_model_state{")
                 and f'model="{name}"' in l and 'state="UNAVAILABLE"' in l]
        assert lines and any(l.endswith(" 1") for l in lines), (name, lines)


def test_hostile_repository_memory_stays_bounded(hostile):
    assert rss_mb(hostile) < 2000, rss_mb(hostile)


# --------------------------------------------------------------------------------------------
# Management overrides: refused with 400 naming the field, quickly, without memory growth; the
# previous load keeps serving and the server stays ready.


@pytest.fixture(scope="module")
def managed():
    repo = make_repository(["mlp", "text"])
    add_model(repo, "m2", "max_batch_size: 8\n" + MLP_IO)
    outside = tempfile.mkdtemp(prefix="ptserve-outside-")
    shutil.copy(os.path.join(EXAMPLES, "mlp", "1", "model.pt"), os.path.join(outside, "evil.pt"))
    # The operator's layout links version 1 in: m3's own version directory is real.
    os.makedirs(os.path.join(repo, "m3", "1"))
    shutil.copy(os.path.join(EXAMPLES, "mlp", "1", "model.pt"), os.path.join(repo, "m3", "1"))
    os.symlink(os.path.join(outside, "evil.pt"), os.path.join(repo, "m3", "1", "evil.pt"))
    with open(os.path.join(repo, "m3", "config.pbtxt"), "w") as f:
        f.write('name: "m3"\nmax_batch_size: 8\n' + MLP_IO)
    os.makedirs(os.path.join(repo, "m2", "warmup"), exist_ok=True)
    os.symlink("/dev/zero", os.path.join(repo, "m2", "warmup", "zero.bin"))
    with Server(repository=repo, ready_timeout=300) as s:
        s.outside = outside
        yield s
    shutil.rmtree(repo, ignore_errors=True)
    shutil.rmtree(outside, ignore_errors=True)


OVERRIDES = [
    # (id, fields, words in the error)
    ("instances 1e6", {"instance_group": [{"count": 1000000, "kind": "KIND_CPU"}]},
     ["instance_group[0].count", "[0, 256]"]),
    ("instances over the total", {"instance_group": [{"count": 200}, {"count": 200}]},
     ["instance_group[1].count", "in total"]),
    ("max_batch_size 2^31-1", {"max_batch_size": INT32_MAX}, ["max_batch_size", "65536"]),
    ("priority_levels 2e9", {"dynamic_batching": {"priority_levels": 2000000000,
                                                  "default_priority_level": 1}},
     ["priority_levels", "1024"]),
    ("default priority level", {"dynamic_batching": {"priority_levels": 2,
                                                     "default_priority_level": 9}},
     ["default_priority_level", "[1, priority_levels=2]"]),
    ("queue size", {"dynamic_batching": {"default_queue_policy": {"max_queue_size": 4000000000}}},
     ["max_queue_size"]),
    ("timeout", {"dynamic_batching": {"default_queue_policy": {
        "default_timeout_microseconds": str(2**64 - 1)}}}, ["default_timeout_microseconds"]),
    ("queue delay", {"dynamic_batching": {"max_queue_delay_microseconds": str(2**64 - 1)}},
     ["max_queue_delay_microseconds"]),
    ("preferred batch", {"dynamic_batching": {"preferred_batch_size": [9]}},
     ["preferred_batch_size[0]", "max_batch_size=8"]),
    ("huge dims", {"input": [{"name": "INPUT__0", "data_type": "TYPE_FP32",
                              "dims": [2**40, 2**40]}]}, ["input[0].dims[0]"]),
    ("item elements", {"input": [{"name": "INPUT__0", "data_type": "TYPE_FP32",
                                  "dims": [100000, 100000]}]}, ["input[0].dims", "elements"]),
    ("rank", {"input": [{"name": "INPUT__0", "data_type": "TYPE_FP32", "dims": [1] * 40}]},
     ["at most 32 dimensions"]),
    ("num_versions", {"version_policy": {"latest": {"num_versions": 4294967295}}},
     ["num_versions", "[1, 1024]"]),
    ("warm-up count", {"model_warmup": [{"name": "w", "batch_size": 1, "count": 4294967295,
                                         "inputs": {"INPUT__0": {"data_type": "TYPE_FP32",
                                                                 "dims": [784],
                                                                 "zero_data": True}}}]},
     ["model_warmup[0].count"]),
    ("warm-up dims", {"model_warmup": [{"name": "w", "batch_size": 8, "inputs": {
        "INPUT__0": {"data_type": "TYPE_FP32", "dims": [2**31], "zero_data": True}}}]},
     ["model_warmup[0].inputs['INPUT__0'].dims"]),
    ("absolute model file", {"default_model_filename": "/etc/passwd"},
     ["default_model_filename", "'/etc/passwd' is an absolute path"]),
    ("dotdot model file", {"default_model_filename": "../../mlp/1/model.pt"},
     ["default_model_filename", "'..' component"]),
    ("warm-up file /dev/zero", {"model_warmup": [{"name": "w", "batch_size": 1, "inputs": {
        "INPUT__0": {"data_type": "TYPE_FP32", "dims": [784],
                     "input_data_file": "/dev/zero"}}}]},
     ["input_data_file", "absolute"]),
    ("warm-up file linked to /dev/zero", {"model_warmup": [{"name": "w", "batch_size": 1,
                                                            "inputs": {"INPUT__0": {
                                                                "data_type": "TYPE_FP32",
                                                                "dims": [784],
                                                                "input_data_file": "zero.bin"}}}]},
     ["input_data_file", "resolves outside"]),
    ("pad value", {"dynamic_batching": {}, "parameters": {
        "PAD_INPUTS": {"string_value": "INPUT__0:1e300"}}}, ["PAD_INPUTS"]),
    ("sequence limit", {"parameters": {"MAX_SEQUENCE_LENGTH": {"string_value": "-5"}}},
     ["MAX_SEQUENCE_LENGTH"]),
]


@pytest.mark.parametrize("fields,words", [(o[1], o[2]) for o in OVERRIDES],
                         ids=[o[0] for o in OVERRIDES])
def test_hostile_overrides_are_refused(managed, fields, words):
    before = rss_mb(managed)
    start = time.time()
    out = override(managed, "m2", mlp_config("m2", **fields))
    assert time.time() - start < 20
    for w in words:
        assert w in out["error"], (w, out["error"])
    assert rss_mb(managed) < before + 500, (before, rss_mb(managed))
    assert_serving(managed)
    # The previous load of m2 keeps serving; a failed reload leaves the server ready.
    assert managed.json("POST", "/v2/models/m2/infer", mlp_body())[0] == 200
    assert managed.request("GET", "/v2/health/ready")[0] == 200


def test_a_model_file_symlinked_outside_is_refused(managed):
    out = override(managed, "m3", mlp_config("m3", default_model_filename="evil.pt"))
    assert "default_model_filename" in out["error"] and "resolves outside" in out["error"], out
    assert managed.outside not in out["error"], out  # where the link points is not revealed
    assert_serving(managed)
    assert managed.json("POST", "/v2/models/m3/infer", mlp_body())[0] == 200


def test_a_missing_model_file_is_not_found_and_the_old_load_serves(managed):
    status, out = managed.manage("/v2/repository/models/m2/load", {"parameters": {
        "config": json.dumps(mlp_config("m2", default_model_filename="nothing.pt"))}})
    assert status in (400, 404), out
    assert "nothing.pt" in out["error"], out
    assert managed.json("POST", "/v2/models/m2/infer", mlp_body())[0] == 200
    assert managed.request("GET", "/v2/health/ready")[0] == 200


def test_loading_a_model_that_does_not_exist_keeps_the_server_ready(managed):
    assert managed.request("GET", "/v2/health/ready")[0] == 200
    for name in ["nope", "nope2"]:
        status, out = managed.manage(f"/v2/repository/models/{name}/load")
        assert status == 404 and name in out["error"], out
    assert managed.request("GET", "/v2/health/ready")[0] == 200
    assert all(e["name"] not in ("nope", "nope2") for e in index(managed))


def test_good_overrides_still_load(managed):
    config = mlp_config("m2", max_batch_size=4, dynamic_batching={
        "priority_levels": 3, "default_priority_level": 2,
        "default_queue_policy": {"default_timeout_microseconds": "31536000000000",
                                 "max_queue_size": 100}})
    override(managed, "m2", config, expect=200)
    status, meta = managed.json("GET", "/v2/models/m2")
    assert status == 200 and meta["max_batch_size"] == 4, meta


def test_the_largest_allowed_sizes_load_without_memory_growth(managed):
    before = rss_mb(managed)
    config = mlp_config("m2", max_batch_size=65536,
                        instance_group=[{"count": 8, "kind": "KIND_CPU"}],
                        dynamic_batching={"priority_levels": 1024, "default_priority_level": 1,
                                          "preferred_batch_size": list(range(1, 65)),
                                          "default_queue_policy": {"max_queue_size": 1048576}},
                        version_policy={"latest": {"num_versions": 1024}})
    override(managed, "m2", config, expect=200)
    assert rss_mb(managed) < before + 500, (before, rss_mb(managed))
    status, out = managed.json("POST", "/v2/models/m2/infer", mlp_body(3))
    assert status == 200 and out["outputs"][0]["shape"] == [3, 10], out
    assert_serving(managed)


# --------------------------------------------------------------------------------------------
# Requests: sequence limits, padded batches and huge timeouts.


def text_repo():
    repo = make_repository(["mlp", "text"])
    add_model(repo, "padtext", 'max_batch_size: 8\n'
              'input { name: "input_ids" data_type: TYPE_INT64 dims: [-1] }\n'
              'input { name: "attention_mask" data_type: TYPE_INT64 dims: [-1] }\n'
              'output { name: "logits" data_type: TYPE_FP32 dims: [2] }\n'
              'dynamic_batching { max_queue_delay_microseconds: 300000 }\n'
              'parameters { key: "PAD_INPUTS" value { string_value: '
              '"input_ids:0,attention_mask:0" } }\n', source="text")
    # The MLP applied to every row of a [rows, n, 784] input: two variable dimensions, padded.
    add_model(repo, "pad3d", 'max_batch_size: 8\n'
              'input { name: "INPUT__0" data_type: TYPE_FP32 dims: [-1, -1] }\n'
              'output { name: "OUTPUT__0" data_type: TYPE_FP32 dims: [-1, 10] }\n'
              'dynamic_batching { max_queue_delay_microseconds: 1000 }\n'
              'parameters { key: "PAD_INPUTS" value { string_value: "INPUT__0:0" } }\n'
              'model_warmup { name: "w" batch_size: 1 inputs { key: "INPUT__0" value { '
              'data_type: TYPE_FP32 dims: [2, 784] zero_data: true } } }\n')
    return repo


@pytest.fixture(scope="module")
def texts():
    repo = text_repo()
    with Server(repository=repo, ready_timeout=300) as s:
        yield s
    shutil.rmtree(repo, ignore_errors=True)


@pytest.fixture(scope="module")
def small_tensors():
    repo = text_repo()
    with Server(repository=repo, args=["--max-tensor-elements", "1000"], ready_timeout=300) as s:
        yield s
    shutil.rmtree(repo, ignore_errors=True)


@pytest.mark.parametrize("length", [513, 30000])
def test_long_sequences_get_400_naming_the_input_and_the_limit(texts, length):
    status, out = texts.json("POST", TEXT, text_body(length))
    if status == 413 or (status == 400 and "512" not in out["error"]):
        pytest.skip("the HTTP layer refused the body first: " + str(out))
    assert status == 400, out
    error = out["error"]
    assert "input_ids" in error or "attention_mask" in error, error
    assert str(length) in error and "512" in error and "MAX_SEQUENCE_LENGTH" in error, error
    assert texts.json("POST", TEXT, text_body(512))[0] == 200
    assert_serving(texts)


def test_long_sequence_in_binary_form(texts):
    length = 30000
    ids = (5).to_bytes(8, "little") * length
    mask = (1).to_bytes(8, "little") * length
    head = json.dumps({"inputs": [
        {"name": "input_ids", "datatype": "INT64", "shape": [1, length],
         "parameters": {"binary_data_size": len(ids)}},
        {"name": "attention_mask", "datatype": "INT64", "shape": [1, length],
         "parameters": {"binary_data_size": len(mask)}}]}).encode()
    status, _, data = texts.request("POST", TEXT, head + ids + mask,
                                    {"Inference-Header-Content-Length": str(len(head)),
                                     "Content-Type": "application/octet-stream"})
    error = json.loads(data)["error"]
    if status == 400 and "512" not in error:
        pytest.skip("refused earlier (--max-tensor-elements): " + error)
    assert status == 400 and "30000" in error and "512" in error, error
    assert_serving(texts)


@pytest.mark.parametrize("shape", [[1, 0, 2**40], [1, 2**40, 0], [1, 0, 2**62], [1, 3, 2**30]])
def test_a_request_no_padded_batch_could_hold_is_refused(texts, shape):
    # Zero elements (or a few), but padded with any partner: [2, 1, 1099511627776] and more.
    count = shape[1] * shape[2]
    body = {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": shape,
                        "data": [0.0] * count if count < 10**6 else []}]}
    before = rss_mb(texts)
    status, out = texts.json("POST", "/v2/models/pad3d/infer", body)
    assert status == 400, out
    assert "INPUT__0" in out["error"], out
    assert rss_mb(texts) < before + 200
    assert_serving(texts)
    ok = {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 2, 784],
                      "data": [0.0] * 1568}]}
    status, out = texts.json("POST", "/v2/models/pad3d/infer", ok)
    assert status == 200 and out["outputs"][0]["shape"] == [1, 2, 10], out


def test_zero_element_requests_pad_together_safely(texts):
    import concurrent.futures
    bodies = [{"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": s, "data": []}]}
              for s in ([1, 0, 784], [1, 100000, 0], [1, 0, 100000])]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda b: texts.json("POST", "/v2/models/pad3d/infer", b), bodies))
    for status, out in results:
        assert status in (200, 400, 500), out  # the model may refuse a zero-sized input
    assert_serving(texts)


def test_padded_batches_stay_within_max_tensor_elements(small_tensors):
    texts = small_tensors
    """Two requests of 400 tokens fit alone (1000 elements); padded together [2, 400] = 800 does
    too, but three would not: no batch is ever larger than the limit, and every request is
    answered."""
    import concurrent.futures
    bodies = [text_body(400), text_body(450), text_body(300)]
    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda b: texts.request("POST", "/v2/models/padtext/infer",
                                                        json.dumps(b)), bodies))
    for status, headers, data in results:
        assert status == 200, data
        rows = int(headers["x-batch-size"])
        assert rows <= 2, rows  # 3 x 450 = 1350 > 1000
    assert_serving(texts)


def test_huge_timeouts_do_not_overflow(texts):
    body = mlp_body()
    for timeout in [INT64_MAX, 2**64 - 1, 2**62]:
        body["parameters"] = {"timeout": timeout}
        status, out = texts.json("POST", MLP, body)
        assert status in (200, 400), out
        if status == 400:
            assert "timeout" in out["error"], out
    status, out = texts.json("POST", MLP, mlp_body(), headers={"X-Timeout-Us": str(INT64_MAX)})
    assert status in (200, 400), out
    assert_serving(texts)


# --------------------------------------------------------------------------------------------
# Readiness: --strict-readiness (Triton's meaning).


def broken_repo():
    repo = make_repository(["mlp"])
    add_model(repo, "broken", "max_batch_size: -3\n")
    return repo


def test_strict_readiness_is_the_default_and_unloading_the_broken_model_restores_it():
    repo = broken_repo()
    with Server(repository=repo) as s:
        assert s.request("GET", "/v2/health/ready")[0] == 503
        assert_serving(s)
        assert s.manage("/v2/repository/models/broken/unload")[0] == 200
        assert s.request("GET", "/v2/health/ready")[0] == 200


@pytest.mark.parametrize("how", ["flag", "flag=", "env"])
def test_non_strict_readiness_is_ready_with_a_broken_model(how):
    repo = broken_repo()
    args, env = [], None
    if how == "flag":
        args = ["--strict-readiness", "false"]
    elif how == "flag=":
        args = ["--strict-readiness=false"]
    else:
        os.environ["PTSERVE_STRICT_READINESS"] = "false"
    try:
        with Server(repository=repo, args=args) as s:
            assert s.request("GET", "/v2/health/ready")[0] == 200
            assert_serving(s)
            status, out = s.json("GET", "/v2/models/broken/ready")
            assert status != 200
    finally:
        os.environ.pop("PTSERVE_STRICT_READINESS", None)


def test_failed_reload_of_a_serving_model_keeps_the_server_ready():
    repo = make_repository(["mlp"])
    with Server(repository=repo, args=["--model-control-mode", "poll",
                                       "--repository-poll-secs", "1"]) as s:
        assert s.request("GET", "/v2/health/ready")[0] == 200
        os.makedirs(os.path.join(repo, "mlp", "2"))
        with open(os.path.join(repo, "mlp", "2", "model.pt"), "wb") as f:
            f.write(b"PK\x03\x04 not a TorchScript file")
        deadline = time.time() + 30
        while "version 2 failed to load" not in s.log() and time.time() < deadline:
            time.sleep(0.2)
        assert "version 2 failed to load" in s.log()
        assert s.request("GET", "/v2/health/ready")[0] == 200
        assert_serving(s)
        v1 = entry(s, "mlp", "1")
        assert v1[0]["state"] == "READY", v1
        v2 = entry(s, "mlp", "2")
        assert v2[0]["state"] == "UNAVAILABLE" and v2[0]["reason"], v2
