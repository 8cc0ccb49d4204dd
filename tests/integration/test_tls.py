"""HTTPS on the HTTP port (--tls-cert, --tls-key, --tls-client-ca), certificate reload on SIGHUP,
and TLS on gRPC from the same flags. Certificates are made with openssl at test time."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import pytest

from ptserve_harness import BUILD, Server, make_repository, wait_for

HEALTHCHECK = os.path.join(BUILD, "src", "server", "ptserve-healthcheck")

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")

PREDICT = json.dumps({"data": [0.5] * 784})


def certificate(folder, name, cn=None):
    """A self-signed certificate (its own CA) for localhost; returns (cert path, key path)."""
    key, cert = os.path.join(folder, name + ".key"), os.path.join(folder, name + ".pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", key, "-out", cert, "-subj", f"/CN={cn or name}",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


def tls_context(ca, client=None):
    context = ssl.create_default_context(cafile=ca)
    if client:
        context.load_cert_chain(*client)
    return context


def https(server, context, timeout=30):
    return http.client.HTTPSConnection("localhost", server.port, timeout=timeout, context=context)


def call(conn, method, path, body=None):
    conn.request(method, path, body=body,
                 headers={"Content-Type": "application/json"} if body else {})
    resp = conn.getresponse()
    return resp.status, resp.read()


def served_certificate(port):
    """The DER of the certificate the server presents on a new connection."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


def der(cert_path):
    with open(cert_path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def healthcheck(server, *args, env=None):
    """Exit status of the image's HEALTHCHECK program against the server."""
    return subprocess.run([HEALTHCHECK, "ready", "--port", str(server.port), *args],
                          capture_output=True, timeout=30,
                          env={**os.environ, **(env or {})}).returncode


def metrics(server):
    port = int(re.search(r"metrics listening on [^\s]+:(\d+)", server.log()).group(1))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/metrics")
    return conn.getresponse().read().decode()


def rejected(server, reason):
    m = re.search(r'ptserve_http_rejected_total\{reason="%s"\} (\S+)' % reason, metrics(server))
    return float(m.group(1)) if m else 0.0


@pytest.fixture(scope="module")
def certs():
    folder = tempfile.mkdtemp(prefix="ptserve-tls-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_https_serves_and_refuses_what_is_not_tls(certs):
    cert, key = certificate(certs, "server")
    repo = make_repository(["mlp"])
    with Server(repo, args=["--tls-cert", cert, "--tls-key", key, "--metrics-port", "0"]) as s:
        assert "(HTTPS)" in s.log() and "gRPC server listening" in s.log() and "(TLS)" in s.log()
        conn = https(s, tls_context(cert))
        assert call(conn, "GET", "/v2/health/ready")[0] == 200
        for _ in range(3):  # keep-alive: one handshake, several requests
            status, body = call(conn, "POST", "/predict", PREDICT)
            assert status == 200, body
            assert len(json.loads(body)["prediction"]) == 10
        status, body = call(conn, "POST", "/v2/models/mlp/infer", json.dumps(
            {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 784],
                         "data": [0.5] * 784}]}))
        assert status == 200, body
        status, body = call(conn, "POST", "/predict", "{not json")  # bad input: 400 over TLS too
        assert status == 400 and "error" in json.loads(body)
        conn.close()

        # Plain HTTP on the HTTPS port: a plain-text 400 that says what to do, then closed.
        plain = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)
        plain.request("GET", "/v2/health/ready")
        resp = plain.getresponse()
        assert resp.status == 400 and "https" in json.loads(resp.read())["error"]
        # A client that does not trust the certificate, and garbage after a TLS record byte.
        with pytest.raises(ssl.SSLError):
            call(https(s, ssl.create_default_context()), "GET", "/v2/health/live")
        with socket.create_connection(("127.0.0.1", s.port), timeout=30) as raw:
            raw.sendall(b"\x16\x03\x01\x00\x05hello" + b"\x00" * 1000)
            raw.settimeout(30)
            assert raw.recv(4096) is not None  # closed (b"") or a TLS alert, never a hang
        wait_for(lambda: rejected(s, "tls_handshake") >= 3, timeout=30)
        # The container's probe: HTTPS by flag or when PTSERVE_TLS_CERT is set, as for ptserve.
        assert healthcheck(s, "--tls") == 0
        assert healthcheck(s, env={"PTSERVE_TLS_CERT": cert}) == 0
        assert healthcheck(s, "--no-tls") == 1
        assert s.proc.poll() is None
        assert call(https(s, tls_context(cert)), "GET", "/v2/health/live")[0] == 200


def test_handshake_is_bounded_by_the_header_timeout(certs):
    cert, key = certificate(certs, "slow")
    repo = make_repository(["mlp"])
    with Server(repo, args=["--tls-cert", cert, "--tls-key", key,
                            "--http-header-timeout-secs", "1"]) as s:
        with socket.create_connection(("127.0.0.1", s.port), timeout=30) as idle, \
                socket.create_connection(("127.0.0.1", s.port), timeout=30) as half:
            half.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
            start = time.time()
            assert idle.recv(1) == b""
            assert half.recv(1) == b""
            assert time.time() - start < 10
        assert call(https(s, tls_context(cert)), "GET", "/v2/health/live")[0] == 200


def test_mutual_tls(certs):
    cert, key = certificate(certs, "mserver")
    client = certificate(certs, "client")
    stranger = certificate(certs, "stranger")
    repo = make_repository(["mlp"])
    with Server(repo, args=["--tls-cert", cert, "--tls-key", key,
                            "--tls-client-ca", client[0]]) as s:
        assert "(HTTPS, mutual TLS)" in s.log()
        assert healthcheck(s, "--tls", "--client-cert", client[0], "--client-key", client[1]) == 0
        assert healthcheck(s, "--tls") == 1
        status, body = call(https(s, tls_context(cert, client)), "POST", "/predict", PREDICT)
        assert status == 200, body
        for who in (None, stranger):
            with pytest.raises((ssl.SSLError, ConnectionError)):
                conn = https(s, tls_context(cert, who))
                call(conn, "GET", "/v2/health/ready")
        assert s.proc.poll() is None


def test_sighup_reloads_the_certificate_without_dropping_connections(certs):
    first = certificate(certs, "first")
    second = certificate(certs, "second")
    live_cert, live_key = os.path.join(certs, "live.pem"), os.path.join(certs, "live.key")
    shutil.copy(first[0], live_cert)
    shutil.copy(first[1], live_key)
    repo = make_repository(["mlp"])
    with Server(repo, args=["--tls-cert", live_cert, "--tls-key", live_key]) as s:
        assert served_certificate(s.port) == der(first[0])
        old = https(s, tls_context(first[0]))
        assert call(old, "POST", "/predict", PREDICT)[0] == 200
        shutil.copy(second[0], live_cert)
        shutil.copy(second[1], live_key)
        s.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "HTTPS certificate reloaded" in s.log(), timeout=30)
        assert served_certificate(s.port) == der(second[0])
        # The connection made before the reload keeps working, on its old certificate.
        for _ in range(3):
            assert call(old, "POST", "/predict", PREDICT)[0] == 200
        assert call(https(s, tls_context(second[0])), "GET", "/v2/health/ready")[0] == 200

        # Bad files on SIGHUP: the error is logged and the current certificate stays.
        with open(live_cert, "w") as f:
            f.write("not a certificate\n")
        s.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "HTTPS keeps its current certificate" in s.log(), timeout=30)
        assert served_certificate(s.port) == der(second[0])
        shutil.copy(first[0], live_cert)  # matches neither key: refused too
        s.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: s.log().count("HTTPS keeps its current certificate") >= 2, timeout=30)
        assert served_certificate(s.port) == der(second[0])
        assert call(old, "POST", "/predict", PREDICT)[0] == 200
        assert s.proc.poll() is None
    # Without TLS a SIGHUP does not stop the server.
    with Server(repo) as s:
        s.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "nothing to reload" in s.log(), timeout=30)
        assert s.request("GET", "/v2/health/ready")[0] == 200


def test_bad_tls_flags_stop_the_start_with_the_reason(certs):
    cert, key = certificate(certs, "flags")
    other_cert, other_key = certificate(certs, "other")
    repo = make_repository(["mlp"])
    missing = os.path.join(certs, "missing.pem")
    for args, words in [(["--tls-cert", cert], "--tls-key"),
                        (["--tls-key", key], "--tls-cert"),
                        (["--tls-cert", missing, "--tls-key", key], missing),
                        (["--tls-cert", cert, "--tls-key", certs], "not a regular file"),
                        (["--tls-cert", cert, "--tls-key", other_key], "mismatch"),
                        (["--tls-cert", key, "--tls-key", key], "certificate"),
                        (["--tls-cert", cert, "--tls-key", key, "--tls-client-ca", missing],
                         "client CA")]:
        s = Server(repo, args=args)
        with pytest.raises(RuntimeError) as e:
            s.start()
        s.stop()
        assert words in str(e.value), (args, str(e.value)[-500:])
