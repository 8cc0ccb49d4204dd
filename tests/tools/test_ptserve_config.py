"""tools/ptserve_config.py (config.pbtxt through protobuf) and ptserve-optimize --write-best's use
of it. Cheap: no server; the --write-best test makes a tiny TorchScript model."""
import glob
import os
import shutil
import subprocess
import sys

import pytest

import ptserve_config as pc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXAMPLE_CONFIGS = sorted(glob.glob(os.path.join(ROOT, "examples", "*", "*", "config.pbtxt")))

RICH = """
name: "rich"
platform: "pytorch_libtorch"
version_policy { specific { versions: [1, 3] } }
max_batch_size: 16
input [ { name: "x" data_type: TYPE_FP32 dims: [ -1, 4 ] } ]
output [ { name: "y" data_type: TYPE_FP32 dims: [ 2 ] } ]
dynamic_batching {
  max_queue_delay_microseconds: 250
  preferred_batch_size: [ 4, 8 ]
  priority_levels: 2
  default_priority_level: 1
  default_queue_policy { max_queue_size: 64 timeout_action: REJECT }
}
instance_group [ { count: 2 kind: KIND_CPU } ]
parameters { key: "INTRA_OP_THREAD_COUNT" value { string_value: "1" } }
parameters { key: "PAD_INPUTS" value { string_value: "x:0" } }
model_warmup [ { name: "w" batch_size: 2 inputs { key: "x" value { data_type: TYPE_FP32 dims: [ 3, 4 ] zero_data: true } } } ]
"""


def without_params(cfg, keys):
    copy = pc.new()
    copy.CopyFrom(cfg)
    for k in keys:
        if k in copy.parameters:
            del copy.parameters[k]
    return copy


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_examples_round_trip(path):
    cfg = pc.load(path)
    assert cfg.name == os.path.basename(os.path.dirname(path))
    again = pc.loads(pc.dumps(cfg))
    assert again == cfg


def test_set_parameters_keeps_everything_else(tmp_path):
    cfg = pc.loads(RICH)
    pc.set_parameters(cfg, {"OPTIMIZE": "true", "INTRA_OP_THREAD_COUNT": "2"})
    path = tmp_path / "config.pbtxt"
    pc.save(cfg, str(path), header="a header\nof two lines")
    text = path.read_text()
    assert text.startswith("# a header\n# of two lines\n")
    back = pc.load(str(path))
    assert pc.parameters(back) == {"OPTIMIZE": "true", "INTRA_OP_THREAD_COUNT": "2",
                                   "PAD_INPUTS": "x:0"}
    assert without_params(back, ["OPTIMIZE", "INTRA_OP_THREAD_COUNT"]) == \
        without_params(pc.loads(RICH), ["INTRA_OP_THREAD_COUNT"])
    assert list(back.version_policy.specific.versions) == [1, 3]
    assert list(back.dynamic_batching.preferred_batch_size) == [4, 8]
    pc.set_parameters(back, {"PAD_INPUTS": None})
    assert "PAD_INPUTS" not in pc.parameters(back)


def test_errors_name_file_and_line():
    with pytest.raises(pc.ConfigError, match=r"cfg\.pbtxt:2:"):
        pc.loads('name: "x"\nmax_batch_size: [\n', "cfg.pbtxt")
    with pytest.raises(pc.ConfigError, match="no_such_field"):
        pc.loads('name: "x"\nno_such_field: 1\n')


def test_command_line(tmp_path):
    tool = os.path.join(ROOT, "tools", "ptserve_config.py")
    out = subprocess.run([sys.executable, tool, "--json", EXAMPLE_CONFIGS[0]], check=True,
                         capture_output=True, text=True).stdout
    assert '"name"' in out
    bad = tmp_path / "bad.pbtxt"
    bad.write_text("name: [\n")
    r = subprocess.run([sys.executable, tool, str(bad)], capture_output=True, text=True)
    assert r.returncode == 1 and "bad.pbtxt:1:" in r.stderr


def test_optimize_write_best_preserves_config(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("numpy")
    model = tmp_path / "rich"
    (model / "1").mkdir(parents=True)
    torch.manual_seed(0)
    m = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2)).eval()
    torch.jit.save(torch.jit.script(m), str(model / "1" / "model.pt"))
    # Fixed dims: the tool's random inputs would make a -1 dimension 8 long.
    original = RICH.replace("dims: [ -1, 4 ]", "dims: [ 4 ]").replace("dims: [ 3, 4 ]", "dims: [ 4 ]")
    (model / "config.pbtxt").write_text(original)
    r = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "ptserve-optimize"),
                        "--model-dir", str(model), "--threads", "1", "--batch-sizes", "1,4",
                        "--seconds", "0.05", "--levers", "fp32,frozen", "--write", "frozen"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (model / "2" / "model.pt").exists()
    assert (model / "config.pbtxt.before-v2").read_text() == original
    written = (model / "config.pbtxt").read_text()
    assert "config.pbtxt.before-v2" in written.splitlines()[1]
    new = pc.loads(written)
    assert pc.parameters(new) == {"INTRA_OP_THREAD_COUNT": "1", "PAD_INPUTS": "x:0",
                                  "OPTIMIZE": "true", "PRECISION": "FP32", "QUANTIZATION": "NONE"}
    levers = ["OPTIMIZE", "PRECISION", "QUANTIZATION"]
    assert without_params(new, levers) == pc.loads(original)


@pytest.mark.parametrize("path", EXAMPLE_CONFIGS, ids=lambda p: os.path.relpath(p, ROOT))
def test_optimize_config_reader_on_examples(path, tmp_path):
    """ptserve-optimize's reader on copies of the example configs: inputs as the server sees them."""
    pytest.importorskip("torch")
    import importlib.machinery
    import importlib.util
    tool = os.path.join(ROOT, "tools", "ptserve-optimize")
    loader = importlib.machinery.SourceFileLoader("ptserve_optimize", tool)
    spec = importlib.util.spec_from_loader("ptserve_optimize", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    shutil.copy(path, tmp_path / "config.pbtxt")
    cfg = mod.parse_config(str(tmp_path / "config.pbtxt"))
    message = pc.load(path)
    assert cfg["max_batch_size"] == message.max_batch_size
    assert [i["name"] for i in cfg["inputs"]] == [i.name for i in message.input]
    assert [i["dims"] for i in cfg["inputs"]] == [list(i.dims) for i in message.input]
