"""Hardening of the HTTP edge (issue 13): hostile inputs over raw sockets get their exact answer,
and afterwards the process is alive and still serves a normal request.

Covers: header size (431), chunk-extension floods (400), trailer floods (431), trailer fields that
try to override headers (request smuggling), slow clients (408 / close), the connection limit
(503, counted), the memory budget for request bodies (503 + Retry-After at once, counted, given
back), saturating timeouts (2^63-1 us is not an instant 504), bad timeouts (400), error bodies that
stay valid JSON/UTF-8 whatever bytes the request held, bounded JSON decoding, the management API's
cross-site defences (Origin, Host, Content-Type, token), and the PTSERVE_<FLAG> variables.
"""
import http.client
import json
import os
import re
import select
import socket
import threading
import time

import pytest

from ptserve_harness import Server, make_repository

MLP = "/v2/models/mlp/infer"
KB = 1024
MB = 1024 * 1024

# The limits of the main test server (small, so floods are detected quickly).
LIMIT_ARGS = ["--max-header-bytes", "8192", "--max-chunk-extension-bytes", "1024",
              "--max-trailer-bytes", "2048", "--max-inflight-bytes", str(256 * MB)]


def mlp_body(**parameters):
    body = {"inputs": [{"name": "INPUT__0", "datatype": "FP32", "shape": [1, 784],
                        "data": [0.5] * 784}]}
    if parameters:
        body["parameters"] = parameters
    return body


def predict_body():
    return json.dumps({"data": [0.1] * 784})


@pytest.fixture(scope="module")
def repo():
    return make_repository(["mlp"])


@pytest.fixture(scope="module")
def srv(repo):
    with Server(repository=repo, args=LIMIT_ARGS) as s:
        yield s


# Raw-socket helpers ---------------------------------------------------------------------------

def connect(server, timeout=10):
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send_all_until_closed(sock, chunks):
    """Sends each chunk; stops quietly once the server has closed or reset the connection."""
    for chunk in chunks:
        try:
            sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            return False
    return True


def flood(sock, chunks, timeout=30):
    """Sends `chunks` from a helper thread while this thread reads the answer (the server answers
    and closes long before the flood ends). Returns read_response's result."""
    sender = threading.Thread(target=send_all_until_closed, args=(sock, chunks), daemon=True)
    sender.start()
    response = read_response(sock, timeout=timeout)
    return response, sender


def read_response(sock, timeout=10):
    """Reads one HTTP response: (status, headers lower-cased, body bytes); None on EOF/reset
    before a status line."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
    except (ConnectionResetError, socket.timeout):
        return None
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    try:
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return status, headers, rest[:length]


def reads_eof(sock, timeout=10):
    """True when the server closes the connection (EOF or reset) without sending more."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def strict_json_error(body):
    """The error message of a JSON error body that must be strict UTF-8 and strict JSON."""
    text = body.decode("utf-8")  # raises on invalid UTF-8
    assert not re.search(r"[\x00-\x1f\x7f]", text), repr(text)
    return json.loads(text)["error"]


def rss_kb(server, field="VmRSS"):
    with open(f"/proc/{server.proc.pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def assert_alive_and_serving(server):
    assert server.proc.poll() is None, "ptserve died:\n" + server.log()[-4000:]
    status, _, data = server.request("POST", "/predict", predict_body())
    assert status == 200, data
    assert len(json.loads(data)["prediction"]) == 10
    status, _, data = server.request("POST", MLP, json.dumps(mlp_body()))
    assert status == 200, data


def metric(server, name, labels):
    _, _, data = server.request("GET", "/metrics")
    for line in data.decode().splitlines():
        series = line.split(" ", 1)[0]
        if series.split("{", 1)[0] != name:
            continue
        if all(f'{k}="{v}"' in series for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


CHUNKED_HEAD = (b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: t\r\n"
                b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n")


def chunked(body, head_extra=b"", trailer=b""):
    return (CHUNKED_HEAD + head_extra + b"\r\n" + b"%x\r\n" % len(body) + body + b"\r\n0\r\n"
            + trailer + b"\r\n")


# Header, chunk extension and trailer limits ---------------------------------------------------

@pytest.mark.parametrize("shape", ["one huge field", "many small fields", "huge target"])
def test_oversized_header_gets_431(srv, shape):
    sock = connect(srv)
    if shape == "one huge field":
        request = b"GET /v2 HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * (64 * KB) + b"\r\n\r\n"
    elif shape == "many small fields":
        request = (b"GET /v2 HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-F%d: v\r\n" % i for i in range(5000))
                   + b"\r\n")
    else:
        request = b"GET /" + b"a" * (32 * KB) + b" HTTP/1.1\r\nHost: t\r\n\r\n"
    response, sender = flood(sock, [request[i:i + 4096] for i in range(0, len(request), 4096)])
    assert response is not None
    status, headers, body = response
    assert status == 431
    assert "header" in strict_json_error(body)
    assert headers.get("connection") == "close"
    assert reads_eof(sock)
    assert_alive_and_serving(srv)


def test_header_just_under_the_limit_is_served(srv):
    status, _, _ = srv.request("GET", "/v2", headers={"X-Pad": "p" * 6000})
    assert status == 200


@pytest.mark.parametrize("where", ["data chunk", "last chunk"])
def test_chunk_extension_flood_gets_400_without_growing_memory(srv, where):
    before = rss_kb(srv)
    sock = connect(srv)
    size = b"5" if where == "data chunk" else b"0"
    sock.sendall(CHUNKED_HEAD + b"\r\n" + size + b";ext=")
    # 32 MB of extension on one chunk-size line, never finished: refused long before the end.
    filler = b"e" * (256 * KB)
    response, sender = flood(sock, (filler for _ in range(128)))
    assert response is not None
    status, _, body = response
    assert status == 400
    assert "chunk extension" in strict_json_error(body)
    assert reads_eof(sock)
    assert rss_kb(srv) - before < 16 * KB  # < 16 MB grown: the flood was not buffered
    assert_alive_and_serving(srv)


def test_many_small_chunk_extensions_get_400(srv):
    sock = connect(srv)
    chunks = b"".join(b"1;name=value-%d\r\na\r\n" % i for i in range(500))
    send_all_until_closed(sock, [CHUNKED_HEAD + b"\r\n", chunks, b"0\r\n\r\n"])
    status, _, body = read_response(sock)
    assert status == 400
    assert "chunk extension" in strict_json_error(body)
    assert_alive_and_serving(srv)


@pytest.mark.parametrize("shape", ["one huge field", "many fields", "unterminated"])
def test_trailer_flood_gets_431_without_growing_memory(srv, shape):
    before = rss_kb(srv)
    sock = connect(srv)
    sock.sendall(CHUNKED_HEAD + b"\r\n2\r\n{}\r\n0\r\n")
    if shape == "one huge field":
        pieces = [b"X-Trailer: "] + [b"t" * (256 * KB)] * 128
    elif shape == "many fields":
        pieces = [b"".join(b"X-T%d: v\r\n" % (i * 1000 + k) for k in range(1000)) for i in range(400)]
    else:
        pieces = [b"X-T: v\r\n" * 8192] * 64
    response, sender = flood(sock, pieces)
    assert response is not None
    status, _, body = response
    assert status == 431
    assert "trailer" in strict_json_error(body)
    assert reads_eof(sock)
    assert rss_kb(srv) - before < 16 * KB
    assert_alive_and_serving(srv)


def test_trailer_fields_never_override_headers(srv):
    """Request smuggling through trailers: X-Request-ID and X-Timeout-Us in the trailer must be
    ignored; the header's values count."""
    body = json.dumps(mlp_body()).encode()
    sock = connect(srv)
    sock.sendall(chunked(body, head_extra=b"X-Request-ID: from-header\r\n",
                         trailer=b"X-Request-ID: smuggled\r\nX-Timeout-Us: not-a-number\r\n"
                                 b"Inference-Header-Content-Length: 3\r\n"))
    status, headers, data = read_response(sock)
    assert status == 200, data
    assert headers["x-request-id"] == "from-header"
    # Without a header, a trailer-only X-Request-ID is not used either.
    sock.sendall(chunked(body, trailer=b"X-Request-ID: smuggled\r\n"))
    status, headers, data = read_response(sock)
    assert status == 200, data
    assert headers["x-request-id"] != "smuggled"
    # A trailer X-Timeout-Us: 1 does not make the request time out.
    sock.sendall(chunked(body, trailer=b"X-Timeout-Us: 1\r\n"))
    status, _, data = read_response(sock)
    assert status == 200, data
    sock.close()
    assert_alive_and_serving(srv)


FRAMING = {
    "content-length and chunked": b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "two content-lengths": b"Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "negative content-length": b"Content-Length: -5\r\n\r\n",
    "transfer-encoding gzip": b"Transfer-Encoding: gzip\r\n\r\n",
    "chunked not last": b"Transfer-Encoding: chunked, identity\r\n\r\n",
    "chunk size overflow": b"Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\n",
    "chunk size not hex": b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
    "content-length in trailer": b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nContent-Length: 99\r\n\r\n",
}


@pytest.mark.parametrize("name", list(FRAMING))
def test_ambiguous_framing_gets_400_and_nothing_is_smuggled(srv, name):
    """Requests whose body length is ambiguous are refused and the connection closed, so bytes
    after them are never parsed as a second request."""
    sock = connect(srv)
    smuggled = b"GET /v2/models/mlp HTTP/1.1\r\nHost: t\r\n\r\n"
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\n" + FRAMING[name] + smuggled)
    status, headers, body = read_response(sock)
    assert status == 400, body
    strict_json_error(body)
    assert headers.get("connection") == "close"
    assert reads_eof(sock)  # no second response
    assert_alive_and_serving(srv)


def test_body_over_the_request_limit_gets_413(repo):
    with Server(repository=repo, args=["--max-request-bytes", "4096"]) as s:
        sock = connect(s)
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
        status, _, body = read_response(sock)
        assert status == 413
        assert "exceeds" in strict_json_error(body)
        # Chunked: the chunk sizes count too.
        sock = connect(s)
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"ffffffff\r\n")
        status, _, _ = read_response(sock)
        assert status == 413
        assert_alive_and_serving(s)


# Wrong answers: timeouts and error bodies -----------------------------------------------------

HUGE = 2 ** 63 - 1


@pytest.mark.parametrize("how", ["parameters.timeout", "X-Timeout-Us", "both", "header beyond int64",
                                 "predict header"])
def test_huge_timeout_means_no_timeout_not_504(srv, how):
    headers = {}
    path, body = MLP, mlp_body()
    if how in ("parameters.timeout", "both"):
        body = mlp_body(timeout=HUGE)
    if how in ("X-Timeout-Us", "both"):
        headers["X-Timeout-Us"] = str(HUGE)
    if how == "header beyond int64":
        headers["X-Timeout-Us"] = "9" * 40
    if how == "predict header":
        path, body = "/predict", json.loads(predict_body())
        headers["X-Timeout-Us"] = str(HUGE)
    status, _, data = srv.request("POST", path, json.dumps(body), headers)
    assert status == 200, data


def test_timeout_beyond_int64_in_json_is_not_504(srv):
    status, _, data = srv.request("POST", MLP, json.dumps(mlp_body(timeout=2 ** 64 - 1)))
    assert status == 200, data


@pytest.mark.parametrize("value", ["-1", "-9223372036854775808", "1.5", "1e6", "soon", "0x10", "+"])
def test_bad_timeout_header_gets_400(srv, value):
    status, _, data = srv.request("POST", MLP, json.dumps(mlp_body()), {"X-Timeout-Us": value})
    assert status == 400
    assert "X-Timeout-Us" in strict_json_error(data)
    status, _, data = srv.request("POST", "/predict", predict_body(), {"X-Timeout-Us": value})
    assert status == 400


@pytest.mark.parametrize("value", [-1, -HUGE, 1.5, "5", None, [1], {"a": 1}])
def test_bad_timeout_parameter_gets_400(srv, value):
    status, _, data = srv.request("POST", MLP, json.dumps(mlp_body(timeout=value)))
    assert status == 400
    assert "timeout" in strict_json_error(data)


def raw_request(server, request):
    sock = connect(server)
    sock.sendall(request)
    response = read_response(sock)
    sock.close()
    return response


INVALID_BYTES = [b"\xff", b"\xfe\xfe", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80",
                 b"\x80abc", b"\xe2\x82"]


@pytest.mark.parametrize("bad", INVALID_BYTES, ids=[b.hex() for b in INVALID_BYTES])
def test_error_bodies_never_echo_invalid_utf8(srv, bad):
    body = json.dumps(mlp_body()).encode()
    cases = [
        # header values quoted in errors
        (b"POST " + MLP.encode() + b" HTTP/1.1\r\nHost: t\r\nX-Timeout-Us: 1" + bad
         + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body, 400),
        (b"POST " + MLP.encode() + b" HTTP/1.1\r\nHost: t\r\nInference-Header-Content-Length: "
         + bad + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body, 400),
        # a model name (percent-decoded from the path) quoted in a 404
        (b"GET /v2/models/" + b"".join(b"%%%02X" % c for c in bad) + b"x HTTP/1.1\r\nHost: t\r\n\r\n",
         (400, 404)),
        (b"POST /v2/models/m" + b"".join(b"%%%02X" % c for c in bad)
         + b"/infer HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}", (400, 404)),
        # raw bytes in the JSON body (simdjson rejects invalid UTF-8 inside strings)
        (b"POST " + MLP.encode() + b" HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
         % (len(b'{"id":"') + len(bad) + 2) + b'{"id":"' + bad + b'"}', 400),
    ]
    for request, status in cases:
        response = raw_request(srv, request)
        assert response is not None, request
        got, _, data = response
        assert got in (status if isinstance(status, tuple) else (status,)), (request, data)
        strict_json_error(data)
    assert_alive_and_serving(srv)


def test_error_bodies_escape_control_bytes(srv):
    response = raw_request(srv, b"GET /v2/models/a%01b%1Fc%7F%22%5C HTTP/1.1\r\nHost: t\r\n\r\n")
    status, _, data = response
    assert status in (400, 404)
    message = strict_json_error(data)  # raw control bytes would fail here
    if "a" in message and "b" in message:
        assert "\x01" in message or "a\x01b" not in message


# JSON decoding costs a bounded multiple of the body ------------------------------------------

@pytest.mark.parametrize("kind", ["deep nesting", "deep nesting in data", "many tiny numbers",
                                  "many empty strings", "many inputs"])
def test_json_decoding_is_bounded(srv, kind):
    if kind == "deep nesting":
        body = b"[" * (8 * MB)
    elif kind == "deep nesting in data":
        body = (b'{"inputs":[{"name":"INPUT__0","datatype":"FP32","shape":[1,784],"data":'
                + b"[" * (4 * MB) + b"0" + b"]" * (4 * MB) + b"}]}")
    elif kind == "many tiny numbers":
        body = (b'{"inputs":[{"name":"INPUT__0","datatype":"FP32","shape":[1,784],"data":['
                + b"0," * (8 * MB) + b'0]}]}')
    elif kind == "many empty strings":
        body = (b'{"inputs":[{"name":"INPUT__0","datatype":"BYTES","shape":[1],"data":['
                + b'"",' * (3 * MB) + b'""]}]}')
    else:
        one = b'{"name":"x","datatype":"FP32","shape":[0],"data":[]},'
        body = b'{"inputs":[' + one * (8 * MB // len(one)) + b'{"name":"y","shape":[0],"datatype":"FP32","data":[]}]}'
    peak_before = rss_kb(srv, "VmHWM")
    start = time.time()
    status, _, data = srv.request("POST", MLP, body, {"Content-Type": "application/json"})
    assert status == 400, data[:200]
    strict_json_error(data)
    assert time.time() - start < 30
    # simdjson's tape and string buffer are ~10x the document; allow 40x, never unbounded.
    grown_kb = rss_kb(srv, "VmHWM") - peak_before
    assert grown_kb < 40 * len(body) // 1024, (kind, grown_kb)
    assert_alive_and_serving(srv)


# Memory budget for request bodies -------------------------------------------------------------

def test_memory_budget_answers_503_at_once_and_gives_back(repo):
    with Server(repository=repo, args=["--max-inflight-bytes", str(1 * MB)]) as s:
        # A body larger than the whole budget: refused from its Content-Length, before it is sent.
        sock = connect(s)
        start = time.perf_counter()
        sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (2 * MB))
        status, headers, body = read_response(sock)
        took = time.perf_counter() - start
        assert status == 503
        assert headers["retry-after"] == "1"
        assert "memory budget" in strict_json_error(body)
        assert took < 0.5  # no waiting (the server side is < 1 ms; see bench numbers)
        # One body of 700 KB holds the budget while it arrives; a second one does not fit.
        holder = connect(s)
        payload = predict_body().encode()
        padded = payload + b" " * (700 * KB - len(payload))
        holder.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                       b"Content-Length: %d\r\n\r\n" % len(padded) + padded[:1000])
        time.sleep(0.2)
        assert metric(s, "ptserve_http_inflight_body_bytes", {}) >= 700 * KB
        second = connect(s)
        second.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (500 * KB))
        status, headers, _ = read_response(second)
        assert status == 503 and headers["retry-after"] == "1"
        # Chunked bodies are reserved chunk by chunk.
        third = connect(s)
        third.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                      b"%x\r\n" % (400 * KB))
        status, _, _ = read_response(third)
        assert status == 503
        # The first finishes and is answered; then its bytes are back and the next one fits.
        holder.sendall(padded[1000:])
        status, _, data = read_response(holder)
        assert status == 200, data
        for _ in range(50):
            if metric(s, "ptserve_http_inflight_body_bytes", {}) == 0:
                break
            time.sleep(0.05)
        assert metric(s, "ptserve_http_inflight_body_bytes", {}) == 0
        assert metric(s, "ptserve_http_inflight_body_limit_bytes", {}) == 1 * MB
        assert metric(s, "ptserve_http_rejected_total", {"reason": "memory_budget"}) == 3
        assert_alive_and_serving(s)


def test_memory_budget_holds_under_a_flood(repo):
    """Many clients announcing large bodies at once: all beyond the budget get 503 at once, the
    process does not grow by their announced sizes, and it still serves afterwards."""
    with Server(repository=repo, args=["--max-inflight-bytes", str(8 * MB),
                                       "--max-request-bytes", str(64 * MB)]) as s:
        before = rss_kb(s)
        socks = []
        refused = 0
        for _ in range(40):
            sock = connect(s)
            sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % (3 * MB)
                         + b"x" * (64 * KB))
            socks.append(sock)
        for sock in socks:
            sock.settimeout(0.5)
            response = None
            try:
                response = read_response(sock, timeout=0.5)
            except OSError:
                pass
            if response and response[0] == 503:
                refused += 1
        assert refused >= 37  # at most 2 fit in 8 MB (3 MB each)
        assert rss_kb(s) - before < 64 * KB
        for sock in socks:
            sock.close()
        assert_alive_and_serving(s)


# Connections and slow clients -----------------------------------------------------------------

def test_connection_limit_answers_503_and_counts(repo):
    with Server(repository=repo, args=["--max-connections", "4"]) as s:
        held = [connect(s) for _ in range(4)]
        time.sleep(0.2)
        extra = connect(s)
        response = read_response(extra, timeout=5)
        # 503 "too many connections" (or, at worst, closed at once)
        if response is not None:
            assert response[0] == 503
            assert "too many connections" in strict_json_error(response[2])
        else:
            assert reads_eof(extra, timeout=5)
        for sock in held:
            sock.close()
        time.sleep(0.3)
        assert metric(s, "ptserve_http_rejected_total", {"reason": "connection_limit"}) >= 1
        assert_alive_and_serving(s)


@pytest.fixture(scope="module")
def slow_srv(repo):
    with Server(repository=repo, args=["--http-header-timeout-secs", "1", "--http-body-timeout-secs", "2",
                                       "--http-idle-timeout-secs", "1"]) as s:
        yield s


def test_slow_header_gets_408(slow_srv):
    sock = connect(slow_srv)
    start = time.time()
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\n")  # header never finished
    status, _, body = read_response(sock, timeout=10)
    assert status == 408
    assert "header" in strict_json_error(body)
    assert 0.8 < time.time() - start < 5
    assert reads_eof(sock)
    assert_alive_and_serving(slow_srv)


def test_slowloris_header_trickle_gets_408(slow_srv):
    """A byte at a time, each within the idle timeout: the header deadline still ends it."""
    sock = connect(slow_srv)
    start = time.time()
    request = b"GET /v2 HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"s" * 100
    for i in range(len(request)):
        if not send_all_until_closed(sock, [request[i:i + 1]]):
            break
        readable, _, _ = select.select([sock], [], [], 0.05)
        if readable or time.time() - start > 4:
            break
    response = read_response(sock, timeout=5)
    assert response is not None and response[0] == 408
    assert time.time() - start < 3
    assert_alive_and_serving(slow_srv)


def test_slow_body_gets_408(slow_srv):
    sock = connect(slow_srv)
    start = time.time()
    sock.sendall(b"POST /predict HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n{\"data\":")
    status, _, body = read_response(sock, timeout=10)
    assert status == 408
    assert "body" in strict_json_error(body)
    assert 1.5 < time.time() - start < 6
    assert metric(slow_srv, "ptserve_http_rejected_total", {"reason": "body_timeout"}) >= 1
    assert_alive_and_serving(slow_srv)


def test_idle_keepalive_connection_is_closed(slow_srv):
    sock = connect(slow_srv)
    sock.sendall(b"GET /v2 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert read_response(sock)[0] == 200
    start = time.time()
    assert reads_eof(sock, timeout=10)
    assert 0.8 < time.time() - start < 5


def test_flags_have_environment_variables(repo, monkeypatch):
    monkeypatch.setenv("PTSERVE_MAX_HEADER_BYTES", "1024")
    monkeypatch.setenv("PTSERVE_MAX_CONNECTIONS", "2")
    monkeypatch.setenv("PTSERVE_MAX_INFLIGHT_BYTES", str(2 * MB))
    with Server(repository=repo) as s:
        status, _, _ = s.request("GET", "/v2", headers={"X-Pad": "p" * 2000})
        assert status == 431
        assert metric(s, "ptserve_http_inflight_body_limit_bytes", {}) == 2 * MB
        assert_alive_and_serving(s)


def test_help_lists_every_edge_flag():
    import subprocess
    from ptserve_harness import BINARY
    out = subprocess.run([BINARY, "--help"], capture_output=True, text=True, timeout=60).stdout
    for flag in ["--max-header-bytes", "--max-chunk-extension-bytes", "--max-trailer-bytes",
                 "--max-connections", "--http-idle-timeout-secs", "--http-header-timeout-secs",
                 "--http-body-timeout-secs", "--http-min-body-bytes-per-sec", "--max-inflight-bytes"]:
        assert flag in out
        assert "PTSERVE_" + flag[2:].upper().replace("-", "_") in out


# Management API: no cross-site control --------------------------------------------------------

def manage(server, path, body=b"", headers=None, port=None):
    conn = http.client.HTTPConnection("127.0.0.1", port or server.management_port, timeout=120)
    conn.putrequest("POST", path, skip_host=True, skip_accept_encoding=True)
    hdrs = {"Host": f"127.0.0.1:{port or server.management_port}"}
    hdrs.update(headers or {})
    for k, v in hdrs.items():
        if v is not None:
            conn.putheader(k, v)
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


def test_management_refuses_cross_origin(srv):
    own = f"http://127.0.0.1:{srv.management_port}"
    for origin in ["http://evil.example", "https://evil.example:8003", "null",
                   f"http://localhost.evil.example:{srv.management_port}", "http://127.0.0.1:1"]:
        status, data = manage(srv, "/v2/repository/models/mlp/unload", headers={"Origin": origin})
        assert status == 403, origin
        assert "origin" in strict_json_error(data).lower()
    status, data = manage(srv, "/v2/repository/index", headers={"Origin": own})
    assert status == 200, data
    status, data = manage(srv, "/v2/repository/index")  # no Origin: not a browser
    assert status == 200, data
    assert_alive_and_serving(srv)  # mlp is still loaded


def test_management_refuses_foreign_host_dns_rebinding(srv):
    for host in ["evil.example", f"evil.example:{srv.management_port}", "10.1.2.3",
                 f"127.0.0.1.nip.io:{srv.management_port}"]:
        status, data = manage(srv, "/v2/repository/models/mlp/unload", headers={"Host": host})
        assert status in (403, 421), host
        assert "host" in strict_json_error(data).lower()
    for host in ["localhost", f"localhost:{srv.management_port}", "127.0.0.1", "[::1]"]:
        status, data = manage(srv, "/v2/repository/index", headers={"Host": host})
        assert status == 200, (host, data)
    assert_alive_and_serving(srv)


def test_management_body_needs_json_content_type(srv):
    body = b'{"ready": false}'
    for ctype in [None, "text/plain", "application/x-www-form-urlencoded",
                  "multipart/form-data; boundary=x", "application/jsonx"]:
        status, data = manage(srv, "/v2/repository/index", body, {"Content-Type": ctype})
        assert status == 415, ctype
        assert "content-type" in strict_json_error(data).lower()
    status, data = manage(srv, "/v2/repository/models/mlp/unload", b"x", {"Content-Type": "text/plain"})
    assert status == 415
    for ctype in ["application/json", "application/json; charset=utf-8", "Application/JSON"]:
        status, data = manage(srv, "/v2/repository/index", body, {"Content-Type": ctype})
        assert status == 200, (ctype, data)
    status, data = manage(srv, "/v2/repository/index")  # empty body: no type needed
    assert status == 200
    assert_alive_and_serving(srv)


def test_management_token_is_required_and_checked(repo):
    with Server(repository=repo, args=["--management-token", "s3cret-token"]) as s:
        for auth in [None, "Bearer wrong", "Bearer s3cret-toke", "Bearer s3cret-token2",
                     "Basic s3cret-token", "s3cret-token"]:
            status, data = manage(s, "/v2/repository/models/mlp/unload", headers={"Authorization": auth})
            assert status == 401, auth
            strict_json_error(data)
        status, data = manage(s, "/v2/repository/index", headers={"Authorization": "Bearer s3cret-token"})
        assert status == 200, data
        # The cross-site checks apply even with a valid token.
        status, _ = manage(s, "/v2/repository/index", headers={"Authorization": "Bearer s3cret-token",
                                                                "Origin": "http://evil.example"})
        assert status == 403
        assert_alive_and_serving(s)

        # With a token the repository extension is on the inference port too (Triton's clients
        # call it there), listed in /v2, under the same token; any Host (the token guards it).
        status, meta = s.json("GET", "/v2")
        assert "model_repository" in meta["extensions"]
        good = {"Authorization": "Bearer s3cret-token", "Content-Type": "application/json"}
        status, _, data = s.request("POST", "/v2/repository/index", "{}",
                                    headers={"Content-Type": "application/json"})
        assert status == 401, data
        strict_json_error(data)
        status, _, data = s.request("POST", "/v2/repository/index", "{}",
                                    headers={**good, "Host": "ptserve.example.com"})
        assert status == 200 and any(m["name"] == "mlp" for m in json.loads(data)), data
        status, _, data = s.request("POST", "/v2/repository/index", "{}",
                                    headers={**good, "Origin": "http://evil.example"})
        assert status == 403, data
        status, _, data = s.request("POST", "/v2/repository/models/mlp/unload", "{}", headers=good)
        assert status == 200, data
        status, _, data = s.request("POST", "/v2/repository/models/mlp/load", "{}", headers=good)
        assert status == 200, data
        assert_alive_and_serving(s)
    # Without a token it stays on the management port only.
    with Server(repository=repo) as s:
        status, meta = s.json("GET", "/v2")
        assert "model_repository" not in meta["extensions"]
        status, _, _ = s.request("POST", "/v2/repository/index", "{}",
                                 headers={"Content-Type": "application/json"})
        assert status == 404
