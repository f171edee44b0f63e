"""Secret values never leave the secret store: deploy, change, roll back, audit and inspect an instance with generated
and `env:` secrets, then search every CLI output and every byte under the state folder for the values."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from adapters.base import ResourceKey
from adapters.local.adapter import LocalAdapter

PLATFORM = """\
template: base
tier: dev
resources:
  api-key: {contract: secrets/v1, from: generate, length: 48}
  db-password: {contract: secrets/v1, from: "env:DB_PASSWORD", rotation_days: 30}
  api:
    contract: compute/v1
    command: [python, -m, http.server, "{port}", --bind, 127.0.0.1]
    replicas: %d
    env: {API_KEY: "secret:api-key", DB_PASSWORD: "secret:db-password"}
    health: {http: /, timeout_seconds: 20}
"""


def write_estate(root: Path, replicas: int) -> Path:
    estate = root / "ecosystem"
    files = {
        "ecosystem.yaml": "name: secret-estate\nproviders: {local: {default_region: local}}\n"
        "defaults: {provider: local, owner: team-vault}\n",
        "platform-templates/base.yaml": "description: empty\n",
        "platform-cloud/vault-demo/platform.yaml": PLATFORM % replicas,
    }
    for relative, body in files.items():
        path = estate / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(body))
    return estate


def test_no_secret_value_reaches_state_audit_logs_or_output(tmp_path):
    home = tmp_path / ".mnops"
    env_value = "s3cr3t-" + secrets.token_urlsafe(16)
    env = {**os.environ, "MNOPS_HOME": str(home), "DB_PASSWORD": env_value}
    env.pop("MNOPS_STATE_URL", None)
    estate = write_estate(tmp_path, replicas=1)
    outputs: list[str] = []

    def mnops(*args: str, code: int | None = 0) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "mnops_assets", *args]
            + ([] if args[0] == "validate" else ["--estate", str(estate)]),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        outputs.extend([result.stdout, result.stderr])
        if code is not None:
            assert result.returncode == code, result.stdout + result.stderr
        return result.stdout

    try:
        mnops("validate", str(estate))
        mnops("plan", "vault-demo", code=2)
        mnops("deploy", "vault-demo")
        write_estate(tmp_path, replicas=2)
        env["DB_PASSWORD"] = env_value + "-rotated"
        mnops("plan", "vault-demo", "--format", "json", code=2)
        mnops("deploy", "vault-demo", "--format", "json")
        mnops("drift", code=0)
        mnops("rollback", "vault-demo")
        mnops("history", "vault-demo", "--format", "json")
        mnops("audit", "list", "vault-demo", "--format", "json")
        mnops("audit", "verify")
        mnops("explain", "vault-demo", "resources")

        adapter = LocalAdapter(root=home / "local")
        generated = adapter.secrets.reveal(ResourceKey("vault-demo", "api-key"))
        assert len(generated) == 48
        values = [generated, env_value, env_value + "-rotated"]

        for output in outputs:
            for value in values:
                assert value not in output

        database = create_engine(f"sqlite:///{home / 'state.db'}")
        with database.connect() as conn:
            for table in inspect(conn).get_table_names():
                dump = "\n".join(str(tuple(row)) for row in conn.execute(text(f"SELECT * FROM {table}")))
                for value in values:
                    assert value not in dump, f"a secret value is in table {table}"
        database.dispose()

        for path in home.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                for value in values:
                    assert value.encode() not in content, f"a secret value is in {path}"
    finally:
        mnops("destroy", "vault-demo", code=None)
