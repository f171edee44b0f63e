"""The shipped loopback rules (GL-NET-01 error in prod, GL-NET-02 warn elsewhere) on the shipped policies: what counts
as binding loopback, and what the check cannot see."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from mnops_assets.governance.kinds.loopback_bind import bound, loopback

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "127.0.0.1:{port}", "localhost", "LOCALHOST:8080", "::1", "[::1]:{port}", "unix:/run/a"]
)
def test_loopback_addresses(address):
    assert loopback(address)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "[::]:8000", "10.0.0.5", "0.0.0.0:{port}", "db.internal", ""])
def test_addresses_that_are_not_loopback(address):
    assert not loopback(address)


def test_bind_arguments_are_found_spaced_joined_and_inside_a_shell_line():
    flags = ["--bind", "-b", "--host"]
    assert bound(["gunicorn", "-b", "127.0.0.1:{port}", "app:wsgi"], flags) == ["127.0.0.1:{port}"]
    assert bound(["uvicorn", "app:api", "--host=0.0.0.0"], flags) == ["0.0.0.0"]
    assert bound(["sh", "-c", "exec server --bind '127.0.0.1' --port {port}"], flags) == ["127.0.0.1"]
    assert bound(["server", "--binder", "x", "--bind"], flags) == []  # another option; a flag with nothing after it
    assert bound(["python", "-b", "-m", "http.server", "{port}"], flags) == []  # Python's own -b takes no value


def shipped_with(estate_copy: Path, instance: str, api: str):
    from mnops_assets.governance import evaluate, load_governed

    platform = estate_copy / "platform-cloud" / instance / "platform.yaml"
    platform.write_text(platform.read_text() + api)
    estate, policies = load_governed(estate_copy)
    report = evaluate(estate.platforms, policies, policies.waivers, datetime.date(2026, 12, 1))
    return [f for f in report.findings if f.rule.startswith("GL-NET-") and f.target.startswith(f"{instance}/")], report


@pytest.mark.parametrize(
    ("command", "env", "message"),
    [
        ('[python, -m, http.server, "{port}"]', "", "command gives no address to listen on"),
        ('[python, -m, http.server, "{port}", --bind, 0.0.0.0]', "", "command binds '0.0.0.0'"),
        ("[sh, -c, 'exec server --host :: --port {port}']", "", "command binds '::'"),
        ('[server, "{port}"]', "env: {HOST: 0.0.0.0}", "env HOST is not a loopback address"),
    ],
)
def test_a_prod_service_on_local_not_bound_to_loopback_is_an_error(estate_copy, command, env, message):
    api = f"  extra:\n    contract: compute/v1\n    command: {command}\n" + (f"    {env}\n" if env else "")
    found, report = shipped_with(estate_copy, "prod", api)
    [finding] = found
    assert (finding.rule, finding.severity, finding.target) == ("GL-NET-01", "error", "prod/extra")
    assert message in finding.message
    if env:
        assert "0.0.0.0" not in finding.message  # values under env are never shown
    assert finding.location.file.endswith("platform-cloud/prod/platform.yaml") and not report.passed


def test_a_documented_env_variable_holding_loopback_passes(estate_copy):
    api = '  extra:\n    contract: compute/v1\n    command: [server, "{port}"]\n    env: {HOST: 127.0.0.1}\n'
    found, _ = shipped_with(estate_copy, "prod", api)
    assert found == []


def test_a_dev_service_without_a_bind_is_a_warning_and_deploys(estate_copy):
    api = '  extra:\n    contract: compute/v1\n    command: [python, -m, http.server, "{port}"]\n'
    [finding], report = shipped_with(estate_copy, "dev", api)
    assert (finding.rule, finding.severity) == ("GL-NET-02", "warn")
    assert report.passed
