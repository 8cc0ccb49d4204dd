"""The gRPC front end (KServe v2 GRPCInferenceService, grpc.health.v1) with a real gRPC client.

The Python stubs are generated at test time from the repository's .proto files with Debian's
python3-grpc-tools. Every endpoint also gets hostile input, after which the server must still be
alive and serving.
"""
import importlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import numpy as np
import pytest

from ptserve_harness import BUILD, ROOT, Server, make_repository, wait_for

grpc = pytest.importorskip("grpc")

SRC = os.path.join(ROOT, "src")


def _generate_stubs():
    out = tempfile.mkdtemp(prefix="ptserve-grpc-stubs-")
    subprocess.run(["/usr/bin/python3", "-m", "grpc_tools.protoc", "-I", SRC,
                    f"--python_out={out}", f"--grpc_python_out={out}",
                    "protocol/grpc_service.proto", "protocol/health.proto",
                    "config/model_config.proto"], check=True, cwd=SRC)
    sys.path.insert(0, out)
    return (importlib.import_module("protocol.grpc_service_pb2"),
            importlib.import_module("protocol.grpc_service_pb2_grpc"),
            importlib.import_module("protocol.health_pb2"),
            importlib.import_module("protocol.health_pb2_grpc"))


pb, pb_grpc, health_pb, health_grpc = _generate_stubs()


def channel(server, options=()):
    return grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}", options=list(options))


@pytest.fixture(scope="module")
def stub(server):
    assert server.grpc_port, server.log()
    with channel(server) as ch:
        yield pb_grpc.GRPCInferenceServiceStub(ch)


@pytest.fixture(scope="module")
def health(server):
    with channel(server) as ch:
        yield health_grpc.HealthStub(ch)


def mlp_request(values=None, rows=1, raw=False, id=""):
    x = np.random.default_rng(rows).random((rows, 784), dtype=np.float32) if values is None \
        else values
    req = pb.ModelInferRequest(model_name="mlp", id=id)
    inp = req.inputs.add(name="INPUT__0", datatype="FP32", shape=list(x.shape))
    if raw:
        req.raw_input_contents.append(x.astype("<f4").tobytes())
    else:
        inp.contents.fp32_contents.extend(x.ravel().tolist())
    return req, x


def http_mlp(server, x):
    status, out = server.json("POST", "/v2/models/mlp/infer", {"inputs": [
        {"name": "INPUT__0", "datatype": "FP32", "shape": list(x.shape),
         "data": x.ravel().tolist()}]})
    assert status == 200, out
    return np.array(out["outputs"][0]["data"], dtype=np.float32).reshape(out["outputs"][0]["shape"])


def raw_output(resp, i=0):
    out = resp.outputs[i]
    assert out.datatype == "FP32"
    return np.frombuffer(resp.raw_output_contents[i], dtype="<f4").reshape(list(out.shape))


def assert_serving(server, stub):
    """The server is alive, ready and still answers inference over gRPC and HTTP."""
    assert stub.ServerLive(pb.ServerLiveRequest(), timeout=10).live
    assert stub.ServerReady(pb.ServerReadyRequest(), timeout=10).ready
    req, x = mlp_request()
    assert raw_output(stub.ModelInfer(req, timeout=30)).shape == (1, 10)
    assert server.request("GET", "/v2/health/ready")[0] == 200


def expect_error(code, fn, *args, contains="", **kwargs):
    with pytest.raises(grpc.RpcError) as e:
        fn(*args, timeout=30, **kwargs)
    assert e.value.code() == code, (e.value.code(), e.value.details())
    assert contains in e.value.details(), e.value.details()
    return e.value.details()


def test_health_liveness_readiness_metadata(server, stub, health):
    assert stub.ServerLive(pb.ServerLiveRequest()).live
    assert stub.ServerReady(pb.ServerReadyRequest()).ready
    assert stub.ModelReady(pb.ModelReadyRequest(name="mlp")).ready
    assert stub.ModelReady(pb.ModelReadyRequest(name="mlp", version="1")).ready
    assert not stub.ModelReady(pb.ModelReadyRequest(name="nope")).ready
    assert not stub.ModelReady(pb.ModelReadyRequest(name="mlp", version="9")).ready
    meta = stub.ServerMetadata(pb.ServerMetadataRequest())
    assert meta.name == "ptserve" and "binary_tensor_data" in meta.extensions
    m = stub.ModelMetadata(pb.ModelMetadataRequest(name="mlp"))
    assert m.name == "mlp" and list(m.versions) == ["1"] and m.platform == "pytorch_libtorch"
    assert [(t.name, t.datatype, list(t.shape)) for t in m.inputs] == [("INPUT__0", "FP32", [-1, 784])]
    assert [(t.name, t.datatype, list(t.shape)) for t in m.outputs] == [("OUTPUT__0", "FP32", [-1, 10])]
    status, http_meta = server.json("GET", "/v2/models/text")
    t = stub.ModelMetadata(pb.ModelMetadataRequest(name="text"))
    assert [i.name for i in t.inputs] == [i["name"] for i in http_meta["inputs"]]
    for service in ("", "live", "ready", "inference.GRPCInferenceService"):
        r = health.Check(health_pb.HealthCheckRequest(service=service))
        assert r.status == health_pb.HealthCheckResponse.SERVING, service


def test_metadata_hostile(server, stub, health):
    expect_error(grpc.StatusCode.NOT_FOUND, stub.ModelMetadata,
                 pb.ModelMetadataRequest(name="nope"), contains="nope")
    for name in ("../mlp", "", "x" * 100000, "\x00\xff"):
        stub.ModelReady(pb.ModelReadyRequest(name=name), timeout=10)
        with pytest.raises(grpc.RpcError):
            stub.ModelMetadata(pb.ModelMetadataRequest(name=name), timeout=10)
        with pytest.raises(grpc.RpcError):
            stub.ModelConfig(pb.ModelConfigRequest(name=name), timeout=10)
    expect_error(grpc.StatusCode.NOT_FOUND, health.Check,
                 health_pb.HealthCheckRequest(service="bogus"), contains="unknown service")
    assert_serving(server, stub)


def test_infer_typed_and_raw_equal_http(server, stub):
    req, x = mlp_request(rows=3, id="typed-1")
    resp, call = stub.ModelInfer.with_call(req, metadata=[("x-request-id", "rid-42")])
    want = http_mlp(server, x)
    assert resp.model_name == "mlp" and resp.model_version == "1" and resp.id == "typed-1"
    np.testing.assert_allclose(raw_output(resp), want, rtol=1e-5, atol=1e-5)
    assert resp.parameters["batch_size"].int64_param >= 3
    assert "compute_time_us" in resp.parameters
    md = dict(call.initial_metadata())
    assert md["x-request-id"] == "rid-42" and md["x-model-version"] == "1"
    raw_req, _ = mlp_request(values=x, raw=True)
    np.testing.assert_allclose(raw_output(stub.ModelInfer(raw_req)), want, rtol=1e-5, atol=1e-5)


def test_infer_two_int64_inputs_and_requested_output(server, stub):
    ids = [[5, 6, 7, 8]]
    req = pb.ModelInferRequest(model_name="text")
    a = req.inputs.add(name="input_ids", datatype="INT64", shape=[1, 4])
    a.contents.int64_contents.extend(ids[0])
    b = req.inputs.add(name="attention_mask", datatype="INT64", shape=[1, 4])
    b.contents.int64_contents.extend([1, 1, 1, 1])
    req.outputs.add(name="logits")
    resp = stub.ModelInfer(req)
    got = raw_output(resp)
    status, out = server.json("POST", "/v2/models/text/infer", {"inputs": [
        {"name": "input_ids", "datatype": "INT64", "shape": [1, 4], "data": ids[0]},
        {"name": "attention_mask", "datatype": "INT64", "shape": [1, 4], "data": [1, 1, 1, 1]}]})
    assert status == 200
    np.testing.assert_allclose(got.ravel(), out["outputs"][0]["data"], rtol=1e-5, atol=1e-5)


def test_infer_hostile_inputs(server, stub):
    INVALID = grpc.StatusCode.INVALID_ARGUMENT
    # Raw contents of the wrong size.
    req, _ = mlp_request(raw=True)
    req.raw_input_contents[0] = req.raw_input_contents[0][:-1]
    expect_error(INVALID, stub.ModelInfer, req, contains="has 3135 bytes but shape [1,784]")
    # More raw entries than inputs.
    req, _ = mlp_request(raw=True)
    req.raw_input_contents.append(b"\0" * 4)
    expect_error(INVALID, stub.ModelInfer, req, contains="raw_input_contents has 2 entries")
    # Unknown datatype.
    req, _ = mlp_request()
    req.inputs[0].datatype = "FLOAT32"
    expect_error(INVALID, stub.ModelInfer, req, contains="unknown datatype 'FLOAT32'")
    # A datatype the model does not take.
    req = pb.ModelInferRequest(model_name="mlp")
    req.inputs.add(name="INPUT__0", datatype="INT64", shape=[1, 784]).contents \
        .int64_contents.extend([1] * 784)
    expect_error(INVALID, stub.ModelInfer, req, contains="INPUT__0")
    # Typed contents in the wrong field / wrong count.
    req = pb.ModelInferRequest(model_name="mlp")
    req.inputs.add(name="INPUT__0", datatype="FP32", shape=[1, 784]).contents \
        .fp64_contents.extend([1.0] * 784)
    expect_error(INVALID, stub.ModelInfer, req, contains="FP32 data goes in fp32_contents")
    # No inputs; a missing input of a two-input model; an unknown input name.
    expect_error(INVALID, stub.ModelInfer, pb.ModelInferRequest(model_name="mlp"),
                 contains="no inputs")
    req = pb.ModelInferRequest(model_name="text")
    req.inputs.add(name="input_ids", datatype="INT64", shape=[1, 2]).contents \
        .int64_contents.extend([1, 2])
    expect_error(INVALID, stub.ModelInfer, req, contains="attention_mask")
    req, _ = mlp_request()
    req.inputs[0].name = "nope"
    expect_error(INVALID, stub.ModelInfer, req, contains="nope")
    # Shapes: negative, overflowing, huge.
    for shape in ([-1, 784], [2**62, 2**62], [2**40, 784]):
        req = pb.ModelInferRequest(model_name="mlp")
        req.inputs.add(name="INPUT__0", datatype="FP32", shape=shape)
        expect_error(INVALID, stub.ModelInfer, req)
    # Bad parameters, unknown model and version, routed model with a version.
    req, _ = mlp_request()
    req.parameters["timeout"].string_param = "soon"
    expect_error(INVALID, stub.ModelInfer, req, contains="'timeout'")
    req, _ = mlp_request()
    expect_error(INVALID, stub.ModelInfer, req, metadata=[("x-timeout-us", "-5")],
                 contains="X-Timeout-Us")
    req, _ = mlp_request()
    req.model_name = "nope"
    expect_error(grpc.StatusCode.NOT_FOUND, stub.ModelInfer, req)
    req, _ = mlp_request()
    req.model_version = "7"
    expect_error(grpc.StatusCode.NOT_FOUND, stub.ModelInfer, req)
    # Bytes that are not a ModelInferRequest at all.
    garbage = ptserve_raw_call(server, "/inference.GRPCInferenceService/ModelInfer",
                               b"\xff" * 64)
    # gRPC itself refuses a message that does not parse (1.51 says UNIMPLEMENTED).
    assert garbage != grpc.StatusCode.OK, garbage
    assert_serving(server, stub)


def ptserve_raw_call(server, method, payload):
    """Sends `payload` as the message bytes of `method`; returns the status code."""
    with channel(server) as ch:
        call = ch.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            call(payload, timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()


def test_metrics_and_access_log_count_grpc_requests(server, stub):
    def count():
        status, _, body = server.request("GET", "/metrics")
        for line in body.decode().splitlines():
            if line.startswith('ptserve_inference_requests_total{model="mlp",version="1",'
                               'variant="",outcome="success"}'):
                return float(line.split()[-1])
        return 0.0
    before = count()
    for _ in range(3):
        stub.ModelInfer(mlp_request()[0])
    # Counted just after each answer is handed to gRPC.
    assert wait_for(lambda: count() == before + 3, timeout=10), (before, count())


def test_stream_infer_matches_ids_and_reports_errors(server, stub):
    def requests():
        for i in range(12):
            if i == 5:
                bad, _ = mlp_request(raw=True, id="bad-5")
                bad.raw_input_contents[0] = b"\0" * 3
                yield bad
            else:
                yield mlp_request(rows=1 + i % 3, id=f"r-{i}")[0]
    got = {}
    for r in stub.ModelStreamInfer(requests(), timeout=60):
        got[r.infer_response.id] = r
    assert sorted(got) == sorted([f"r-{i}" for i in range(12) if i != 5] + ["bad-5"])
    assert "has 3 bytes" in got["bad-5"].error_message
    for i in range(12):
        if i != 5:
            r = got[f"r-{i}"]
            assert r.error_message == ""
            assert raw_output(r.infer_response).shape == (1 + i % 3, 10)
    # Unknown models and garbage inside a stream are answered per request.
    def more():
        req, _ = mlp_request(id="unknown")
        req.model_name = "nope"
        yield req
        yield pb.ModelInferRequest(model_name="mlp", id="empty")
        yield mlp_request(id="fine")[0]
    answers = {r.infer_response.id: r.error_message for r in stub.ModelStreamInfer(more(), timeout=60)}
    assert "nope" in answers["unknown"] and "no inputs" in answers["empty"] and answers["fine"] == ""
    assert_serving(server, stub)


def test_stream_backpressure_and_empty_streams(server, stub):
    # More requests than a stream keeps in flight (256): reading pauses and resumes; every one
    # is answered once.
    n = 700
    reqs = [mlp_request(values=np.full((1, 784), i, dtype=np.float32), raw=True, id=f"p-{i}")[0]
            for i in range(n)]
    ids = [r.infer_response.id for r in stub.ModelStreamInfer(iter(reqs), timeout=120)]
    assert sorted(ids) == sorted(f"p-{i}" for i in range(n))
    assert list(stub.ModelStreamInfer(iter([]), timeout=30)) == []
    assert_serving(server, stub)


def test_stream_abandoned_midway(server, stub):
    stop = threading.Event()

    def forever():
        i = 0
        while not stop.is_set():
            yield mlp_request(rows=8, id=f"a-{i}")[0]
            i += 1
    for _ in range(3):
        call = stub.ModelStreamInfer(forever(), timeout=60)
        first = next(call)
        assert first.error_message == ""
        call.cancel()  # the client goes away with requests in flight
    stop.set()
    # A client that never reads its answers and closes the channel.
    ch = channel(server)
    s = pb_grpc.GRPCInferenceServiceStub(ch)
    s.ModelStreamInfer(iter([mlp_request(id=f"n-{i}")[0] for i in range(50)]), timeout=60)
    ch.close()
    time.sleep(0.5)
    assert_serving(server, stub)


def test_deadline_exceeded_client_side_does_not_hurt(server, stub):
    # Deadlines that expire while the request is in flight (100 us: less than a 64-row answer
    # takes through this Python client). A fast machine may still answer one in time, so each
    # call may succeed, but none may fail otherwise, most must expire, and the server serves on.
    expired = 0
    for _ in range(20):
        try:
            stub.ModelInfer(mlp_request(rows=64)[0], timeout=0.0001)
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.DEADLINE_EXCEEDED, e
            expired += 1
    assert expired >= 10
    assert_serving(server, stub)


def test_model_config(server, stub):
    cfg = stub.ModelConfig(pb.ModelConfigRequest(name="mlp")).config
    status, http_cfg = server.json("GET", "/v2/models/mlp/config")
    assert cfg.name == "mlp" and cfg.max_batch_size == http_cfg["max_batch_size"] == 64
    assert [i.name for i in cfg.input] == ["INPUT__0"]
    expect_error(grpc.StatusCode.NOT_FOUND, stub.ModelConfig, pb.ModelConfigRequest(name="nope"))


def test_model_statistics(server, stub):
    def mlp_stats():
        r = stub.ModelStatistics(pb.ModelStatisticsRequest(name="mlp"))
        assert [(m.name, m.version) for m in r.model_stats] == [("mlp", "1")]
        return r.model_stats[0]
    before = mlp_stats()
    stub.ModelInfer(mlp_request(rows=3)[0])
    server.json("POST", "/v2/models/mlp/infer", {"inputs": [
        {"name": "INPUT__0", "datatype": "FP32", "shape": [2, 784], "data": [0.0] * 1568}]})
    bad, _ = mlp_request(raw=True)
    bad.raw_input_contents[0] = b""
    with pytest.raises(grpc.RpcError):
        stub.ModelInfer(bad)
    # Counted just after each answer is handed to the transport.
    assert wait_for(lambda: mlp_stats().inference_stats.fail.count == before.inference_stats.fail.count + 1
                    and mlp_stats().inference_stats.success.count == before.inference_stats.success.count + 2,
                    timeout=10)
    after = mlp_stats()
    s0, s1 = before.inference_stats, after.inference_stats
    assert s1.success.count == s0.success.count + 2  # HTTP and gRPC alike
    assert after.inference_count == before.inference_count + 5
    assert s1.fail.count == s0.fail.count + 1
    assert s1.success.ns > s0.success.ns and s1.compute_infer.ns > s0.compute_infer.ns
    assert after.last_inference > 0
    # Two batches (3 and 2 rows; sent one after the other), by size in batch_stats.
    assert after.execution_count == before.execution_count + 2
    counts = lambda m: {b.batch_size: b.compute_infer.count for b in m.batch_stats}
    for size in (2, 3):
        assert counts(after).get(size, 0) == counts(before).get(size, 0) + 1, size
    everything = stub.ModelStatistics(pb.ModelStatisticsRequest())
    assert {"mlp", "text", "digits", "resnet18"} <= {m.name for m in everything.model_stats}
    expect_error(grpc.StatusCode.NOT_FOUND, stub.ModelStatistics,
                 pb.ModelStatisticsRequest(name="nope"))
    expect_error(grpc.StatusCode.NOT_FOUND, stub.ModelStatistics,
                 pb.ModelStatisticsRequest(name="mlp", version="9"))
    for name in ("../mlp", ".", "a/b", "\x00"):
        expect_error(grpc.StatusCode.INVALID_ARGUMENT, stub.ModelStatistics,
                     pb.ModelStatisticsRequest(name=name), contains="not a valid model name")
    assert_serving(server, stub)


def test_repository_rpcs_token_and_hostile_names():
    repo = make_repository(["mlp"])
    with Server(repo, args=["--management-token", "s3cret"]) as s, channel(s) as ch:
        stub = pb_grpc.GRPCInferenceServiceStub(ch)
        auth = [("authorization", "Bearer s3cret")]
        expect_error(grpc.StatusCode.UNAUTHENTICATED, stub.RepositoryIndex,
                     pb.RepositoryIndexRequest(), contains="Bearer")
        expect_error(grpc.StatusCode.UNAUTHENTICATED, stub.RepositoryModelUnload,
                     pb.RepositoryModelUnloadRequest(model_name="mlp"),
                     metadata=[("authorization", "Bearer wrong")])
        index = stub.RepositoryIndex(pb.RepositoryIndexRequest(), metadata=auth)
        assert [(m.name, m.version, m.state) for m in index.models] == [("mlp", "1", "READY")]
        stub.RepositoryModelUnload(pb.RepositoryModelUnloadRequest(model_name="mlp"),
                                   metadata=auth, timeout=60)
        assert not stub.ModelReady(pb.ModelReadyRequest(name="mlp")).ready
        stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name="mlp"),
                                 metadata=auth, timeout=120)
        assert stub.ModelReady(pb.ModelReadyRequest(name="mlp")).ready
        for name in ("../mlp", "nope", "", "/etc", "x" * 5000):
            with pytest.raises(grpc.RpcError) as e:
                stub.RepositoryModelLoad(pb.RepositoryModelLoadRequest(model_name=name),
                                         metadata=auth, timeout=60)
            assert e.value.code() in (grpc.StatusCode.NOT_FOUND,
                                      grpc.StatusCode.INVALID_ARGUMENT), e.value
        bad = pb.RepositoryModelLoadRequest(model_name="mlp")
        bad.parameters["config"].string_param = "{not json"
        expect_error(grpc.StatusCode.INVALID_ARGUMENT, stub.RepositoryModelLoad, bad,
                     metadata=auth, contains="parameters.config")
        bad.parameters["config"].int64_param = 3
        expect_error(grpc.StatusCode.INVALID_ARGUMENT, stub.RepositoryModelLoad, bad,
                     metadata=auth, contains="must be a string")
        assert_serving(s, stub)


def test_repository_rpcs_off_with_the_management_api():
    repo = make_repository(["mlp"])
    with Server(repo, args=["--management-port", "-1"]) as s, channel(s) as ch:
        stub = pb_grpc.GRPCInferenceServiceStub(ch)
        expect_error(grpc.StatusCode.UNAVAILABLE, stub.RepositoryIndex,
                     pb.RepositoryIndexRequest(), contains="--management-port")
        assert_serving(s, stub)


def test_message_size_limit():
    repo = make_repository(["mlp"])
    with Server(repo, args=["--grpc-max-message-bytes", "100000"]) as s, \
            channel(s, [("grpc.max_send_message_length", 64 << 20)]) as ch:
        stub = pb_grpc.GRPCInferenceServiceStub(ch)
        big, _ = mlp_request(rows=64, raw=True)  # 200 KB
        expect_error(grpc.StatusCode.RESOURCE_EXHAUSTED, stub.ModelInfer, big)
        small, _ = mlp_request(rows=2, raw=True)
        assert raw_output(stub.ModelInfer(small, timeout=30)).shape == (2, 10)
        assert_serving(s, stub)


def test_grpc_port_off_and_bad_values():
    repo = make_repository(["mlp"])
    with Server(repo, args=["--grpc-port", "-1"]) as s:
        assert s.grpc_port is None and "gRPC server listening" not in s.log()
    for bad in ("-2", "70000", "x"):
        r = subprocess.run([s.proc.args[0], "--model-repository", repo, "--grpc-port", bad,
                            "--http-port", "0"], capture_output=True, timeout=60)
        assert r.returncode != 0 and b"grpc-port" in r.stdout + r.stderr


def test_http_and_grpc_requests_batch_together():
    # One queue per model whatever the protocol: an HTTP request and a gRPC request that arrive
    # within the queue delay run as one batch of 2.
    repo = make_repository(["mlp"])
    path = os.path.join(repo, "mlp", "config.pbtxt")
    with open(path) as f:
        config = f.read()
    assert "max_queue_delay_microseconds: 500" in config
    with open(path, "w") as f:
        f.write(config.replace("max_queue_delay_microseconds: 500",
                               "max_queue_delay_microseconds: 5000000 preferred_batch_size: [ 2 ]"))
    with Server(repo) as s, channel(s) as ch:
        stub = pb_grpc.GRPCInferenceServiceStub(ch)
        x = np.random.default_rng(7).random((1, 784), dtype=np.float32)
        http_answer = {}

        def http():
            status, headers, body = s.request("POST", "/v2/models/mlp/infer", {"inputs": [
                {"name": "INPUT__0", "datatype": "FP32", "shape": [1, 784],
                 "data": x.ravel().tolist()}]})
            http_answer.update(status=status, batch=headers.get("x-batch-size"))
        t = threading.Thread(target=http)
        started = time.time()
        t.start()
        resp = stub.ModelInfer(mlp_request(values=x, raw=True)[0], timeout=60)
        t.join()
        assert time.time() - started < 4.5  # answered when the batch of 2 formed, not at 5 s
        assert http_answer == {"status": 200, "batch": "2"}, http_answer
        assert resp.parameters["batch_size"].int64_param == 2


def test_bench_over_grpc(server):
    bench = os.path.join(BUILD, "bench", "ptserve-bench")
    if not os.access(bench, os.X_OK):
        pytest.skip("ptserve-bench not built")
    r = subprocess.run([bench, "-i", "grpc", "-m", "mlp", "-u", f"127.0.0.1:{server.grpc_port}",
                        "--concurrency-range", "2", "--requests", "40", "--warmup-ms", "200"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    row = r.stdout.strip().splitlines()[-1].split()
    assert row[0] == "2" and float(row[1]) > 0, r.stdout
    assert row[8] == "0", r.stdout  # errors
    r = subprocess.run([bench, "-i", "grpc", "-m", "nope", "-u", f"127.0.0.1:{server.grpc_port}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "nope" in r.stderr, r.stderr


def test_readiness_turns_false_on_sigterm_and_exit_is_clean():
    repo = make_repository(["mlp"])
    s = Server(repo, args=["--drain-secs", "3"])
    s.start()
    try:
        with channel(s) as ch:
            stub = pb_grpc.GRPCInferenceServiceStub(ch)
            health = health_grpc.HealthStub(ch)
            assert stub.ServerReady(pb.ServerReadyRequest(), timeout=10).ready
            s.proc.send_signal(signal.SIGTERM)
            serving = health_pb.HealthCheckResponse.SERVING

            def not_ready():
                return not stub.ServerReady(pb.ServerReadyRequest(), timeout=5).ready
            deadline = time.time() + 2
            while time.time() < deadline and not not_ready():
                time.sleep(0.05)
            assert not_ready()
            assert health.Check(health_pb.HealthCheckRequest(service="ready"),
                                timeout=5).status == health_pb.HealthCheckResponse.NOT_SERVING
            assert health.Check(health_pb.HealthCheckRequest(service="live"),
                                timeout=5).status == serving
            # Inference still works while draining.
            assert raw_output(stub.ModelInfer(mlp_request()[0], timeout=30)).shape == (1, 10)
        assert s.proc.wait(60) == 0, s.log()
    finally:
        s.stop()


def test_health_watch_streams_changes_and_ends_at_shutdown():
    repo = make_repository(["mlp"])
    s = Server(repo, args=["--drain-secs", "2", "--exit-timeout-secs", "40"])
    s.start()
    status = health_pb.HealthCheckResponse
    try:
        with channel(s) as ch:
            health = health_grpc.HealthStub(ch)
            ready = health.Watch(health_pb.HealthCheckRequest(service="ready"), timeout=60)
            live = health.Watch(health_pb.HealthCheckRequest(service=""), timeout=60)
            unknown = health.Watch(health_pb.HealthCheckRequest(service="bogus"), timeout=60)
            assert next(ready).status == status.SERVING
            assert next(live).status == status.SERVING
            # An unknown service is reported, and the stream stays open (the protocol's rule).
            assert next(unknown).status == status.SERVICE_UNKNOWN
            cancelled = health.Watch(health_pb.HealthCheckRequest(service="ready"), timeout=60)
            assert next(cancelled).status == status.SERVING
            cancelled.cancel()  # a client that leaves: the server forgets the watch
            start = time.time()
            s.proc.send_signal(signal.SIGTERM)
            assert next(ready).status == status.NOT_SERVING  # pushed, not polled by the client
            # At shutdown every watch ends at once, UNAVAILABLE, instead of holding the exit
            # until --exit-timeout-secs.
            for stream in (ready, live, unknown):
                with pytest.raises(grpc.RpcError) as e:
                    while True:
                        next(stream)
                assert e.value.code() == grpc.StatusCode.UNAVAILABLE, e.value.details()
        assert s.proc.wait(60) == 0, s.log()
        assert time.time() - start < 20, time.time() - start
    finally:
        s.stop()


def _certificate(folder, name, cn="localhost"):
    """A self-signed certificate (also its own CA) and key, made with openssl at test time."""
    key, cert = os.path.join(folder, name + ".key"), os.path.join(folder, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    with open(key, "rb") as k, open(cert, "rb") as c:
        return key, cert, k.read(), c.read()


def test_tls_and_mutual_tls():
    if shutil.which("openssl") is None:
        pytest.skip("no openssl to make a certificate with")
    repo = make_repository(["mlp"])
    certs = tempfile.mkdtemp(prefix="ptserve-tls-")
    key, cert, _, cert_pem = _certificate(certs, "server")
    ckey, ccert, ckey_pem, ccert_pem = _certificate(certs, "client", cn="client")
    request, _ = mlp_request(rows=2, raw=True)
    tls = ["--grpc-use-ssl", "--grpc-server-cert", cert, "--grpc-server-key", key]
    with Server(repo, args=tls) as s:
        assert "(TLS)" in s.log()
        target = f"localhost:{s.grpc_port}"
        with grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=cert_pem)) as ch:
            resp = pb_grpc.GRPCInferenceServiceStub(ch).ModelInfer(request, timeout=30)
            assert raw_output(resp).shape == (2, 10)
        with channel(s) as ch:  # plaintext to a TLS port
            expect_error(grpc.StatusCode.UNAVAILABLE, pb_grpc.GRPCInferenceServiceStub(ch).ServerLive,
                         pb.ServerLiveRequest())
        assert s.request("GET", "/v2/health/ready")[0] == 200  # HTTP is unaffected
    mutual = tls[:1] + ["--grpc-use-ssl-mutual", "--grpc-root-cert", ccert] + tls[1:]
    with Server(repo, args=mutual) as s:
        assert "(mutual TLS)" in s.log()
        target = f"localhost:{s.grpc_port}"
        anonymous = grpc.ssl_channel_credentials(root_certificates=cert_pem)
        with grpc.secure_channel(target, anonymous) as ch:
            expect_error(grpc.StatusCode.UNAVAILABLE, pb_grpc.GRPCInferenceServiceStub(ch).ServerLive,
                         pb.ServerLiveRequest())
        known = grpc.ssl_channel_credentials(root_certificates=cert_pem, private_key=ckey_pem,
                                             certificate_chain=ccert_pem)
        with grpc.secure_channel(target, known) as ch:
            assert pb_grpc.GRPCInferenceServiceStub(ch).ServerLive(
                pb.ServerLiveRequest(), timeout=30).live
        assert s.proc.poll() is None
    # Inconsistent or unreadable TLS settings stop the start with the reason.
    binary = s.proc.args[0]
    for args, words in [(["--grpc-use-ssl"], "--grpc-server-cert"),
                        (["--grpc-server-cert", cert, "--grpc-server-key", key], "--grpc-use-ssl"),
                        (tls[:3] + ["--grpc-server-key", os.path.join(certs, "missing.key")],
                         "cannot read"),
                        (tls[:3] + ["--grpc-server-key", repo], "cannot read"),
                        (tls[:3] + ["--grpc-server-key", os.path.join(repo, "mlp", "config.pbtxt")],
                         "not PEM")]:
        r = subprocess.run([binary, "--model-repository", repo, "--http-port", "0",
                            "--grpc-port", "0", "--management-port", "-1"] + args,
                           capture_output=True, timeout=120, text=True)
        assert r.returncode != 0 and words in r.stdout + r.stderr, (args, r.stdout[-2000:])
    shutil.rmtree(certs, ignore_errors=True)
    shutil.rmtree(repo, ignore_errors=True)
