"""A fault-injecting HTTP proxy in front of a TLS registry, for relkit-image's tests.

Usage: registry_proxy.py UPSTREAM_PORT CA_FILE LOG_FILE FAULTS_JSON [BEARER]

Listens on a free loopback port (printed as the first line of stdout) and
forwards every request to https://127.0.0.1:UPSTREAM_PORT, trusting CA_FILE.
Each request is appended to LOG_FILE as "METHOD PATH STATUS" so tests can
count what a client sent. FAULTS_JSON is a list of rules tried in order:
  {"method": "PUT", "path": "/blobs/uploads/", "action": "503"|"429"|"drop",
   "times": N, "retry_after": S}
A matching rule with times left answers with its status (429 with
retry-after) or, for "drop", reads part of the body and closes the
connection without answering.

With BEARER="user:password", the proxy plays a token service: requests
without "Authorization: Bearer <token>" get a Bearer challenge whose realm is
the proxy's /token, which hands out the token for those Basic credentials;
forwarded requests carry the Basic credentials to the registry instead.
"""

import base64
import http.client
import http.server
import json
import socket
import ssl
import sys
import threading

UPSTREAM_PORT = int(sys.argv[1])
CA_FILE = sys.argv[2]
LOG_FILE = sys.argv[3]
FAULTS = json.loads(sys.argv[4])
BEARER = sys.argv[5] if len(sys.argv) > 5 else None
TOKEN = "relkit-test-token-0123456789"
LOCK = threading.Lock()
CONTEXT = ssl.create_default_context(cafile=CA_FILE)


def log(line):
    with LOCK:
        with open(LOG_FILE, "a", encoding="utf-8") as f:
            f.write(line + "\n")


def take_fault(method, path):
    with LOCK:
        for rule in FAULTS:
            if rule.get("times", 0) <= 0:
                continue
            if rule.get("method", method) != method:
                continue
            if rule.get("path", "") not in path:
                continue
            rule["times"] -= 1
            return rule
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def answer(self, status, headers=(), body=b""):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        log(f"{self.command} {self.path} {status}")

    def token(self):
        expected = "Basic " + base64.b64encode(BEARER.encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self.answer(401)
        self.answer(200, [("Content-Type", "application/json")], json.dumps({"token": TOKEN}).encode())

    def handle_any(self):
        if BEARER and self.path.startswith("/token"):
            return self.token()
        rule = take_fault(self.command, self.path)
        if rule is not None:
            action = rule["action"]
            if action == "drop":
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(min(length, 4096))
                log(f"{self.command} {self.path} dropped")
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            headers = [("Retry-After", str(rule.get("retry_after", 1)))] if action == "429" else []
            self.body()
            return self.answer(int(action), headers)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        if BEARER:
            headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            if self.headers.get("Authorization") != "Bearer " + TOKEN:
                self.body()
                realm = f'Bearer realm="http://127.0.0.1:{PORT}/token",service="relkit-test"'
                return self.answer(401, [("WWW-Authenticate", realm)])
            headers["Authorization"] = "Basic " + base64.b64encode(BEARER.encode()).decode()
        data = self.body()
        conn = http.client.HTTPSConnection("127.0.0.1", UPSTREAM_PORT, context=CONTEXT, timeout=60)
        conn.request(self.command, self.path, body=data if data or self.command in ("PUT", "PATCH", "POST") else None, headers=headers)
        res = conn.getresponse()
        payload = res.read()
        upstream = f"https://127.0.0.1:{UPSTREAM_PORT}"
        out = [
            (k, v.replace(upstream, f"http://127.0.0.1:{PORT}") if k.lower() == "location" else v)
            for k, v in res.getheaders()
            if k.lower() not in ("content-length", "connection", "transfer-encoding")
        ]
        conn.close()
        self.answer(res.status, out, payload)

    do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
PORT = server.server_address[1]
print(PORT, flush=True)
server.serve_forever()
