"""A forwarding server in front of moto that holds every call `latency` seconds and counts it, so that two tools in
processes of their own pay the same round trip and are counted the same way.

Run as `python -m benchmarks.peers.proxy TARGET LATENCY_MS`: it prints the URL it listens on, then serves until
stopped. `GET /__proxy__/calls` answers the counts since the last `POST /__proxy__/reset` as JSON, by service.
Standard library only: it runs in a process of its own, where its threads compete with nobody's for the GIL.
"""

from __future__ import annotations

import http.client
import json
import re
import sys
import threading
import time
import urllib.parse
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTROL = "/__proxy__/"
# Hop-by-hop headers are the proxy's own business; the body is always sent whole with its length.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade"}
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")


class Counts:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def add(self, service: str) -> None:
        with self.lock:
            self.calls[service] += 1

    def take(self, reset: bool) -> dict[str, int]:
        with self.lock:
            taken = dict(self.calls)
            if reset:
                self.calls.clear()
            return taken


def make_handler(target: str, latency: float, counts: Counts) -> type[BaseHTTPRequestHandler]:
    parsed = urllib.parse.urlsplit(target)
    local = threading.local()

    def upstream() -> http.client.HTTPConnection:
        # One kept-alive connection to moto per serving thread.
        if getattr(local, "connection", None) is None:
            local.connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=60)
        return local.connection

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body leave in separate writes: with Nagle's algorithm on, a kept-alive connection waits for the
        # client's delayed ACK (about 40 ms) between them, a round trip nobody asked the proxy to add.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
            pass

        def _control(self) -> None:
            body = json.dumps(counts.take(reset=self.command == "POST")).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            if self.path.startswith(CONTROL):
                self._control()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            scope = SCOPE.search(self.headers.get("Authorization", ""))
            counts.add(scope.group(1) if scope else "unsigned")
            time.sleep(latency)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            for attempt in (1, 2):
                connection = upstream()
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                    break
                except (http.client.HTTPException, OSError):
                    # moto closed a kept-alive connection: open another once.
                    connection.close()
                    local.connection = None
                    if attempt == 2:
                        raise
            self.send_response(response.status, response.reason)
            for key, value in response.getheaders():
                if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _forward

    return Forward


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256


def main() -> None:
    target, latency_ms = sys.argv[1], float(sys.argv[2])
    server = Server(("127.0.0.1", 0), make_handler(target, latency_ms / 1000, Counts()))
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
