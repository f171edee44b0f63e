"""A fault proxy: HTTP in front of an AWS endpoint (moto's server) that answers a share of requests itself, as AWS
and the network between do on a bad day, and forwards the rest.

Faults, chosen at random (seeded) for a `share` of requests: `500` (InternalError), `503` (ServiceUnavailable),
`throttle` (400 Throttling / ThrottlingException; S3 throttles with 503 SlowDown), `429` (TooManyRequestsException
with Retry-After), `reset-request` (the connection reset before the request reaches the endpoint) and
`reset-response` (the request forwarded and applied, then the connection reset instead of the answer: the client
cannot tell whether its call happened). Error bodies follow each service's protocol so botocore reads their codes:
JSON (an `X-Amz-Target` header), query (`Action=` in a form body; EC2's own envelope) and S3's REST XML.
"""

from __future__ import annotations

import http.client
import json
import random
import socket
import struct
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

FAULTS = ("500", "503", "throttle", "429", "reset-request", "reset-response")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "trailer", "upgrade"}


class FaultProxy:
    def __init__(self, upstream: str, share: float, seed: int = 19, faults: tuple[str, ...] = FAULTS) -> None:
        self.upstream = urlsplit(upstream)
        self.share = share
        self.faults = faults
        self.injected: Counter[str] = Counter()
        self.forwarded = 0
        self.enabled = True
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._local = threading.local()
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def total(self) -> int:
        return sum(self.injected.values())

    def pick(self, path: str) -> str | None:
        """The fault for this request, if any (counted), or None to forward it."""
        if not self.enabled or path.startswith("/moto-api"):
            return None
        with self._lock:
            if self._random.random() >= self.share:
                self.forwarded += 1
                return None
            fault = self._random.choice(self.faults)
            self.injected[fault] += 1
            return fault

    def forward(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, list, bytes]:
        """The upstream's answer, over a keep-alive connection of this thread's own."""
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
                self._local.connection = connection
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.getheaders(), response.read()
            except (http.client.HTTPException, OSError):
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                chunk = self.rfile.read(size)
                self.rfile.readline()
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _handle(self) -> None:
        body = self._body()
        fault = self.owner.pick(self.path)
        if fault == "reset-request":
            return self._reset()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        if fault is None or fault == "reset-response":
            status, answer_headers, answer = self.owner.forward(self.command, self.path, headers, body)
            if fault == "reset-response":
                return self._reset()
            self.send_response(status)
            for name, value in answer_headers:
                if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                    self.send_header(name, value)
        else:
            status, content_type, answer, extra = _error(fault, self.headers, body, self.path)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in extra.items():
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

    def _reset(self) -> None:
        """Close with RST (linger 0), as a dropped connection or a middlebox would."""
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.rfile.close()
        self.connection.close()


CODES = {
    # fault: (status, JSON __type, query Code, S3 Code)
    "500": (500, "InternalFailure", "InternalFailure", "InternalError"),
    "503": (503, "ServiceUnavailable", "ServiceUnavailable", "ServiceUnavailable"),
    "throttle": (400, "ThrottlingException", "Throttling", "SlowDown"),
    "429": (429, "TooManyRequestsException", "Throttling", "SlowDown"),
}


def _error(fault: str, headers, body: bytes, path: str) -> tuple[int, str, bytes, dict[str, str]]:
    status, json_code, query_code, s3_code = CODES[fault]
    message = "Rate exceeded" if fault in ("throttle", "429") else "injected by the fault proxy"
    extra = {"x-amzn-RequestId": "fault-proxy", "Retry-After": "1"} if fault == "429" else {}
    extra.setdefault("x-amzn-RequestId", "fault-proxy")
    if headers.get("X-Amz-Target"):
        document = json.dumps({"__type": json_code, "message": message}).encode()
        return status, "application/x-amz-json-1.1", document, extra
    form = body.decode("utf-8", "replace")
    if "Action=" in form:
        if "Version=2016-11-15" in form:  # EC2's own error envelope
            xml = f"<Response><Errors><Error><Code>{query_code if fault != 'throttle' else 'RequestLimitExceeded'}"
            xml += f"</Code><Message>{message}</Message></Error></Errors><RequestID>fault-proxy</RequestID></Response>"
        else:
            xml = f"<ErrorResponse><Error><Type>Sender</Type><Code>{query_code}</Code><Message>{message}</Message>"
            xml += "</Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
        return status, "text/xml", xml.encode(), extra
    # S3 (REST XML): it throttles with 503 SlowDown, never 400 or 429.
    s3_status = 503 if fault in ("throttle", "429") else status
    xml = f"<Error><Code>{s3_code}</Code><Message>{message}</Message><RequestId>fault-proxy</RequestId></Error>"
    return s3_status, "application/xml", xml.encode(), extra
