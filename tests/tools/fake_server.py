"""A stand-in for ptserve in tests of scripts/lib/server.sh: logs its ports like ptserve.
fake_server.py MODE [--http-port N] [--metrics-port N] [--management-port N]
MODE: ok (ready), never (health answers 503), die (exits 3 at once), failed (logs that a model
failed to load, health answers 503)."""
import http.server
import socketserver
import sys
import threading

mode, args = sys.argv[1], sys.argv[2:]
print("args:", " ".join(args), flush=True)
if mode == "die":
    print("error: model 'broken' failed to load", flush=True)
    sys.exit(3)


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if mode == "ok" else 503)
        self.end_headers()

    def log_message(self, *a):
        pass


def flag(name, default):
    for i, a in enumerate(args):
        if a == name:
            return int(args[i + 1])
        if a.startswith(name + "="):
            return int(a.split("=", 1)[1])
    return default


socketserver.TCPServer.allow_reuse_address = True  # as ptserve (Asio) does
servers = []
for what, name, default in [("HTTP server", "--http-port", 8000), ("metrics", "--metrics-port", -1),
                            ("management API", "--management-port", 8003)]:
    port = flag(name, default)
    if port < 0:
        continue
    s = socketserver.TCPServer(("127.0.0.1", port), Handler)
    print(f"[info] {what} listening on 127.0.0.1:{s.server_address[1]}", flush=True)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    servers.append(s)
if mode == "failed":
    print("[error] model 'broken' failed to load: not a ZIP archive", flush=True)
    print("[info] some models failed to load", flush=True)
threading.Event().wait()
