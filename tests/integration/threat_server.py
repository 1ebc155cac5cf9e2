# Loopback fixtures for the t_threat_*.sh tests (Python standard library only).
#
#   threat_server.py jwks DIR    HTTP server; port in DIR/jwks.port; every request line is
#                                appended to DIR/jwks.log. GET /jwks answers according to
#                                DIR/mode (re-read per request): "ok" = DIR/serve.json,
#                                "big" = a valid JWKS padded past 2 MiB, "slow" = DIR/serve.json
#                                after 5 s, "500", "html", "empty" ({"keys":[]}). Any other
#                                path: 404 (and logged: tokens must never make us fetch).
#   threat_server.py upgrade DIR Raw TCP "API server" for CVE-2018-1002105 (threat-model
#                                case 14): port in DIR/up.port; answers every request head
#                                with 403 WITHOUT closing, then appends every byte it receives
#                                on that connection to DIR/up.bytes.
import http.server
import os
import socket
import socketserver
import sys
import threading
import time

mode_cmd, d = sys.argv[1], sys.argv[2]


def log(line):
    with open(os.path.join(d, "jwks.log"), "a") as f:
        f.write(line + "\n")


class Jwks(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body, ctype="application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=604800")
        self.end_headers()
        try:
            self.wfile.write(body)
        except OSError:
            pass

    def do_GET(self):
        log("GET " + self.path)
        if self.path.split("?")[0] != "/jwks":
            return self.send(404, b"{}")
        try:
            mode = open(os.path.join(d, "mode")).read().strip()
        except OSError:
            mode = "ok"
        good = open(os.path.join(d, "serve.json"), "rb").read()
        if mode == "big":
            pad = b'{"keys":[' + b'{"kty":"oct","k":"' + b"A" * (2 << 20) + b'"},'
            return self.send(200, pad + good[len(b'{"keys":['):])
        if mode == "slow":
            time.sleep(5)
            return self.send(200, good)
        if mode == "500":
            return self.send(500, b"oops")
        if mode == "html":
            return self.send(200, b"<html>maintenance</html>", "text/html")
        if mode == "empty":
            return self.send(200, b'{"keys":[]}')
        return self.send(200, good)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def upgrade_conn(c):
    c.settimeout(10)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                return
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        with open(os.path.join(d, "up.bytes"), "ab") as f:
            f.write(head + b"\r\n\r\n")
        body = b'{"kind":"Status","code":403}'
        c.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: "
                  + str(len(body)).encode() + b"\r\n\r\n" + body)
        # Keep the connection open: whatever arrives now would be a smuggled request.
        with open(os.path.join(d, "up.bytes"), "ab") as f:
            if rest:
                f.write(b"<<AFTER>>" + rest)
                f.flush()
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                f.write(b"<<AFTER>>" + chunk)
                f.flush()
    except OSError:
        pass
    finally:
        c.close()


if mode_cmd == "jwks":
    srv = Server(("127.0.0.1", 0), Jwks)
    with open(os.path.join(d, "jwks.port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(os.path.join(d, "jwks.port.tmp"), os.path.join(d, "jwks.port"))
    srv.serve_forever()
elif mode_cmd == "upgrade":
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    with open(os.path.join(d, "up.port.tmp"), "w") as f:
        f.write(str(ls.getsockname()[1]))
    os.rename(os.path.join(d, "up.port.tmp"), os.path.join(d, "up.port"))
    while True:
        c, _ = ls.accept()
        threading.Thread(target=upgrade_conn, args=(c,), daemon=True).start()
else:
    sys.exit("usage: threat_server.py jwks|upgrade DIR")
