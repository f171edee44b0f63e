"""Outputs and references end to end on the local provider, through the `mnops` command: a service started by mnops
reads its bucket, its queue, another platform's queue and its database from its environment and uses them (a real
query through the database URL, a real message through the queue); a producer's changed output restarts its consumer;
a consumer is refused before its producer is deployed; and the database's password appears in no output, state row,
audit record or file but the encrypted one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text

from adapters.base import ResourceKey
from adapters.local.adapter import LocalAdapter
from tests.conftest import POSTGRES_ADMIN_URL

ADMIN_URL = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")

# The service: on start, it creates a table through DATABASE_URL and writes a row, sends a message to its own queue and
# one to the shared queue (by inserting a plain row: see adapters/local/queues.py), lists its bucket folder, then serves
# what it saw (never the URL's password) over HTTP for the health check and the test.
SERVICE = textwrap.dedent("""\
    import http.server, json, os, sqlite3, sys, time, uuid
    from urllib.parse import urlsplit
    import psycopg

    def send(url, body):
        with sqlite3.connect(url, uri=True, timeout=30) as db:
            now = time.time()
            db.execute(
                "INSERT INTO messages (id, body, encrypted, sent_at, visible_at) VALUES (?, ?, 0, ?, ?)",
                (uuid.uuid4().hex, body.encode(), now, now),
            )

    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id serial PRIMARY KEY, item text)")
        # Once, even if the supervisor starts the service again.
        conn.execute(
            "INSERT INTO orders (item) SELECT 'written through DATABASE_URL' WHERE NOT EXISTS (SELECT 1 FROM orders)"
        )
    send(os.environ["QUEUE_URL"], "hello from the worker")
    send(os.environ["EVENTS_URL"], "an event for the shared bus")
    bucket = urlsplit(os.environ["BUCKET_URL"]).path
    seen = {
        "bucket_exists": os.path.isdir(bucket),
        "bucket_name": os.environ["BUCKET_NAME"],
        "log_name": os.environ["LOG_NAME"],
        "database_host": urlsplit(os.environ["DATABASE_URL"]).hostname,
    }

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps(seen).encode()
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
    """)

SHARED = """\
template: base
tier: dev
resources:
  events: {contract: queue/v1, retention_seconds: 3600}
"""

CONSUMER = """\
template: base
tier: dev
resources:
  uploads: {contract: storage/v1}
  jobs: {contract: queue/v1}
  app-logs: {contract: logging/v1}
  orders-db: {contract: database/v1, engine_version: "15", storage_gb: 5}
  worker:
    contract: compute/v1
    command: [%s, %s, "{port}"]
    env:
      BUCKET_URL: ref:uploads.url
      BUCKET_NAME: ref:uploads.name
      QUEUE_URL: ref:jobs.url
      LOG_NAME: ref:app-logs.name
      DATABASE_URL: ref:orders-db.url
      EVENTS_URL: ref:shared/events.url
      EVENTS_DLQ: ref:shared/events.dead_letter_url
    health: {http: /, timeout_seconds: 30}
"""


def write_estate(root: Path) -> Path:
    estate = root / "ecosystem"
    files = {
        "ecosystem.yaml": "name: wired\nproviders: {local: {default_region: local}}\n"
        "defaults: {provider: local, owner: team-wires}\n",
        "platform-templates/base.yaml": "description: empty\n",
        "platform-cloud/shared/platform.yaml": SHARED,
        "platform-cloud/shop/platform.yaml": CONSUMER
        % (json.dumps(sys.executable), json.dumps(str(root / "serve.py"))),
        "serve.py": SERVICE,
    }
    for relative, body in files.items():
        path = (root if relative == "serve.py" else estate) / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(body)
    return estate


@pytest.fixture
def cli(tmp_path):
    home = tmp_path / ".mnops"
    env = {**os.environ, "MNOPS_HOME": str(home), "MNOPS_LOCAL_POSTGRES_URL": ADMIN_URL}
    env.pop("MNOPS_STATE_URL", None)
    estate = write_estate(tmp_path)
    outputs: list[str] = []

    def mnops(*args: str, code: int | None = 0) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "mnops_assets", *args, "--estate", str(estate)],
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        outputs.extend([result.stdout, result.stderr])
        if code is not None:
            assert result.returncode == code, result.stdout + result.stderr
        return result.stdout

    mnops.home = home  # type: ignore[attr-defined]
    mnops.estate = estate  # type: ignore[attr-defined]
    mnops.outputs = outputs  # type: ignore[attr-defined]
    try:
        yield mnops
    finally:
        mnops("destroy", "shop", "--force", code=None)
        mnops("destroy", "shared", "--force", code=None)


def _service_saw(adapter: LocalAdapter) -> dict:
    import http.client

    port = json.loads((adapter.root / "compute" / "shop" / "worker" / "service.json").read_text())["ports"][0]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/")
    return json.loads(conn.getresponse().read())


@pytest.mark.slow
def test_a_service_reads_and_uses_the_outputs_it_references(cli):
    # The consumer first: its producer across platforms has never been deployed, so nothing is touched.
    cli("deploy", "shop", code=1)
    assert "deploy shared first" in cli.outputs[-1]
    adapter = LocalAdapter(root=cli.home / "local")
    assert adapter.observe("shop") == {}

    cli("deploy", "shared")
    assert "5 to create" in cli("plan", "shop", code=2)
    cli("deploy", "shop")

    saw = _service_saw(adapter)
    assert saw == {
        "bucket_exists": True,
        "bucket_name": "shop/uploads",
        "log_name": "shop/app-logs",
        "database_host": "127.0.0.1",
    }
    # A real row, written by the service through DATABASE_URL, read back here as the server's administrator.
    outputs = json.loads(cli("outputs", "shop", "--format", "json"))
    database = outputs["outputs"]["orders-db"]["name"]
    with psycopg.connect(ADMIN_URL.rsplit("/", 1)[0] + "/" + database) as conn:
        assert conn.execute("SELECT item FROM orders").fetchall() == [("written through DATABASE_URL",)]
    # Real messages, sent by the service through QUEUE_URL and EVENTS_URL, received through the drivers.
    [own] = adapter.queue.receive_messages(ResourceKey("shop", "jobs"))
    [event] = adapter.queue.receive_messages(ResourceKey("shared", "events"))
    assert own.body == b"hello from the worker" and event.body == b"an event for the shared bus"

    # Outputs are recorded, shown, kept by a no-op deploy; a sensitive one is where its value is kept.
    assert outputs["version"] == 1
    assert set(outputs["outputs"]["orders-db"]) == {"host", "port", "name", "user", "url"}
    assert outputs["outputs"]["orders-db"]["url"].startswith("file://")
    assert outputs["outputs"]["jobs"]["url"] == (adapter.root / "queue/shop/jobs/queue.db").as_uri()
    cli("deploy", "shop")
    assert json.loads(cli("outputs", "shop", "--format", "json")) == outputs

    password = adapter.database.reveal_output(ResourceKey("shop", "orders-db"), "url").split(":")[2].split("@")[0]
    assert len(password) >= 32
    _assert_nowhere(cli, password)


def _assert_nowhere(cli, password: str) -> None:
    cli("history", "shop", "--format", "json")
    cli("audit", "list", "shop", "--format", "json")
    cli("plan", "shop", "--format", "json", code=0)
    cli("explain", "shop", "resources")
    for output in cli.outputs:
        assert password not in output
    database = create_engine(f"sqlite:///{cli.home / 'state.db'}")
    with database.connect() as conn:
        for table in inspect(conn).get_table_names():
            dump = "\n".join(str(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}")))
            assert password not in dump, f"the database password is in table {table}"
    database.dispose()
    for path in cli.home.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), f"the database password is in {path}"


@pytest.mark.slow
def test_a_changed_output_of_the_producer_restarts_its_consumer(cli):
    cli("deploy", "shared")
    cli("deploy", "shop")
    adapter = LocalAdapter(root=cli.home / "local")
    worker = ResourceKey("shop", "worker")
    before = adapter.compute.running(worker)["supervisor"]
    assert cli("plan", "shop", code=0)  # in sync

    # The producer gains a dead-letter queue: its `dead_letter_url` output goes from empty to a URL.
    shared = cli.estate / "platform-cloud/shared/platform.yaml"
    shared.write_text(
        shared.read_text().replace(
            "retention_seconds: 3600}", "retention_seconds: 3600, dead_letter: {max_receives: 5}}"
        )
    )
    cli("deploy", "shared")
    plan = json.loads(cli("plan", "shop", "--format", "json", code=2))
    [step] = plan["steps"]
    assert (step["resource"], step["action"]) == ("worker", "update")
    [change] = step["changes"]
    assert change["field"] == "env" and change["after"]["EVENTS_DLQ"].endswith("queue.db#dead-letter")
    cli("deploy", "shop")
    assert adapter.compute.running(worker)["supervisor"] != before

    # A producer read by a deployed platform is not destroyed without --force, naming its reader.
    cli("destroy", "shared", code=1)
    assert "is read by deployed shop" in cli.outputs[-1]
    assert json.loads(cli("outputs", "shared", "--format", "json"))["version"] == 2
    # Destroyed all the same, the producer has no outputs to give: the consumer's next plan is refused, naming it.
    cli("destroy", "shared", "--force")
    cli("plan", "shop", code=1)
    assert "deploy shared first" in cli.outputs[-1]
