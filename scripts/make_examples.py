#!/usr/bin/python3
"""Create ptserve's example model repository and the reference data its tests compare against.

Usage:
    /usr/bin/python3 scripts/make_examples.py [--out examples/models] [--reference examples/reference]
                                              [--models mlp,digits,resnet18,text] [--write-configs]

Everything is deterministic (fixed seeds, torch.set_num_threads(2), PYTHONHASHSEED=0) and
idempotent: each run rewrites the TorchScript files and the reference data, byte-identical for the
same arguments and the same torch version. config.pbtxt files are committed to git and
are written only when missing, unless --write-configs is given.

Model repository (Triton layout, platform "pytorch_libtorch"):

    <out>/<model>/config.pbtxt
    <out>/<model>/1/model.pt          TorchScript (torch.jit.save of an .eval() module; gitignored)

Models:
    mlp       the seed's MLP 784-512-256-10 (Linear+ReLU), random seeded init, torch.jit.script.
              INPUT__0 FP32 [784] -> OUTPUT__0 FP32 [10]; max_batch_size 64; dynamic batching.
    digits    MLP 64-128-64-10 trained on scikit-learn's bundled digits (8x8 images, features /16
              so they lie in [0,1]); split train_test_split(test_size=0.25, random_state=0,
              stratify=y). forward(self, pixels) -> logits, torch.jit.script.
              Config input is named "pixels" (forward()'s argument name); the output is named
              "logits" (TorchScript outputs are unnamed: outputs that are not called OUTPUT__<n>
              are mapped by their position in the config). max_batch_size 64; dynamic batching.
    resnet18  torchvision.models.resnet18(weights=None), seeded random weights, torch.jit.trace on
              [1,3,224,224]. INPUT__0 FP32 [3,224,224] -> OUTPUT__0 FP32 [1000]; max_batch_size 32;
              dynamic batching. About 45 MB: generated, never committed.
    text      small Transformer classifier: embedding (vocab 1000, d 64, pad id 0) + sinusoidal
              positions, 2 x nn.TransformerEncoderLayer(d 64, 4 heads, ff 128, batch_first),
              masked mean-pool, linear to 2 classes; random seeded weights, torch.jit.script.
              forward(self, input_ids: int64 [B,T], attention_mask: int64 [B,T]) -> logits [B,2].
              Padding (id 0, mask 0, appended on the right) does not change the logits (checked
              here to 1e-5), so a server may pad variable-length requests into one batch.
              Config: input_ids / attention_mask TYPE_INT64 dims [-1], logits FP32 [2],
              max_batch_size 32.

Reference data (<reference>/, gitignored):

    digits_test.npz        x float32 [n,64], y int64 [n]    (the held-back test set; n = 450)
    digits_test.json       {"x": [[64 floats], ...], "y": [int, ...]}   (same data, for C++ tests)
    digits_accuracy.json   {"accuracy": float, "correct": int, "n": int, "train_accuracy": float}
                           accuracy of the saved TorchScript module (fp32) on the test set
    <model>.json           one per model, format below
    resnet18_case<i>_<input>.bin   raw little-endian float32 input tensors of resnet18's cases

<model>.json:

    {
      "model": "mlp",
      "tolerance": {"atol": 1e-4, "rtol": 1e-4},      # suggested bound for |server - python|
      "cases": [
        {
          "name": "batch1",
          "inputs": {
            "<input name>": {"datatype": "FP32" | "INT64", "shape": [B, ...],
                             "data": [... flat, row-major ...]}
                        or {"datatype": "FP32", "shape": [B, ...],
                            "data_file": "resnet18_case0_INPUT__0.bin"}   # resnet18 only; the
                                                # path is relative to the directory of the json
          },
          "outputs": {
            "<output name as in config.pbtxt>": {"datatype": "FP32", "shape": [B, ...],
                                                 "data": [... flat, row-major ...]}
          }
        }, ...
      ]
    }

Inputs include the batch dimension (every model has max_batch_size > 0). Outputs are what the
saved TorchScript module returns after torch.jit.load, .eval(), under torch.inference_mode().
FP32 values are written as the shortest decimal that reads back as the same float32 value.
Cases: mlp and digits: batch 1 and batch 4 (digits uses the first test images, and each case
also carries "labels"); resnet18: batch 1 and batch 2; text: batch 1 (T=8), batch 4 of mixed
lengths right-padded to T=12, and the same 4 sequences padded further to T=20 (same logits).
"""

import argparse
import copy
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

MODELS = ["mlp", "digits", "resnet18", "text"]

# ---------------------------------------------------------------------------------------------
# config.pbtxt


def _tensor_block(kind, tensors):
    items = []
    for t in tensors:
        lines = ["  {"]
        if t.get("comment"):
            lines += ["    # " + c for c in t["comment"]]
        lines += [f'    name: "{t["name"]}"',
                  f'    data_type: {t["data_type"]}',
                  "    dims: [ " + ", ".join(str(d) for d in t["dims"]) + " ]",
                  "  }"]
        items.append("\n".join(lines))
    return f"{kind} [\n" + ",\n".join(items) + "\n]\n"


def make_config(name, max_batch_size, inputs, outputs, comment, dynamic_batching,
                parameters=(), platform="pytorch_libtorch"):
    text = "".join(f"# {c}\n" if c else "#\n" for c in comment)
    text += f'name: "{name}"\n'
    text += f'platform: "{platform}"\n'
    text += f"max_batch_size: {max_batch_size}\n"
    text += _tensor_block("input", inputs)
    text += _tensor_block("output", outputs)
    text += "instance_group [\n  {\n    count: 1\n    kind: KIND_CPU\n  }\n]\n"
    if dynamic_batching:
        text += "dynamic_batching {\n  max_queue_delay_microseconds: 500\n}\n"
    for key, value, note in parameters:
        text += "".join(f"# {c}\n" for c in note)
        text += f'parameters {{ key: "{key}" value {{ string_value: "{value}" }} }}\n'
    return text


CONFIGS = {
    "mlp": make_config(
        "mlp", 64,
        [{"name": "INPUT__0", "data_type": "TYPE_FP32", "dims": [784]}],
        [{"name": "OUTPUT__0", "data_type": "TYPE_FP32", "dims": [10]}],
        ["The seed's MLP 784-512-256-10 (Linear+ReLU), random weights (seed 0).",
         "Generated by scripts/make_examples.py; 1/model.pt is not committed."],
        dynamic_batching=True),
    "digits": make_config(
        "digits", 64,
        [{"name": "pixels", "data_type": "TYPE_FP32", "dims": [64],
          "comment": ["Named after forward(self, pixels): ptserve binds inputs by forward()'s",
                      "argument names as well as by the INPUT__<n> convention."]}],
        [{"name": "logits", "data_type": "TYPE_FP32", "dims": [10],
          "comment": ["TorchScript outputs carry no names. Outputs not named OUTPUT__<n> are",
                      "mapped by position: the first output listed here is the module's first",
                      "(here only) output."]}],
        ["MLP 64-128-64-10 trained on scikit-learn's digits (8x8 images, pixels / 16 in [0, 1]).",
         "Test accuracy: examples/reference/digits_accuracy.json.",
         "Generated by scripts/make_examples.py; 1/model.pt is not committed."],
        dynamic_batching=True),
    "resnet18": make_config(
        "resnet18", 32,
        [{"name": "INPUT__0", "data_type": "TYPE_FP32", "dims": [3, 224, 224]}],
        [{"name": "OUTPUT__0", "data_type": "TYPE_FP32", "dims": [1000]}],
        ["torchvision resnet18 with random weights (seed 0), traced on [1, 3, 224, 224].",
         "Generated by scripts/make_examples.py; 1/model.pt (about 45 MB) is not committed."],
        dynamic_batching=True),
    "text": make_config(
        "text", 32,
        [{"name": "input_ids", "data_type": "TYPE_INT64", "dims": [-1],
          "comment": ["Token ids in [0, 1000); 0 is the pad id."]},
         {"name": "attention_mask", "data_type": "TYPE_INT64", "dims": [-1],
          "comment": ["1 for real tokens, 0 for padding. Right-padding (id 0, mask 0) leaves",
                      "the logits unchanged, so variable-length requests may be padded into",
                      "one batch."]}],
        [{"name": "logits", "data_type": "TYPE_FP32", "dims": [2],
          "comment": ["TorchScript outputs carry no names; mapped by position."]}],
        ["Small Transformer text classifier (embedding 1000 x 64, 2 encoder layers, 4 heads,",
         "ff 128, masked mean-pool, linear to 2 classes), random weights (seed 0).",
         "Generated by scripts/make_examples.py; 1/model.pt is not committed."],
        dynamic_batching=False,
        parameters=[("MAX_SEQUENCE_LENGTH", "512",
                     ["Self-attention costs time and memory quadratic in the length: a longer",
                      "request is answered 400 before it reaches the model."])]),
}

# PyTorch 2 examples (torch >= 2.6 with AOTInductor; made in examples/pytorch2 by
# --pytorch2-out): the MLP and the text classifier as torch.export + AOTInductor packages
# (1/model.pt2), with a dynamic batch dimension, and the same weights as mlp and text.
CONFIGS.update({
    "mlp_aoti": make_config(
        "mlp_aoti", 64,
        [{"name": "INPUT__0", "data_type": "TYPE_FP32", "dims": [784]}],
        [{"name": "OUTPUT__0", "data_type": "TYPE_FP32", "dims": [10]}],
        ["The seed's MLP (the weights of examples/models/mlp) as an AOTInductor package:",
         "torch.export with a dynamic batch dimension (Dim 1..64), aoti_compile_and_package.",
         "Generated by scripts/make_examples.py on torch >= 2.6; 1/model.pt2 is not committed."],
        dynamic_batching=True, platform="torch_aoti"),
    "text_aoti": make_config(
        "text_aoti", 32,
        [{"name": "input_ids", "data_type": "TYPE_INT64", "dims": [-1]},
         {"name": "attention_mask", "data_type": "TYPE_INT64", "dims": [-1]}],
        [{"name": "logits", "data_type": "TYPE_FP32", "dims": [2]}],
        ["The text classifier of examples/models/text (same weights) as an AOTInductor package:",
         "dynamic batch (Dim 1..32) and sequence length (Dim 1..512).",
         "Generated by scripts/make_examples.py on torch >= 2.6; 1/model.pt2 is not committed."],
        dynamic_batching=True, platform="torch_aoti",
        parameters=[("PAD_INPUTS", "input_ids:0,attention_mask:0",
                     ["Right-padding leaves the logits unchanged: requests of different lengths",
                      "are padded into one batch."]),
                    ("MAX_SEQUENCE_LENGTH", "512",
                     ["The package was exported for at most 512 tokens."])]),
})
PYTORCH2_MODELS = ["mlp_aoti", "text_aoti"]


def aoti_available():
    return hasattr(torch, "_inductor") and hasattr(torch._inductor, "aoti_compile_and_package") \
        and hasattr(torch.export, "Dim")


# ---------------------------------------------------------------------------------------------
# Models


class MLP(nn.Module):
    """The seed's MLP: 784 -> 512 -> 256 -> 10."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.fc2 = nn.Linear(512, 256)
        self.fc3 = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class DigitsMLP(nn.Module):
    """64 -> 128 -> 64 -> 10 classifier for 8x8 digits."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc2 = nn.Linear(128, 64)
        self.fc3 = nn.Linear(64, 10)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.fc1(pixels))
        h = F.relu(self.fc2(h))
        return self.fc3(h)


class TextClassifier(nn.Module):
    """Embedding + sinusoidal positions + 2 Transformer encoder layers + masked mean-pool."""

    def __init__(self, vocab: int = 1000, d_model: int = 64, nhead: int = 4, ff: int = 128,
                 layers: int = 2, classes: int = 2):
        super().__init__()
        self.d_model = d_model
        self.embed = nn.Embedding(vocab, d_model, padding_idx=0)
        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=ff, dropout=0.0,
                                           batch_first=True)
        # enable_nested_tensor=False: on torch 1.13's nested-tensor fast path the encoder returns
        # [B, longest real length, d] instead of [B, T, d] when every row ends in padding, which
        # breaks the pooling below (and would make the output shape depend on the padding).
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, classes)
        half = d_model // 2
        inv_freq = torch.exp(torch.arange(half, dtype=torch.float32) * (-math.log(10000.0) / half))
        self.register_buffer("inv_freq", inv_freq)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        T = input_ids.size(1)
        pos = torch.arange(T, dtype=torch.float32, device=input_ids.device)
        angles = pos.unsqueeze(1) * self.inv_freq.unsqueeze(0)               # [T, d/2]
        pe = torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)       # [T, d]
        x = self.embed(input_ids) * math.sqrt(self.d_model) + pe.unsqueeze(0)
        keep = attention_mask != 0                                          # [B, T] bool
        h = self.encoder(x, src_key_padding_mask=keep.logical_not())
        # Padded positions may hold anything (zeros on the nested-tensor fast path): mask them
        # out with masked_fill, not a multiply, so even a NaN there cannot leak into the pool.
        h = h.masked_fill(keep.logical_not().unsqueeze(-1), 0.0)
        count = keep.sum(dim=1, keepdim=True).clamp(min=1).to(h.dtype)
        pooled = h.sum(dim=1) / count
        return self.head(pooled)


# ---------------------------------------------------------------------------------------------
# Helpers


def f32_list(a):
    """Flat list of Python floats that json writes as the shortest round-tripping decimal."""
    a = np.ascontiguousarray(np.asarray(a, dtype=np.float32)).reshape(-1)
    # str(np.float32) is the shortest decimal that reads back as this float32; as a Python float
    # it may differ from the float32's exact value, but it rounds back to the same float32.
    return [float(str(v)) for v in a]


def tensor_entry(t, datatype=None):
    t = t.detach().cpu()
    if datatype is None:
        datatype = {torch.float32: "FP32", torch.int64: "INT64"}[t.dtype]
    data = f32_list(t.numpy()) if datatype == "FP32" else [int(v) for v in t.reshape(-1).tolist()]
    return {"datatype": datatype, "shape": list(t.shape), "data": data}


def write_json(path, obj, indent=None):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=indent, separators=(",", ":") if indent is None else None)
        f.write("\n")
    os.replace(tmp, path)


def save_module(module, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    torch.jit.save(module, tmp)
    os.replace(tmp, path)


def write_config(out, name, overwrite):
    path = os.path.join(out, name, "config.pbtxt")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if os.path.exists(path) and not overwrite:
        with open(path) as f:
            same = f.read() == CONFIGS[name]
        return "kept" + ("" if same else " (differs from the generated one; --write-configs to overwrite)")
    with open(path, "w") as f:
        f.write(CONFIGS[name])
    return "written"


def run_loaded(path, *inputs):
    m = torch.jit.load(path)
    m.eval()
    with torch.inference_mode():
        return m, m(*inputs)


def mb(path):
    return os.path.getsize(path) / 1e6


# ---------------------------------------------------------------------------------------------
# Builders. Each returns (model.pt path, reference dict).


def build_mlp(model_pt, ref_dir):
    torch.manual_seed(0)
    module = torch.jit.script(MLP().eval())
    save_module(module, model_pt)

    g = torch.Generator().manual_seed(1)
    cases = []
    for name, b in (("batch1", 1), ("batch4", 4)):
        # Multiples of 1/256 in [0, 1): exact in float32 and short in JSON.
        x = torch.randint(0, 256, (b, 784), generator=g).to(torch.float32) / 256.0
        _, y = run_loaded(model_pt, x)
        cases.append({"name": name, "inputs": {"INPUT__0": tensor_entry(x)},
                      "outputs": {"OUTPUT__0": tensor_entry(y)}})
    # The seed's Locust payload, [0.1] * 784.
    x = torch.full((1, 784), 0.1, dtype=torch.float32)
    _, y = run_loaded(model_pt, x)
    cases.append({"name": "seed_locust_payload", "inputs": {"INPUT__0": tensor_entry(x)},
                  "outputs": {"OUTPUT__0": tensor_entry(y)}})
    return {"model": "mlp", "tolerance": {"atol": 1e-4, "rtol": 1e-4}, "cases": cases}


def load_digits_split():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    d = load_digits()
    x = (d.data / 16.0).astype(np.float32)
    y = d.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, random_state=0, stratify=y)


def build_digits(model_pt, ref_dir):
    x_tr, x_te, y_tr, y_te = load_digits_split()
    torch.manual_seed(0)
    model = DigitsMLP()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    xt, yt = torch.from_numpy(x_tr), torch.from_numpy(y_tr)
    g = torch.Generator().manual_seed(0)
    model.train()
    epochs, bs = 60, 64
    for _ in range(epochs):
        perm = torch.randperm(len(xt), generator=g)
        for i in range(0, len(xt), bs):
            idx = perm[i:i + bs]
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    save_module(torch.jit.script(model), model_pt)

    xe = torch.from_numpy(x_te)
    loaded, logits = run_loaded(model_pt, xe)
    pred = logits.argmax(dim=1).numpy()
    correct = int((pred == y_te).sum())
    acc = correct / len(y_te)
    with torch.inference_mode():
        train_acc = float((loaded(xt).argmax(dim=1) == yt).float().mean())
    print(f"  digits: {epochs} epochs, train accuracy {train_acc:.4f}, "
          f"test accuracy {acc:.4f} ({correct}/{len(y_te)})")
    if acc < 0.95:
        raise SystemExit(f"digits test accuracy {acc:.4f} < 0.95")

    np.savez(os.path.join(ref_dir, "digits_test.npz"), x=x_te, y=y_te)
    write_json(os.path.join(ref_dir, "digits_test.json"),
               {"x": [f32_list(row) for row in x_te], "y": [int(v) for v in y_te]})
    write_json(os.path.join(ref_dir, "digits_accuracy.json"),
               {"model": "digits", "accuracy": acc, "correct": correct, "n": int(len(y_te)),
                "train_accuracy": train_acc,
                "split": "train_test_split(test_size=0.25, random_state=0, stratify=y)"},
               indent=2)

    cases = []
    for name, lo, hi in (("batch1", 0, 1), ("batch4", 1, 5)):
        x = xe[lo:hi]
        _, y = run_loaded(model_pt, x)
        cases.append({"name": name, "inputs": {"pixels": tensor_entry(x)},
                      "outputs": {"logits": tensor_entry(y)},
                      "labels": [int(v) for v in y_te[lo:hi]]})
    return {"model": "digits", "tolerance": {"atol": 1e-4, "rtol": 1e-4}, "cases": cases}


def build_resnet18(model_pt, ref_dir):
    import torchvision
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    example = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        traced = torch.jit.trace(model, example)
    save_module(traced, model_pt)

    g = torch.Generator().manual_seed(3)
    cases = []
    for i, (name, b) in enumerate((("batch1", 1), ("batch2", 2))):
        x = torch.randn(b, 3, 224, 224, generator=g)
        with torch.inference_mode():
            eager = model(x)
        _, y = run_loaded(model_pt, x)
        err = float((eager - y).abs().max())
        assert err < 1e-4, f"traced resnet18 differs from eager at batch {b}: {err}"
        fname = f"resnet18_case{i}_INPUT__0.bin"
        x.numpy().astype("<f4").tofile(os.path.join(ref_dir, fname))
        cases.append({"name": name,
                      "inputs": {"INPUT__0": {"datatype": "FP32", "shape": list(x.shape),
                                              "data_file": fname}},
                      "outputs": {"OUTPUT__0": tensor_entry(y)}})
    return {"model": "resnet18", "tolerance": {"atol": 1e-3, "rtol": 1e-3}, "cases": cases}


def pad_batch(seqs, T):
    ids = torch.zeros(len(seqs), T, dtype=torch.int64)
    mask = torch.zeros(len(seqs), T, dtype=torch.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return ids, mask


def build_text(model_pt, ref_dir):
    torch.manual_seed(0)
    model = TextClassifier().eval()
    for p in model.parameters():
        p.requires_grad_(False)
    scripted = torch.jit.script(model)
    save_module(scripted, model_pt)

    g = torch.Generator().manual_seed(4)
    lengths = [5, 9, 12, 3]
    seqs = [torch.randint(1, 1000, (n,), generator=g) for n in lengths]
    single = torch.randint(1, 1000, (1, 8), generator=g)

    ids12, mask12 = pad_batch(seqs, 12)
    ids20, mask20 = pad_batch(seqs, 20)
    loaded = torch.jit.load(model_pt).eval()
    with torch.inference_mode():
        # Padding invariance: each sequence alone (no padding) == in a padded batch == padded more.
        alone = torch.cat([loaded(s.unsqueeze(0), torch.ones(1, len(s), dtype=torch.int64))
                           for s in seqs])
        out12 = loaded(ids12, mask12)
        out20 = loaded(ids20, mask20)
    # The saved module takes the fused CPU fast path of nn.TransformerEncoderLayer; check the
    # plain (slow) path too, which eager runs with grad-requiring parameters under grad mode.
    slow = copy.deepcopy(model)
    for p in slow.parameters():
        p.requires_grad_(True)
    with torch.enable_grad():
        slow_alone = torch.cat([slow(s.unsqueeze(0), torch.ones(1, len(s), dtype=torch.int64))
                                for s in seqs]).detach()
        slow12 = slow(ids12, mask12).detach()
        slow20 = slow(ids20, mask20).detach()
    worst = max(float((out12 - alone).abs().max()), float((out20 - alone).abs().max()),
                float((slow12 - slow_alone).abs().max()), float((slow20 - slow_alone).abs().max()))
    fast_vs_slow = float((slow_alone - alone).abs().max())
    assert fast_vs_slow < 1e-4, f"fast and slow Transformer paths differ by {fast_vs_slow}"
    assert torch.isfinite(out12).all() and torch.isfinite(out20).all()
    assert worst < 1e-5, f"text model is not padding-invariant: max |diff| = {worst}"
    print(f"  text: padding invariance holds (max |diff| {worst:.2e} over T=len, 12, 20; "
          f"fast vs slow path {fast_vs_slow:.2e})")

    cases = []
    ones = torch.ones_like(single)
    _, y = run_loaded(model_pt, single, ones)
    cases.append({"name": "batch1", "inputs": {"input_ids": tensor_entry(single),
                                               "attention_mask": tensor_entry(ones)},
                  "outputs": {"logits": tensor_entry(y)}})
    for name, ids, mask, out in (("batch4_padded_T12", ids12, mask12, out12),
                                 ("batch4_padded_T20", ids20, mask20, out20)):
        cases.append({"name": name, "inputs": {"input_ids": tensor_entry(ids),
                                               "attention_mask": tensor_entry(mask)},
                      "outputs": {"logits": tensor_entry(out)},
                      "lengths": lengths})
    return {"model": "text", "tolerance": {"atol": 1e-4, "rtol": 1e-4}, "cases": cases}


def io_metadata(tensors):
    """ptserve's I/O metadata for a package: names, datatypes, full shapes (-1 = dynamic)."""
    return json.dumps([{"name": n, "datatype": d, "shape": s} for n, d, s in tensors])


def save_aoti_package(module, args, dynamic_shapes, path, inputs, outputs):
    """torch.export + AOTInductor package at `path`, with ptserve's I/O metadata."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    # Exported with grad mode on (parameters requiring grad): nn.TransformerEncoderLayer's fused
    # inference fast path (aten._transformer_encoder_layer_fwd) cannot be exported; the plain
    # path is, and AOTInductor fuses it itself.
    with torch.enable_grad():
        ep = torch.export.export(module, args, dynamic_shapes=dynamic_shapes)
    tmp = path + ".tmp.pt2"
    torch._inductor.aoti_compile_and_package(
        ep, package_path=tmp,
        inductor_configs={"aot_inductor.metadata": {"ptserve.inputs": io_metadata(inputs),
                                                    "ptserve.outputs": io_metadata(outputs)},
                          # Kernels follow the serving thread's OpenMP setting (ptserve's
                          # INTRA_OP_THREAD_COUNT) instead of this machine's thread count.
                          "cpp.dynamic_threads": True})
    os.replace(tmp, path)


def run_package(path, *inputs):
    runner = torch._inductor.aoti_load_package(path)
    with torch.inference_mode():
        return runner(*inputs)


def build_mlp_aoti(model_pt2, ref_dir):
    torch.manual_seed(0)
    model = MLP().eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    save_aoti_package(model, (torch.randn(2, 784),), {"x": {0: batch}}, model_pt2,
                      [("INPUT__0", "FP32", [-1, 784])], [("OUTPUT__0", "FP32", [-1, 10])])
    g = torch.Generator().manual_seed(1)
    cases = []
    for name, b in (("batch1", 1), ("batch4", 4), ("batch64", 64)):
        x = torch.randint(0, 256, (b, 784), generator=g).to(torch.float32) / 256.0
        with torch.inference_mode():
            eager = model(x)
        y = run_package(model_pt2, x)
        err = float((eager - y).abs().max())
        assert err < 1e-4, f"mlp_aoti differs from eager at batch {b}: {err}"
        cases.append({"name": name, "inputs": {"INPUT__0": tensor_entry(x)},
                      "outputs": {"OUTPUT__0": tensor_entry(eager)}})
    return {"model": "mlp_aoti", "tolerance": {"atol": 1e-4, "rtol": 1e-4}, "cases": cases}


def build_text_aoti(model_pt2, ref_dir):
    torch.manual_seed(0)
    model = TextClassifier().eval()
    batch = torch.export.Dim("batch", min=1, max=32)
    seq = torch.export.Dim("seq", min=1, max=512)
    ids, mask = pad_batch([torch.arange(1, 6), torch.arange(1, 10)], 12)
    save_aoti_package(model, (ids, mask),
                      {"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}},
                      model_pt2,
                      [("input_ids", "INT64", [-1, -1]), ("attention_mask", "INT64", [-1, -1])],
                      [("logits", "FP32", [-1, 2])])
    g = torch.Generator().manual_seed(4)
    lengths = [5, 9, 12, 3]
    seqs = [torch.randint(1, 1000, (n,), generator=g) for n in lengths]
    cases = []
    for name, (i, m) in (("batch1", pad_batch(seqs[:1], 5)), ("batch4_padded_T12", pad_batch(seqs, 12)),
                         ("batch4_padded_T20", pad_batch(seqs, 20))):
        with torch.inference_mode():
            eager = model(i, m)
        y = run_package(model_pt2, i, m)
        err = float((eager - y).abs().max())
        assert err < 1e-4, f"text_aoti differs from eager ({name}): {err}"
        cases.append({"name": name, "inputs": {"input_ids": tensor_entry(i),
                                               "attention_mask": tensor_entry(m)},
                      "outputs": {"logits": tensor_entry(eager)}, "lengths": lengths})
    return {"model": "text_aoti", "tolerance": {"atol": 1e-4, "rtol": 1e-4}, "cases": cases}


BUILDERS = {"mlp": build_mlp, "digits": build_digits, "resnet18": build_resnet18,
            "text": build_text}
BUILDERS.update({"mlp_aoti": build_mlp_aoti, "text_aoti": build_text_aoti})


def main():
    # TorchScript writes a module's constants in Python set order, which depends on string hash
    # randomization; fix the hash seed so that the same arguments give byte-identical files.
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"
        os.execv(sys.executable, [sys.executable] + sys.argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(root, "examples", "models"))
    ap.add_argument("--reference", default=os.path.join(root, "examples", "reference"))
    ap.add_argument("--pytorch2-out", default=os.path.join(root, "examples", "pytorch2"),
                    help="repository for the PyTorch 2 examples (" + ",".join(PYTORCH2_MODELS) + ")")
    default_models = MODELS + (PYTORCH2_MODELS if aoti_available() else [])
    ap.add_argument("--models", default=",".join(default_models),
                    help="comma-separated subset of " + ",".join(MODELS + PYTORCH2_MODELS) +
                         " (the PyTorch 2 ones by default when this torch has AOTInductor)")
    ap.add_argument("--write-configs", action="store_true",
                    help="overwrite existing config.pbtxt files")
    args = ap.parse_args()

    names = [m for m in args.models.split(",") if m]
    unknown = [m for m in names if m not in BUILDERS]
    if unknown:
        ap.error(f"unknown model(s): {unknown}")
    if any(m in PYTORCH2_MODELS for m in names) and not aoti_available():
        ap.error(f"{','.join(PYTORCH2_MODELS)} need torch >= 2.6 with AOTInductor "
                 f"(this is {torch.__version__}): run in the Debian 13 root")

    torch.set_num_threads(2)
    # As ptserve does (TorchScriptBackend): Debian's torch 2.6 compiles TorchScript fusion groups
    # with LLVM after a few runs, which takes minutes; 1.13 does not fuse on the CPU.
    torch._C._jit_set_texpr_fuser_enabled(False)
    torch.manual_seed(0)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.reference, exist_ok=True)
    print(f"torch {torch.__version__}; repository {args.out}; reference {args.reference}")

    t_all = time.time()
    for name in names:
        t0 = time.time()
        out = args.pytorch2_out if name in PYTORCH2_MODELS else args.out
        cfg = write_config(out, name, args.write_configs)
        model_pt = os.path.join(out, name, "1",
                                "model.pt2" if name in PYTORCH2_MODELS else "model.pt")
        ref = BUILDERS[name](model_pt, args.reference)
        ref_path = os.path.join(args.reference, f"{name}.json")
        write_json(ref_path, ref)
        print(f"  {name}: config.pbtxt {cfg}; {os.path.basename(model_pt)} {mb(model_pt):.2f} MB; "
              f"{ref_path} ({len(ref['cases'])} cases); {time.time() - t0:.1f}s")
    print(f"done in {time.time() - t_all:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
