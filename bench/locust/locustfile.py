"""The seed's Locust benchmark user (SEED-EN.md section 4.1).

Each simulated user POSTs /predict with {"data": [0.1] * 784} and waits 0.5-2 s between requests;
a response counts as a failure unless it is HTTP 200 with a "prediction" field.

Against the FastAPI baseline (bench/fastapi_baseline.py --port 8100), e.g.:

    locust -f bench/locust/locustfile.py --headless -u 5 -r 5 -t 5s \
        --host http://127.0.0.1:8100 --only-summary

The seed's own run is `--users=1000 --run-time=30m`. Debian 12 package: python3-locust.
"""

from locust import HttpUser, between, task

PAYLOAD = {"data": [0.1] * 784}


class InferenceUser(HttpUser):
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
            else:
                resp.success()
