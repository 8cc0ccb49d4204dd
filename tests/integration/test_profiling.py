"""Operator-level profiling on demand (management API): POST .../profile captures the next N
executions of a model with libtorch's profiler and answers with the operators by self time and a
Chrome trace; serving goes on, correct, during and after."""
import json
import threading

from ptserve_harness import LoadGenerator, Server, make_repository

PREDICT = {"data": [0.1] * 784}
# The MLP's Linear layers as libtorch names them: as written (linear), after the server's
# freezing and optimize_for_inference (matmul/mm + add, or addmm), or at small batches through
# LINEAR_KERNEL's gemv (ptserve::linear, running addmv).
MLP_LINEAR_OPS = {"aten::linear", "aten::addmm", "aten::matmul", "aten::mm", "ptserve::linear",
                  "aten::addmv"}


def test_profile_under_load_names_the_operators():
    with Server(repository=make_repository(["mlp"])) as s:
        _, _, before = s.request("POST", "/predict/mlp", PREDICT)
        with LoadGenerator(s, "/predict/mlp", PREDICT, threads=2) as load:
            status, out = s.manage("/v2/repository/models/mlp/profile",
                                   {"requests": 5, "timeout_ms": 60000})
        assert status == 200, out
        assert out["model"] == "mlp" and out["version"] == "1"
        assert out["requested"] == 5 and out["executions"] == 5 and not out["timed_out"]
        assert out["total_us"] > 0
        names = {op["name"] for op in out["operators"]}
        assert names & MLP_LINEAR_OPS, names
        assert abs(sum(op["self_share"] for op in out["operators"]) - 1) < 0.01
        selfs = [op["self_us"] for op in out["operators"]]
        assert selfs == sorted(selfs, reverse=True)
        for op in out["operators"]:
            assert op["calls"] >= 1 and 0 <= op["self_us"] <= op["total_us"] + 0.1, op
        events = out["trace"]["traceEvents"]
        complete = [e for e in events if e["ph"] == "X"]
        assert len([e for e in complete if e["cat"] == "execution"]) == 5
        assert {e["name"] for e in complete} & MLP_LINEAR_OPS
        for e in complete:
            assert e["ts"] >= 0 and e["dur"] >= 0 and "pid" in e and "tid" in e, e
        # Serving went on, correct, during the capture and after it.
        assert load.lost == [] and load.statuses == {200: load.sent}, load.statuses
        _, _, after = s.request("POST", "/predict/mlp", PREDICT)
        assert json.loads(after) == json.loads(before)
        assert "profiled 5 of 5 executions" in s.log()


def test_trace_format_and_a_second_capture():
    with Server(repository=make_repository(["mlp"])) as s:
        result = {}

        def profile():
            result["answer"] = s.manage_raw("/v2/repository/models/mlp/profile?format=trace",
                                          {"requests": 2, "version": "1"})

        thread = threading.Thread(target=profile)
        thread.start()
        # One capture per model at a time: wait until the first one is armed, then try another.
        while "profiling the next 2 executions" not in s.log():
            thread.join(0.05)
        status, out = s.manage("/v2/repository/models/mlp/profile", {"requests": 1})
        assert status == 409 and "already" in out["error"], out
        for _ in range(2):
            assert s.request("POST", "/predict/mlp", PREDICT)[0] == 200
        thread.join(60)
        status, data = result["answer"]
        assert status == 200
        trace = json.loads(data)  # the Chrome trace itself, as chrome://tracing loads it
        assert set(trace) == {"traceEvents", "displayTimeUnit"}
        assert any(e["name"] in MLP_LINEAR_OPS for e in trace["traceEvents"])
        # Once delivered, the model can be profiled again.
        with LoadGenerator(s, "/predict/mlp", PREDICT, threads=1):
            status, out = s.manage("/v2/repository/models/mlp/profile", {"requests": 1})
        assert status == 200 and out["executions"] == 1


def test_timeout_without_traffic_answers_what_was_captured():
    with Server(repository=make_repository(["mlp"])) as s:
        status, out = s.manage("/v2/repository/models/mlp/profile",
                               {"requests": 3, "timeout_ms": 300})
        assert status == 200, out
        assert out["executions"] == 0 and out["timed_out"] and out["operators"] == []
        assert isinstance(out["trace"]["traceEvents"], list)
        # The timed-out capture disarmed: the model serves (and can be profiled) as before.
        assert s.request("POST", "/predict/mlp", PREDICT)[0] == 200


def test_profile_errors():
    with Server(repository=make_repository(["mlp"]), args=["--management-token", "s3cret"]) as s:
        path = "/v2/repository/models/mlp/profile"
        assert s.manage(path, {"requests": 1})[0] == 401
        assert s.manage(path, {"requests": 1}, token="wrong")[0] == 401
        status, out = s.manage("/v2/repository/models/nope/profile", {}, token="s3cret")
        assert status == 404 and "nope" in out["error"], out
        status, out = s.manage(path, {"requests": 1, "version": "7"}, token="s3cret")
        assert status == 404, out
        for bad in ({"requests": 0}, {"requests": 1001}, {"requests": "5"},
                    {"timeout_ms": -1}, {"requests": 1, "bogus": 1}, {"version": [1]}):
            status, out = s.manage(path, bad, token="s3cret")
            assert status == 400 and out["error"], (bad, status, out)
        status, data = s.manage_raw(path, "not json", token="s3cret")
        assert status == 400
        status, data = s.manage_raw(path + "?format=xml", {}, token="s3cret")
        assert status == 400 and b"format" in data
        status, out = s.manage(path, {"requests": 1, "timeout_ms": 50}, token="s3cret")
        assert status == 200 and out["executions"] == 0
