"""The exit-code contract of every `mnops` command, as one table: 0 success, 1 failure or refusal, 2 changes or drift
(plan and drift only), 64 usage error. Every `--format json` document carries `format_version` 1."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from adapters.local.adapter import LocalAdapter
from mnops_assets.cli import app
from mnops_assets.cli.common import ExitCode

runner = CliRunner()


@dataclass
class World:
    estate: Path
    home: Path

    def mnops(self, *args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--estate", str(self.estate)], catch_exceptions=False)
        return result.exit_code, result.output

    def deploy(self, name: str) -> None:
        code, output = self.mnops("deploy", name, "--direct")
        assert code == 0, output

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.estate / relative
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))


def nothing(world: World) -> None:
    pass


def broken_dev(world: World) -> None:
    world.edit("platform-cloud/dev/platform.yaml", "retention_seconds: 86400", "retention_seconds: 5")


def untagged_prod_bucket(world: World) -> None:
    path = world.estate / "platform-cloud" / "prod" / "platform.yaml"
    path.write_text(path.read_text() + "  exports:\n    contract: storage/v1\n    versioning: true\n")


def stale_schema(world: World) -> None:
    (world.estate / "schemas" / "platform.schema.json").write_text("{}")


def broken_template(world: World) -> None:
    world.edit("platform-cloud/dev/platform.yaml", "template: web-service", "template: gone")


def deployed_dev(world: World) -> None:
    world.deploy("dev")


def deployed_prod(world: World) -> None:
    world.deploy("prod")


def dev_deployed_twice(world: World) -> None:
    world.deploy("dev")
    world.edit("platform-cloud/dev/platform.yaml", "retention_seconds: 86400", "retention_seconds: 7200")
    world.deploy("dev")


def dev_deployed_then_drifted(world: World) -> None:
    world.deploy("dev")
    local = LocalAdapter(root=world.home / "local")
    local.driver("queue/v1").delete(local.observe("dev")["jobs"])


def audit_tampered(world: World) -> None:
    world.deploy("dev")
    with sqlite3.connect(world.home / "state.db") as db:
        db.execute("UPDATE mnops_audit SET event = replace(event, 'dev', 'dov') WHERE seq = 2")


OK, FAILURE, CHANGES, USAGE = ExitCode.OK, ExitCode.FAILURE, ExitCode.CHANGES, ExitCode.USAGE

CASES: list[tuple[str, tuple[str, ...], Callable[[World], None], int]] = [
    # (id, arguments, setup, exit code)
    ("bare", (), nothing, USAGE),
    ("unknown-command", ("nosuch",), nothing, USAGE),
    ("validate", ("validate",), nothing, OK),
    ("validate-instance", ("validate", "dev"), nothing, OK),
    ("validate-invalid", ("validate",), broken_dev, FAILURE),
    ("validate-unknown-instance", ("validate", "nosuch"), nothing, USAGE),
    ("validate-bad-format", ("validate", "--format", "xml"), nothing, USAGE),
    ("validate-extra-argument", ("validate", "dev", "prod"), nothing, USAGE),
    ("explain", ("explain", "dev", "tags"), nothing, OK),
    ("explain-missing-key", ("explain", "dev"), nothing, USAGE),
    ("explain-unknown-key", ("explain", "dev", "resources.nothing"), nothing, USAGE),
    ("explain-unknown-instance", ("explain", "nosuch", "tags"), nothing, USAGE),
    ("explain-invalid", ("explain", "dev", "tags"), broken_dev, FAILURE),
    ("registry", ("registry",), nothing, OK),
    ("registry-extra-argument", ("registry", "dev"), nothing, USAGE),
    ("new-platform", ("new-platform", "fresh", "--from", "dev"), nothing, OK),
    ("new-platform-missing-from", ("new-platform", "fresh"), nothing, USAGE),
    ("new-platform-exists", ("new-platform", "prod", "--from", "dev"), nothing, USAGE),
    ("new-platform-invalid-copy", ("new-platform", "fresh", "--from", "dev"), broken_template, FAILURE),
    ("schema-check", ("schema", "--check"), nothing, OK),
    ("schema-check-stale", ("schema", "--check"), stale_schema, FAILURE),
    ("schema-unknown-flag", ("schema", "--bogus"), nothing, USAGE),
    ("enforce", ("enforce", "--as-of", "2026-12-01"), nothing, OK),
    ("enforce-failing", ("enforce", "--as-of", "2026-12-01"), untagged_prod_bucket, FAILURE),
    ("enforce-bad-date", ("enforce", "--as-of", "tomorrow"), nothing, USAGE),
    ("enforce-unknown-instance", ("enforce", "nosuch"), nothing, USAGE),
    ("plan-never-deployed", ("plan", "dev"), nothing, CHANGES),
    ("plan-deployed", ("plan", "dev"), deployed_dev, OK),
    ("plan-invalid", ("plan", "dev"), broken_dev, FAILURE),
    ("plan-unknown-instance", ("plan", "nosuch"), nothing, USAGE),
    ("plan-unknown-flag", ("plan", "dev", "--bogus"), nothing, USAGE),
    ("plan-estate-as-instance", ("plan", "."), nothing, USAGE),
    ("deploy", ("deploy", "dev", "--direct"), nothing, OK),
    ("deploy-refused-by-governance", ("deploy", "prod", "--direct"), untagged_prod_bucket, FAILURE),
    ("deploy-nothing-named", ("deploy",), nothing, USAGE),
    ("deploy-one-and-all", ("deploy", "dev", "--all"), nothing, USAGE),
    ("destroy", ("destroy", "dev"), deployed_dev, OK),
    ("destroy-protected", ("destroy", "prod"), deployed_prod, FAILURE),
    ("destroy-unknown-instance", ("destroy", "nosuch"), nothing, USAGE),
    ("rollback", ("rollback", "dev"), dev_deployed_twice, OK),
    ("rollback-never-deployed", ("rollback", "dev"), nothing, FAILURE),
    ("rollback-bad-version", ("rollback", "dev", "--to", "first"), nothing, USAGE),
    ("import-deployed", ("import", "dev"), deployed_dev, OK),
    ("import-refused", ("import", "dev", "--dry-run"), nothing, FAILURE),
    ("import-unknown-instance", ("import", "nosuch"), nothing, USAGE),
    ("unlock", ("unlock", "dev"), nothing, OK),
    ("unlock-missing-instance", ("unlock",), nothing, USAGE),
    ("drift-never-deployed", ("drift", "dev"), nothing, OK),
    ("drift-in-sync", ("drift", "dev"), deployed_dev, OK),
    ("drift-found", ("drift",), dev_deployed_then_drifted, CHANGES),
    ("drift-invalid", ("drift",), broken_dev, FAILURE),
    ("drift-unknown-instance", ("drift", "nosuch"), nothing, USAGE),
    ("history", ("history", "dev"), deployed_dev, OK),
    ("history-invalid", ("history", "dev"), broken_dev, FAILURE),
    ("history-missing-instance", ("history",), nothing, USAGE),
    ("outputs", ("outputs", "dev"), deployed_dev, OK),
    ("outputs-never-deployed", ("outputs", "dev"), nothing, OK),
    ("outputs-invalid", ("outputs", "dev"), broken_dev, FAILURE),
    ("outputs-unknown-instance", ("outputs", "nosuch"), nothing, USAGE),
    ("audit-nothing-named", ("audit",), nothing, USAGE),
    ("audit-list", ("audit", "list"), nothing, OK),
    ("audit-list-instance", ("audit", "list", "dev"), deployed_dev, OK),
    ("audit-list-unknown-instance", ("audit", "list", "nosuch"), nothing, USAGE),
    ("audit-verify", ("audit", "verify"), deployed_dev, OK),
    ("audit-verify-broken", ("audit", "verify"), audit_tampered, FAILURE),
    ("audit-verify-extra-argument", ("audit", "verify", "dev"), nothing, USAGE),
    ("maintain", ("maintain",), deployed_dev, OK),
    ("maintain-instance-never-deployed", ("maintain", "dev"), nothing, OK),
    ("maintain-invalid", ("maintain",), broken_dev, FAILURE),
    ("maintain-unknown-instance", ("maintain", "nosuch"), nothing, USAGE),
    ("maintain-unknown-flag", ("maintain", "--bogus"), nothing, USAGE),
    ("iam-policy", ("iam-policy", "aws", "--all"), nothing, OK),
    ("iam-policy-not-on-aws", ("iam-policy", "aws", "dev"), nothing, FAILURE),
    ("iam-policy-invalid", ("iam-policy", "aws", "--all"), broken_dev, FAILURE),
    ("iam-policy-unknown-provider", ("iam-policy", "nimbus", "--all"), nothing, USAGE),
    ("iam-policy-role", ("iam-policy", "gcp", "--all"), nothing, OK),
    ("iam-policy-no-instance", ("iam-policy", "aws"), nothing, USAGE),
]


@pytest.fixture
def world(estate_copy, tmp_path, monkeypatch):
    home = tmp_path / ".mnops"
    monkeypatch.setenv("MNOPS_HOME", str(home))
    monkeypatch.delenv("MNOPS_STATE_URL", raising=False)
    monkeypatch.chdir(estate_copy)
    yield World(estate_copy, home)
    if (home / "state.db").exists():
        runner.invoke(app, ["destroy", "--all", "--force", "--estate", str(estate_copy)])


@pytest.mark.parametrize(("args", "setup", "code"), [pytest.param(*case[1:], id=case[0]) for case in CASES])
def test_every_command_exits_by_the_contract(world, args, setup, code):
    setup(world)
    exit_code, output = world.mnops(*args)
    assert exit_code == code, output


def test_every_command_is_in_the_table():
    commands = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    tabled = {args[0] for _, args, _, _ in CASES if args}
    assert commands <= tabled, commands - tabled


JSON_CASES: list[tuple[tuple[str, ...], Callable[[World], None]]] = [
    (("validate",), nothing),
    (("validate",), broken_dev),
    (("explain", "dev", "tags"), nothing),
    (("registry",), nothing),
    (("schema", "--check"), nothing),
    (("enforce", "--as-of", "2026-12-01"), nothing),
    (("plan", "dev"), nothing),
    (("drift",), nothing),
    (("history", "dev"), nothing),
    (("outputs", "dev"), deployed_dev),
    (("unlock", "dev"), nothing),
    (("audit", "list"), nothing),
    (("audit", "verify"), nothing),
    (("rollback", "dev"), dev_deployed_twice),
    (("destroy", "dev"), nothing),
    (("deploy", "dev", "--direct"), nothing),
    (("import", "dev", "--dry-run"), nothing),
    (("new-platform", "fresh", "--from", "dev"), nothing),
    (("iam-policy", "aws", "--all"), nothing),
]


@pytest.mark.parametrize(
    ("args", "setup"), [pytest.param(*case, id="-".join((*case[0][:2], case[1].__name__))) for case in JSON_CASES]
)
def test_every_json_document_has_a_format_version(world, args, setup):
    setup(world)
    result = runner.invoke(app, [*args, "--format", "json", "--estate", str(world.estate)], catch_exceptions=False)
    document = json.loads(result.stdout)  # stdout alone: errors and verdicts go to stderr
    assert isinstance(document, dict) and document["format_version"] == 1, result.output


def test_help_exits_0_and_states_the_exit_codes():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "64 usage error" in " ".join(result.output.split())
    assert runner.invoke(app, ["plan", "--help"]).exit_code == 0
