#!/usr/bin/python3
"""The seed's FastAPI wrapper around the TorchScript MLP: the baseline ptserve is benchmarked against.

    POST /predict   {"data": [784 floats]}  ->  {"prediction": [10 floats]}   (the MLP's logits)
    GET  /health    {"status": "ok"}

Run:
    /usr/bin/python3 bench/fastapi_baseline.py --port 8100 [--host 127.0.0.1] [--workers N]
        [--model examples/models/mlp/1/model.pt] [--threads T]

The model path comes from --model, else $PTSERVE_BASELINE_MODEL, else examples/models/mlp/1/model.pt
(create it with scripts/make_examples.py). --threads sets torch's intra-op threads per worker
(default: CPU count // workers, at least 1). Each worker is a separate process with its own copy
of the model; the handler is a plain `def`, so FastAPI runs it in its thread pool and the event loop
keeps accepting requests while torch computes, as an idiomatic FastAPI service would.

Debian 12 packages: python3-fastapi, python3-uvicorn (python3-uvloop optional: uvicorn uses it
when present).
"""

import argparse
import os
import sys
from typing import List

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_MODEL = os.path.join(os.path.dirname(HERE), "examples", "models", "mlp", "1", "model.pt")
MODEL_ENV = "PTSERVE_BASELINE_MODEL"
THREADS_ENV = "PTSERVE_BASELINE_THREADS"

import torch  # noqa: E402
from fastapi import FastAPI, HTTPException  # noqa: E402
from pydantic import BaseModel  # noqa: E402

INPUT_SIZE = 784


class PredictRequest(BaseModel):
    data: List[float]


class PredictResponse(BaseModel):
    prediction: List[float]


app = FastAPI(title="ptserve FastAPI baseline")
_model = None


@app.on_event("startup")
def _load_model():
    global _model
    path = os.environ.get(MODEL_ENV, DEFAULT_MODEL)
    threads = int(os.environ.get(THREADS_ENV, "0"))
    if threads > 0:
        torch.set_num_threads(threads)
    model = torch.jit.load(path, map_location="cpu")
    model.eval()
    with torch.inference_mode():  # warm-up: TorchScript's first calls are slow
        for _ in range(3):
            model(torch.zeros(1, INPUT_SIZE))
    _model = model
    print(f"fastapi_baseline: pid {os.getpid()} loaded {path} "
          f"(torch {torch.__version__}, {torch.get_num_threads()} threads)", flush=True)


@app.get("/health")
def health():
    return {"status": "ok" if _model is not None else "loading"}


@app.post("/predict", response_model=PredictResponse)
def predict(req: PredictRequest):
    if len(req.data) != INPUT_SIZE:
        raise HTTPException(status_code=400,
                            detail=f"expected {INPUT_SIZE} values in 'data', got {len(req.data)}")
    x = torch.tensor(req.data, dtype=torch.float32).unsqueeze(0)
    with torch.inference_mode():
        y = _model(x)
    return {"prediction": y[0].tolist()}


def main():
    ap = argparse.ArgumentParser(description="FastAPI + TorchScript MLP baseline")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8100)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--model", default=os.environ.get(MODEL_ENV, DEFAULT_MODEL))
    ap.add_argument("--threads", type=int, default=0,
                    help="torch intra-op threads per worker (default: CPUs // workers)")
    ap.add_argument("--log-level", default="warning")
    args = ap.parse_args()

    if not os.path.isfile(args.model):
        sys.exit(f"model not found: {args.model} (run /usr/bin/python3 scripts/make_examples.py)")
    threads = args.threads or max(1, (os.cpu_count() or 1) // max(1, args.workers))
    # Workers are separate processes that import this module afresh: pass settings by environment.
    os.environ[MODEL_ENV] = os.path.abspath(args.model)
    os.environ[THREADS_ENV] = str(threads)

    import uvicorn
    print(f"fastapi_baseline: http://{args.host}:{args.port}/predict, {args.workers} worker(s), "
          f"{threads} torch thread(s) each", flush=True)
    uvicorn.run("fastapi_baseline:app", app_dir=HERE, host=args.host, port=args.port,
                workers=args.workers, log_level=args.log_level, access_log=False)


if __name__ == "__main__":
    main()
