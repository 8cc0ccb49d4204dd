#!/usr/bin/python3
"""config.pbtxt through protobuf: the one Python reader and writer of ptserve model configs.

The message classes are generated from src/config/model_config.proto (the schema the server
parses with) by `protoc` at first use, into a cache folder keyed by the .proto's content
($PTSERVE_CACHE_DIR, else $XDG_CACHE_HOME/ptserve, else ~/.cache/ptserve; a temporary folder
when none is writable). Needs Debian's python3-protobuf and protobuf-compiler
(scripts/setup.sh installs both).

    import ptserve_config as pc                    # tools/ on sys.path
    cfg = pc.load("examples/models/mlp/config.pbtxt")   # a ptserve.config.ModelConfig message
    cfg.max_batch_size = 32
    pc.set_parameters(cfg, {"OPTIMIZE": "true"})
    pc.save(cfg, "/tmp/config.pbtxt")

Text in, text out: what a program does not change is kept (every field, in the text format's
canonical layout); comments are not (protobuf's text format drops them).

Command line:
    tools/ptserve_config.py FILE...             checks each file, prints it in canonical form
    tools/ptserve_config.py --json FILE         the config as JSON (proto field names)
"""

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PROTO = os.path.join(ROOT, "src", "config", "model_config.proto")

_pb2 = None


class ConfigError(ValueError):
    """A config.pbtxt that does not parse (the message names the file, line and column)."""


def _cache_roots():
    if os.environ.get("PTSERVE_CACHE_DIR"):
        yield os.environ["PTSERVE_CACHE_DIR"]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    yield os.path.join(base, "ptserve")
    yield os.path.join(tempfile.gettempdir(), f"ptserve-cache-{os.getuid()}")


def pb2():
    """The generated model_config_pb2 module (generated and cached at first use)."""
    global _pb2
    if _pb2 is not None:
        return _pb2
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        raise ImportError("ptserve_config needs python3-protobuf (apt-get install python3-protobuf"
                          " protobuf-compiler, or scripts/setup.sh)") from None
    with open(PROTO, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    protoc = shutil.which("protoc")
    last_error = None
    for root in _cache_roots():
        folder = os.path.join(root, "proto2-" + digest)
        target = os.path.join(folder, "config", "model_config_pb2.py")
        if not os.path.exists(target):
            if protoc is None:
                raise ImportError("ptserve_config needs protoc (apt-get install protobuf-compiler)")
            try:
                os.makedirs(root, exist_ok=True)
                tmp = tempfile.mkdtemp(prefix="proto-", dir=root)
            except OSError as e:
                last_error = e
                continue
            try:
                # Named "config/model_config.proto", as the gRPC stubs (which import it) name it:
                # one process may load both, and protobuf's descriptor pool refuses one
                # package's messages under two file names.
                src = os.path.dirname(os.path.dirname(PROTO))
                subprocess.run([protoc, "-I", src, "--python_out", tmp,
                                os.path.relpath(PROTO, src)], check=True, capture_output=True,
                               text=True)
                try:
                    os.rename(tmp, folder)  # atomic: another process may have won the race
                except OSError:
                    pass
            except subprocess.CalledProcessError as e:
                raise ImportError(f"protoc failed on {PROTO}:\n{e.stderr}") from None
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        spec = importlib.util.spec_from_file_location("model_config_pb2", target)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _pb2 = module
        return module
    raise ImportError(f"no writable cache folder for the generated protobuf code: {last_error}")


def new():
    """An empty ModelConfig message."""
    return pb2().ModelConfig()


def loads(text, file_name="config.pbtxt"):
    """Parses config.pbtxt text into a ModelConfig; ConfigError on a syntax error or unknown field."""
    cfg = new()
    from google.protobuf import text_format
    try:
        text_format.Parse(text, cfg)
    except text_format.ParseError as e:
        raise ConfigError(f"{file_name}:{e}") from None
    return cfg


def load(path):
    with open(path, encoding="utf-8") as f:
        return loads(f.read(), path)


def dumps(cfg):
    from google.protobuf import text_format
    return text_format.MessageToString(cfg, use_short_repeated_primitives=True)


def save(cfg, path, header=None):
    """Writes cfg to path (through a temporary file and a rename). `header`: comment lines."""
    text = dumps(cfg)
    if header:
        text = "".join(f"# {line}\n" for line in header.splitlines()) + text
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".config.pbtxt.", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def parameters(cfg):
    """{key: string_value} of the config's parameters."""
    return {k: v.string_value for k, v in cfg.parameters.items()}


def set_parameters(cfg, params):
    """Sets (or, for a value None, removes) parameters; the others are kept."""
    for key, value in params.items():
        if value is None:
            if key in cfg.parameters:
                del cfg.parameters[key]
        else:
            cfg.parameters[key].string_value = str(value)
    return cfg


def data_type_name(value):
    """TYPE_FP32 etc. for a DataType enum value."""
    return pb2().DataType.Name(value)


def to_dict(cfg):
    from google.protobuf import json_format
    return json_format.MessageToDict(cfg, preserving_proto_field_name=True)


def main(argv):
    import json
    as_json = "--json" in argv
    files = [a for a in argv if a != "--json"]
    if not files:
        print(__doc__.strip().split("\n\n")[-1], file=sys.stderr)
        return 2
    rc = 0
    for path in files:
        try:
            cfg = load(path)
        except (ConfigError, OSError) as e:
            print(f"error: {e}", file=sys.stderr)
            rc = 1
            continue
        if len(files) > 1:
            print(f"# {path}")
        print(json.dumps(to_dict(cfg), indent=2) if as_json else dumps(cfg), end="\n" if as_json else "")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
