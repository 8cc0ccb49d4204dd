"""scripts/lib/server.sh: free ports unless set, bounded and fail-fast readiness wait."""
import os
import socket
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FAKE = os.path.join(os.path.dirname(__file__), "fake_server.py")


def sh(script, env=None, timeout=60):
    e = dict(os.environ, FAKE=FAKE, PY=sys.executable)
    for k in list(e):
        if k.startswith("PTSERVE_"):
            del e[k]
    e.update(env or {})
    return subprocess.run(["bash", "-c", "set -euo pipefail; . scripts/lib/server.sh\n" + script],
                          cwd=ROOT, env=e, capture_output=True, text=True, timeout=timeout)


def test_port_args_fill_only_what_is_unset():
    r = sh('port_args P --metrics-port=9 --http-port 7; echo "[${P[*]}]"')
    assert r.stdout.strip() == "[--management-port 0]"
    r = sh('port_args P; echo "[${P[*]}]"', env={"PTSERVE_HTTP_PORT": "7"})
    assert r.stdout.strip() == "[--metrics-port 0 --management-port 0]"


def test_port_args_prefer_free_port_else_any():
    with socket.socket() as busy:
        busy.bind(("0.0.0.0", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            free = s.getsockname()[1]
        r = sh('port_args P; echo "[${P[*]}]"', env={"PTSERVE_PREFER_HTTP_PORT": str(free),
                                                     "PTSERVE_PREFER_MANAGEMENT_PORT": str(taken)})
        assert r.stdout.strip() == f"[--http-port {free} --metrics-port 0 --management-port 0]"


def test_start_wait_stop(tmp_path):
    log = tmp_path / "log"
    r = sh(f'''port_args P
start_server {log} "$PY" "$FAKE" ok "${{P[@]}}"
wait_ready $SERVER_PID {log} 20
echo "port $SERVER_PORT metrics $(log_port {log} metrics) mgmt $(log_port {log} "management API")"
stop_server $SERVER_PID 5
kill -0 $SERVER_PID 2>/dev/null && echo alive || echo stopped''')
    assert r.returncode == 0, r.stderr
    words = r.stdout.split()
    assert words[0] == "port" and int(words[1]) > 0 and int(words[3]) > 0 and int(words[5]) > 0
    assert words[-1] == "stopped"


def test_exit_before_ready_fails_fast_with_log(tmp_path):
    log = tmp_path / "log"
    t = time.time()
    r = sh(f'start_server {log} "$PY" "$FAKE" die; wait_ready $SERVER_PID {log} 60; echo unreachable')
    assert r.returncode == 1 and "unreachable" not in r.stdout
    assert time.time() - t < 20
    assert "exited with status 3" in r.stderr
    assert "model 'broken' failed to load" in r.stderr  # the server's last log lines


def test_not_ready_in_time_fails_and_stops_server(tmp_path):
    log = tmp_path / "log"
    r = sh(f'''start_server {log} "$PY" "$FAKE" never --http-port 0
echo $SERVER_PID > {tmp_path}/pid
wait_ready $SERVER_PID {log} 2''')
    assert r.returncode == 1
    assert "not ready within 2 s" in r.stderr and "HTTP server listening" in r.stderr
    pid = int((tmp_path / "pid").read_text())
    time.sleep(0.5)
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_wait_ready_on_a_url(tmp_path):
    log = tmp_path / "log"
    r = sh(f'''start_server {log} "$PY" "$FAKE" ok --http-port 0 --management-port -1
sleep 1; p=$(log_port {log} "HTTP server")
wait_ready $SERVER_PID {log} 20 "http://127.0.0.1:$p/health"; echo "$p $SERVER_PORT"
stop_server $SERVER_PID 5''')
    assert r.returncode == 0, r.stderr
    a, b = r.stdout.split()
    assert a == b


def test_failed_model_load_fails_fast(tmp_path):
    log = tmp_path / "log"
    t = time.time()
    r = sh(f'start_server {log} "$PY" "$FAKE" failed --http-port 0; wait_ready $SERVER_PID {log} 60')
    assert r.returncode == 1 and time.time() - t < 20
    assert "a model failed to load" in r.stderr and "not a ZIP archive" in r.stderr
    # PTSERVE_READY_WAIT_ON_FAILED_LOAD=1: waits (here: until the 2 s bound).
    r = sh(f'start_server {log} "$PY" "$FAKE" failed --http-port 0; wait_ready $SERVER_PID {log} 2',
           env={"PTSERVE_READY_WAIT_ON_FAILED_LOAD": "1"})
    assert r.returncode == 1 and "not ready within 2 s" in r.stderr
