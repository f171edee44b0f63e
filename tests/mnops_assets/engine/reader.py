"""A local service that reads a secret at its start and answers with its SHA-256: tests compare that with the stored
value's digest, proving which value the running process holds without the value going anywhere. Also an estate of one
instance, `shop`, running it, and a way to move the clock of the adapters a command or a Dagster run makes."""

from __future__ import annotations

import hashlib
import http.client
import json
import textwrap
import time
from pathlib import Path

import pytest

from adapters import registry
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


def write_shop_estate(root: Path, timeout_seconds: int = 20) -> Path:
    """An estate at `root` with one instance, `shop`: a secret rotated daily and the service reading it."""
    service = reader_spec(root.parent)
    files = {
        "ecosystem.yaml": "name: shop-estate\nproviders: {local: {default_region: local}}\n"
        "defaults: {provider: local, owner: team-shop}\n",
        "platform-templates/base.yaml": "description: empty\n",
        "platform-cloud/shop/platform.yaml": textwrap.dedent(f"""\
            template: base
            tier: dev
            resources:
              api-key: {{contract: secrets/v1, from: generate, rotation_days: 1}}
              api:
                contract: compute/v1
                command: {json.dumps(service["command"])}
                env: {{API_KEY: "secret:api-key"}}
                health: {{http: /, timeout_seconds: {timeout_seconds}}}
            """),
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def move_adapter_clocks(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Adapters made from now on (by a command, by a Dagster run) see the time `seconds` ahead, as the adapter tests'
    clocks do."""
    original = registry.create_adapter

    def create_adapter(name: str, **settings: object):  # noqa: ANN202 - whatever the original returns
        return original(name, clock=lambda: time.time() + seconds, **settings)

    monkeypatch.setattr(registry, "create_adapter", create_adapter)
