"""scripts/setup.sh's package groups and the shell scripts' syntax (no installs, no builds)."""
import glob
import os
import subprocess

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def packages(*args, codename="bookworm"):
    r = subprocess.run(["bash", "scripts/setup.sh", *args, "--print"], cwd=ROOT, check=True,
                       capture_output=True, text=True,
                       env=dict(os.environ, PTSERVE_SETUP_CODENAME=codename))
    return set(r.stdout.split())


@pytest.mark.parametrize("codename", ["bookworm", "trixie"])
def test_setup_groups(codename):
    everything, serve = packages(codename=codename), packages("--serve", codename=codename)
    assert serve < everything
    # Building and serving: the compiler, libtorch, the example models' python packages.
    assert {"g++", "cmake", "ninja-build", "libtorch-dev", "python3-torch", "curl"} <= serve
    # Tests, fuzzing, benchmarks and docs are not the server's.
    for p in ["libgtest-dev", "clang", "python3-pytest", "python3-locust", "wrk", "prometheus",
              "chromium"]:
        assert p not in serve
    assert {"python3-protobuf", "protobuf-compiler", "libgtest-dev"} <= everything
    assert {"graphviz", "chromium"} <= packages("--docs", codename=codename)
    assert "chromium" not in everything


def test_setup_rejects_unknown_argument():
    r = subprocess.run(["bash", "scripts/setup.sh", "--bogus"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and "usage" in r.stderr


@pytest.mark.parametrize("path", sorted(glob.glob(os.path.join(ROOT, "scripts", "*.sh")) +
                                        glob.glob(os.path.join(ROOT, "scripts", "lib", "*.sh")) +
                                        glob.glob(os.path.join(ROOT, "bench", "*.sh"))),
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_shell_syntax(path):
    r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
