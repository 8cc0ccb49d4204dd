"""The seed's Locust benchmark user (SEED-EN.md section 4.1), corrected.

Each simulated user POSTs /predict with {"data": [0.1] * 784} and waits 0.5-2 s between requests;
a response counts as a failure unless it is HTTP 200 with a "prediction" field.

Headless against ptserve (scripts/serve.sh, port 8000); Debian 12 package: python3-locust:

    locust -f bench/locust/locustfile.py --headless -u 50 -r 25 -t 20s \
        --host http://127.0.0.1:8000 --only-summary --csv out/locust

Against the FastAPI baseline (bench/fastapi_baseline.py --port 8100) use
`--host http://127.0.0.1:8100`. tests/integration/test_bench.py runs it for 20 s with 50 users
and asserts zero failures from the CSV (out/locust_stats.csv, row "Aggregated").

What the seed's text gets wrong, and what this file does instead:
- Its code is run together on one line (`...betweenclass ModelUser(HttpUser):wait_time = ...`),
  which is not Python; here it is laid out as a module.
- Its task only posts: an error page or a body without a prediction still counts as a success
  (Locust fails only transport errors and HTTP >= 400 by default). Here every response is
  checked (`catch_response`).
- It sets `Content-Type: application/json` by hand; `json=` already does, so that is dropped.
- `--run-time=30m --users=1000` alone opens the web UI and waits for a click; a scripted run
  needs `--headless` and `--host`, and without `-r/--spawn-rate` (default 1 user/s) reaching
  1000 users takes almost 17 of the 30 minutes. E.g. `--headless -u 1000 -r 100 -t 30m`.
  One Locust process uses one core (gevent): 1000 users at 0.5-2 s waits is ~800 req/s, near
  its limit; run `--master --expect-workers N` plus N `--worker` processes, or use
  bench/ptserve-bench.
- "Generate a latency-distribution heat map": Locust has no heat map (it reports percentiles
  and, with --csv-full-history, their history). `ptserve-bench --report FILE.html` draws one
  (time x latency, per step); see bench/README.md.
"""

from locust import HttpUser, between, task

PAYLOAD = {"data": [0.1] * 784}


class ModelUser(HttpUser):
    wait_time = between(0.5, 2)

    @task
    def predict(self):
        with self.client.post("/predict", json=PAYLOAD, catch_response=True) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}: {resp.text[:200]}")
                return
            try:
                body = resp.json()
            except ValueError:
                resp.failure("response is not JSON")
                return
            if not isinstance(body, dict) or "prediction" not in body:
                resp.failure("response has no 'prediction'")
            elif len(body["prediction"]) != 10:
                resp.failure(f"prediction has {len(body['prediction'])} values, expected 10")
            else:
                resp.success()
