"""Self-tuning (parameter AUTOTUNE, flag --autotune-budget-ms, ptserve-tune): the server measures
a model at load, serves the setting it chose, shows it in /v2/models/{m}/config and the metrics,
answers exactly as before, tunes again on a reload; bad values are clear errors; ptserve-tune
--write saves a config the server then serves without tuning."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from ptserve_harness import (BUILD, EXAMPLES, ROOT, LoadGenerator, Server, case_inputs,
                             make_repository, reference)

sys.path.insert(0, os.path.join(ROOT, "tools"))
import ptserve_config  # noqa: E402

TUNE = os.path.join(BUILD, "src", "server", "ptserve-tune")
BUDGET_MS = "600"


def tuned_config(model, params=None, name=None):
    cfg = ptserve_config.load(os.path.join(EXAMPLES, model, "config.pbtxt"))
    if name:
        cfg.name = name
    ptserve_config.set_parameters(cfg, {"AUTOTUNE": "true", **(params or {})})
    return ptserve_config.dumps(cfg)


def repository(models):
    """{served name: (example model, extra parameters)} -> a repository (version dirs linked)."""
    extra = {f"{name}/config.pbtxt": tuned_config(model, params, name)
             for name, (model, params) in models.items()}
    repo = make_repository([], extra)
    for name, (model, _) in models.items():
        os.symlink(os.path.join(EXAMPLES, model, "1"), os.path.join(repo, name, "1"))
    return repo


def metric_values(text, name):
    """{labels string: value} of one metric family."""
    out = {}
    for line in text.splitlines():
        m = re.match(rf"{name}\{{(.*)\}} (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def chosen(config):
    groups = config["instance_group"]
    assert len(groups) == 1 and groups[0]["kind"] == "KIND_CPU", groups
    threads = int(config["parameters"]["INTRA_OP_THREAD_COUNT"]["string_value"])
    batch = config.get("dynamic_batching", {}).get("preferred_batch_size", [1])
    return groups[0]["count"], threads, batch


@pytest.fixture(scope="module")
def tuned_server():
    repo = repository({"mlp": ("mlp", {}), "text": ("text", {"AUTOTUNE_P99_US": "50000"}),
                       "digits": ("digits", {})})
    with Server(repository=repo, args=["--autotune-budget-ms", BUDGET_MS, "--cpus", "2"],
                ready_timeout=600) as s:
        yield s
    shutil.rmtree(repo, ignore_errors=True)


@pytest.mark.parametrize("name", ["mlp", "text", "digits"])
def test_the_tuned_setting_is_served_shown_and_measured(tuned_server, name):
    s = tuned_server
    status, config = s.json("GET", f"/v2/models/{name}/config")
    assert status == 200, config
    instances, threads, batch = chosen(config)
    assert 1 <= instances and 1 <= threads and instances * threads <= 2, (instances, threads)
    assert len(batch) == 1 and batch[0] >= 1 and batch[0] & (batch[0] - 1) == 0
    assert batch[0] <= max(config["max_batch_size"], 1)
    # The log holds the measured table and the choice, and the version serves what it chose.
    log = s.log()
    assert f"model '{name}' AUTOTUNE: chosen: instances={instances} " \
           f"intra_op_threads={threads} batch={batch[0]}" in log
    assert re.search(rf"model '{name}' version 1 ready: {instances} instance\(s\) x {threads} "
                     rf"intra-op thread\(s\)", log), log[-3000:]
    status, _, text = s.request("GET", "/metrics")
    text = text.decode()
    settings = metric_values(text, "ptserve_model_autotune_setting")
    assert settings[f'model="{name}",version="1",setting="instances"'] == instances
    assert settings[f'model="{name}",version="1",setting="intra_op_threads"'] == threads
    assert settings[f'model="{name}",version="1",setting="batch_size"'] == batch[0]
    assert metric_values(text, "ptserve_model_autotune_rows_per_second")[
        f'model="{name}",version="1"'] > 0
    seconds = metric_values(text, "ptserve_model_autotune_seconds")[f'model="{name}",version="1"']
    assert 0 < seconds < 60


@pytest.mark.parametrize("name", ["mlp", "text"])
def test_the_tuned_model_answers_like_the_reference(tuned_server, name):
    ref = reference(name)
    for case in ref["cases"]:
        status, out = tuned_server.json("POST", f"/v2/models/{name}/infer",
                                        {"inputs": case_inputs(ref, case)})
        assert status == 200, out
        for got in out["outputs"]:
            want = case["outputs"][got["name"]]
            assert got["shape"] == want["shape"]
            np.testing.assert_allclose(got["data"], want["data"], rtol=1e-4, atol=1e-4)


def test_concurrent_requests_all_succeed_and_batches_respect_the_choice(tuned_server):
    s = tuned_server
    _, config = s.json("GET", "/v2/models/mlp/config")
    _, _, batch = chosen(config)
    x = np.random.default_rng(0).random((1, 784), dtype=np.float32)
    body = {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 784],
                        "data": x.reshape(-1).tolist()}]}
    def batch_buckets():
        _, _, text = s.request("GET", "/metrics")
        buckets = metric_values(text.decode(), "ptserve_inference_batch_size_bucket")
        return {re.search(r'le="([^"]+)"', k).group(1): v for k, v in buckets.items()
                if 'model="mlp"' in k}

    before = batch_buckets()  # the warm-up ran single requests of up to 64 rows
    with LoadGenerator(s, "/v2/models/mlp/infer", body, threads=8) as load:
        time.sleep(2)
    assert load.lost == [] and load.statuses == {200: load.sent}, (load.statuses, load.lost[:3])
    # No batch larger than the preferred size formed from single-row requests (the largest
    # preferred size the queued rows make goes, with or without a queue delay).
    after = batch_buckets()
    grown = {le: after[le] - before.get(le, 0) for le in after}
    assert grown["+Inf"] > 0
    for le, count in grown.items():
        if le != "+Inf" and float(le) >= batch[0]:
            assert count == grown["+Inf"], (batch, grown)


def test_a_reload_tunes_again(tuned_server):
    s = tuned_server
    before = s.log().count("model 'digits' AUTOTUNE: chosen:")
    status, out = s.manage("/v2/repository/models/digits/load")
    assert status == 200, out
    assert s.log().count("model 'digits' AUTOTUNE: chosen:") == before + 1
    assert s.request("GET", "/v2/models/digits/ready")[0] == 200


@pytest.mark.parametrize("params,message", [
    ({"AUTOTUNE": "maybe"}, "parameter AUTOTUNE: 'maybe' is not a boolean"),
    ({"AUTOTUNE": "true", "AUTOTUNE_P99_US": "-3"}, "AUTOTUNE_P99_US: '-3'"),
    ({"AUTOTUNE": "true", "AUTOTUNE_P99_US": "1e9999"}, "AUTOTUNE_P99_US"),
])
def test_bad_values_are_clear_errors(tuned_server, params, message):
    cfg = ptserve_config.load(os.path.join(EXAMPLES, "mlp", "config.pbtxt"))
    ptserve_config.set_parameters(cfg, params)
    body = {"parameters": {"config": json.dumps(ptserve_config.to_dict(cfg))}}
    status, out = tuned_server.manage("/v2/repository/models/mlp/load", body)
    assert status == 400, out
    assert message in out["error"], out
    # The served version is untouched.
    assert tuned_server.request("GET", "/v2/models/mlp/ready")[0] == 200


def test_an_unmeetable_target_serves_the_fastest_answer_and_says_so():
    repo = repository({"mlp": ("mlp", {"AUTOTUNE_P99_US": "1"})})
    try:
        with Server(repository=repo, args=["--autotune-budget-ms", "300"]) as s:
            assert "no setting met AUTOTUNE_P99_US 1" in s.log()
            assert s.request("GET", "/v2/models/mlp/ready")[0] == 200
    finally:
        shutil.rmtree(repo, ignore_errors=True)


def run_tune(*args):
    return subprocess.run([TUNE, *args], capture_output=True, text=True, timeout=600)


def test_ptserve_tune_writes_a_config_the_server_serves():
    repo = make_repository(["digits"])
    try:
        r = run_tune("--model-repository", repo, "--model", "digits", "--budget-ms", "400",
                     "--write")
        assert r.returncode == 0, r.stderr[-3000:]
        m = re.search(r"chosen: instances=(\d+) intra_op_threads=(\d+) batch=(\d+) "
                      r"rows_per_s=[\d.]+ tuning_s=[\d.]+", r.stdout)
        assert m, r.stdout
        instances, threads, batch = map(int, m.groups())
        path = os.path.join(repo, "digits", "config.pbtxt")
        assert os.path.exists(path + ".bak")
        cfg = ptserve_config.load(path)
        params = ptserve_config.parameters(cfg)
        assert "AUTOTUNE" not in params and params["INTRA_OP_THREAD_COUNT"] == str(threads)
        with Server(repository=repo) as s:
            status, config = s.json("GET", "/v2/models/digits/config")
            assert status == 200
            assert chosen(config) == (instances, threads, [batch]), (config, m.group(0))
            assert "AUTOTUNE:" not in s.log()  # the saved setting loads without tuning
    finally:
        shutil.rmtree(repo, ignore_errors=True)


@pytest.mark.parametrize("args,message", [
    (["--model", "../etc"], ""),
    (["--model", "nope"], "nope"),
    (["--model", "mlp", "--budget-ms", "0"], "budget-ms"),
])
def test_ptserve_tune_refuses_bad_arguments(args, message):
    repo = make_repository(["mlp"])
    try:
        with open(os.path.join(repo, "mlp", "config.pbtxt")) as f:
            before = f.read()
        r = run_tune("--model-repository", repo, *args)
        assert r.returncode != 0
        assert message in r.stderr + r.stdout
        with open(os.path.join(repo, "mlp", "config.pbtxt")) as f:
            assert f.read() == before
    finally:
        shutil.rmtree(repo, ignore_errors=True)
