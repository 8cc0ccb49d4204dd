"""A/B traffic splits: weights, stickiness, forced variants, live weight changes, shadows."""
import json
import os
import re
import shutil
import threading

import pytest

from ptserve_harness import EXAMPLES, Server, make_repository

BODY = json.dumps({"data": [0.1] * 784})


@pytest.fixture(scope="module")
def ab_server():
    repo = make_repository(["mlp"])
    # mlp gets a second version; both stay loaded.
    os.makedirs(os.path.join(repo, "mlp", "2"))
    shutil.copy(os.path.join(EXAMPLES, "mlp", "1", "model.pt"), os.path.join(repo, "mlp", "2"))
    with open(os.path.join(repo, "mlp", "config.pbtxt"), "a") as f:
        f.write("\nversion_policy { all { } }\n")
    os.makedirs(os.path.join(repo, "ab"))
    with open(os.path.join(repo, "ab", "config.pbtxt"), "w") as f:
        f.write('name: "ab"\n'
                'routing {\n'
                '  variant { name: "control" model: "mlp" version: "1" weight: 1 }\n'
                '  variant { name: "candidate" model: "mlp" version: "2" weight: 3 }\n'
                '  variant { name: "mirror" model: "mlp" version: "1" shadow: true }\n'
                '}\n')
    with Server(repository=repo) as s:
        yield s


def variant_of(server, conn, headers=None):
    status, hdrs, data = server.request("POST", "/predict/ab", BODY, headers, conn=conn)
    assert status == 200, data
    return hdrs["x-variant"], hdrs["x-model-version"]


def test_split_follows_weights(ab_server):
    n, counts = 2000, {}
    lock = threading.Lock()

    def client(k):
        conn = ab_server.connection()
        for _ in range(k):
            v, version = variant_of(ab_server, conn)
            assert version == {"control": "1", "candidate": "2"}[v]
            with lock:
                counts[v] = counts.get(v, 0) + 1

    threads = [threading.Thread(target=client, args=(n // 8,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(counts.values()) == n
    # Binomial(2000, 0.25): sd ~19.4; allow 5 sd.
    assert abs(counts["control"] - n / 4) < 5 * 19.4, counts
    assert "mirror" not in counts


def test_sticky_key_and_forced_variant(ab_server):
    conn = ab_server.connection()
    seen = {}
    for user in range(60):
        key = {"X-Routing-Key": f"user-{user}"}
        first = variant_of(ab_server, conn, key)[0]
        for _ in range(4):
            assert variant_of(ab_server, conn, key)[0] == first
        seen[first] = seen.get(first, 0) + 1
    assert len(seen) == 2, seen  # keys spread over both variants
    for _ in range(10):
        assert variant_of(ab_server, conn, {"X-Variant": "control"})[0] == "control"
    status, _, data = ab_server.request("POST", "/predict/ab", BODY, {"X-Variant": "mirror"}, conn=conn)
    assert status == 400 and b"mirror" in data


def test_live_weight_change_and_stats(ab_server):
    status, out = ab_server.manage("/v2/repository/models/ab/routing", {"weights": {"control": 0, "candidate": 1}})
    assert status == 200, out
    conn = ab_server.connection()
    for _ in range(50):
        assert variant_of(ab_server, conn)[0] == "candidate"
    status, out = ab_server.manage("/v2/repository/models/ab/routing", {"weights": {"candidate": 0}})
    assert status == 400  # every primary weight would be 0
    status, out = ab_server.manage("/v2/repository/models/ab/routing", {"weights": {"control": 1, "candidate": 3}})
    variants = {v["name"]: v for v in out["variants"]}
    assert variants["candidate"]["requests"] > 0 and variants["control"]["requests"] > 0
    mirror = variants["mirror"]
    assert mirror["shadow"] and mirror["requests"] > 0
    # Same weights as control: equal up to batched-vs-alone kernel rounding.
    assert mirror["compared"] > 0 and mirror["max_abs_diff"] < 1e-5
    assert ab_server.manage("/v2/repository/models/mlp/routing", {})[0] == 404


def test_shadow_difference_is_a_histogram_per_routed_model(ab_server):
    conn = ab_server.connection()
    for _ in range(20):
        variant_of(ab_server, conn)
    _, _, data = ab_server.request("GET", "/metrics")
    text = data.decode()
    count = re.search(r'^ptserve_shadow_output_difference_count\{model="ab",shadow="mirror"\} (\S+)$',
                      text, re.M)
    assert count and float(count.group(1)) >= 20, text[-2000:]
    # Same weights as the primaries: every difference is in the smallest buckets.
    small = re.search(r'^ptserve_shadow_output_difference_bucket\{model="ab",shadow="mirror",'
                      r'le="1e-05"\} (\S+)$', text, re.M)
    assert small and float(small.group(1)) == float(count.group(1)), text[-2000:]


def test_variant_series_stay_exported_between_requests(ab_server):
    conn = ab_server.connection()
    for _ in range(10):
        variant_of(ab_server, conn, {"X-Variant": "control"})
    _, _, data = ab_server.request("GET", "/metrics")
    m = re.search(r'^ptserve_inference_requests_total\{model="mlp",version="1",variant="control",'
                  r'outcome="success"\} (\S+)$', data.decode(), re.M)
    assert m and float(m.group(1)) >= 10, data.decode()[-3000:]


def test_routed_metadata_and_errors(ab_server):
    status, meta = ab_server.json("GET", "/v2/models/ab")
    assert status == 200 and meta["inputs"][0]["name"] == "INPUT__0"
    status, out = ab_server.json("POST", "/v2/models/ab/versions/1/infer", {"inputs": []})
    assert status == 400 and "variants" in out["error"]
