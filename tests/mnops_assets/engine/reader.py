"""A local service that reads a secret at its start and answers with its SHA-256: tests compare that with the stored
value's digest, proving which value the running process holds without the value going anywhere."""

from __future__ import annotations

import hashlib
import http.client
import json
import textwrap
from pathlib import Path

from adapters.base import ResourceKey
from adapters.local.adapter import LocalAdapter

SERVICE = textwrap.dedent("""\
    import hashlib, http.server, os, sys

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = hashlib.sha256(os.environ["API_KEY"].encode()).hexdigest().encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """)


def reader_spec(folder: Path, secret: str = "api-key") -> dict:
    """A compute/v1 resource running the service with `secret` as its API_KEY; the script is written to `folder`."""
    script = folder / "serve.py"
    script.write_text(SERVICE)
    return {
        "contract": "compute/v1",
        "command": ["python", str(script), "{port}"],
        "replicas": 1,
        "env": {"API_KEY": f"secret:{secret}"},
        "health": {"http": "/", "timeout_seconds": 20},
    }


def served_digest(adapter: LocalAdapter, key: ResourceKey) -> str:
    """What the service's replica answers: the digest of the value it started with."""
    [port] = json.loads((adapter.compute.folder(key) / "service.json").read_text())["ports"]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/")
        return connection.getresponse().read().decode()
    finally:
        connection.close()


def stored_digest(adapter: LocalAdapter, key: ResourceKey) -> str:
    return hashlib.sha256(adapter.secrets.reveal(key).encode()).hexdigest()
